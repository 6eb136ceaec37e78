/**
 * The samples an evaluation reads, fetched from the store. The engine builds one `EvaluationData`
 * per round; the rule editor's preview (preview.ts) builds one for a single expression, so a
 * preview sees exactly what the next round would see. Also (see the note at the end) the
 * webhook outbox's retry status that the alerts page shows.
 */
import { desc, eq } from "drizzle-orm";
import type { Database, Db } from "@/db/client";
import { fetchSeries, type StoredSeries } from "@/db/metrics";
import { notifications } from "@/db/schema";
import type { MetricName } from "@/lib/metrics";
import { DEFAULT_LOOKBACK_MS, selectorWindow, type ParsedExpr } from "./promql";

/**
 * Series that stay meaningful while a broker is down: its liveness itself, and the cluster view
 * (stored without a broker, but named here so the rule reads plainly).
 */
const KEPT_WHILE_DOWN = new Set<string>([
  "mqtt_broker_up",
  "mqtt_cluster_nodes_alive",
  "mqtt_cluster_nodes_expected",
] satisfies MetricName[]);

/**
 * The samples of one evaluation, fetched once per metric however many expressions read it, over
 * the widest window any selector of that metric needs (the evaluator ignores points outside each
 * selector's own window).
 *
 * A broker whose latest `mqtt_broker_up` is 0 has its other series dropped: they stop arriving
 * when it goes down, but the evaluator would keep using the last value for the 5-minute lookback,
 * so a saturated broker that crashed would stay "saturated" instead of only "down".
 */
export class EvaluationData {
  private readonly widthMs = new Map<string, number>();
  private readonly fetched = new Map<string, Promise<StoredSeries[]>>();
  private downBrokers: Promise<Set<string>> | null = null;

  /** `expressions`: every expression this evaluation will read, so each metric is fetched once. */
  constructor(
    private readonly database: Database,
    private readonly nowMs: number,
    expressions: Iterable<ParsedExpr>,
  ) {
    this.widthMs.set("mqtt_broker_up", DEFAULT_LOOKBACK_MS);
    for (const parsed of expressions) {
      for (const selector of parsed.selectors) {
        const { fromMs } = selectorWindow(selector, nowMs);
        this.widthMs.set(selector.metric, Math.max(this.widthMs.get(selector.metric) ?? 0, nowMs - fromMs));
      }
    }
  }

  /** The series of each selector of `parsed`, in order, as `evaluate` wants them. */
  async forExpr(parsed: ParsedExpr): Promise<StoredSeries[][]> {
    const down = await this.down();
    return Promise.all(
      parsed.selectors.map(async ({ metric }) => {
        const series = await this.fetch(metric);
        if (down.size === 0 || KEPT_WHILE_DOWN.has(metric)) return series;
        return series.filter((s) => !down.has(s.labels.broker));
      }),
    );
  }

  private fetch(metric: string): Promise<StoredSeries[]> {
    let series = this.fetched.get(metric);
    if (!series) {
      const width = this.widthMs.get(metric) ?? DEFAULT_LOOKBACK_MS;
      series = fetchSeries(this.database.db, metric, this.nowMs - width, this.nowMs);
      this.fetched.set(metric, series);
    }
    return series;
  }

  private down(): Promise<Set<string>> {
    this.downBrokers ??= this.fetch("mqtt_broker_up").then((series) => {
      const down = new Set<string>();
      // fetchSeries returns points oldest first.
      for (const s of series) if (s.labels.broker && s.points.at(-1)?.v === 0) down.add(s.labels.broker);
      return down;
    });
    return this.downBrokers;
  }
}

// ---------------------------------------------------------------------------------------------
// What became of the notifications the alerts sent: the alerts page's webhook tab.
// NOTE: this belongs beside `deliveryLog` in lib/notify/webhooks.ts; it lives here only because
// that file was being changed by another engineer at the time. Move it when convenient.

export interface OutboxEntryStatus {
  id: number;
  /** the `webhook-id` header, which the receiver's logs show too */
  messageId: string;
  groupKey: string;
  /** firing | resolved */
  status: string;
  /** pending | delivered | failed | cancelled */
  state: string;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  /** when a pending notification is tried again (or the end of a worker's lease while sending) */
  nextAttemptAt: Date | null;
  createdAt: Date;
  deliveredAt: Date | null;
}

/** One webhook's newest notifications with their retry status, newest first. */
export async function webhookOutbox(db: Db, webhookId: number, limit: number): Promise<OutboxEntryStatus[]> {
  const rows = await db
    .select({
      id: notifications.id,
      messageId: notifications.messageId,
      groupKey: notifications.groupKey,
      status: notifications.status,
      state: notifications.state,
      attempts: notifications.attempts,
      lastStatusCode: notifications.lastStatusCode,
      lastError: notifications.lastError,
      nextAttemptAt: notifications.nextAttemptAt,
      createdAt: notifications.createdAt,
      deliveredAt: notifications.deliveredAt,
    })
    .from(notifications)
    .where(eq(notifications.webhookId, webhookId))
    .orderBy(desc(notifications.createdAt), desc(notifications.id))
    .limit(limit);
  return rows.map((r) => ({ ...r, nextAttemptAt: r.state === "pending" ? r.nextAttemptAt : null }));
}
