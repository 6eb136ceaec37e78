/**
 * The samples an evaluation reads, fetched from the store. The engine builds one `EvaluationData`
 * per round; the rule editor's preview (preview.ts) builds one for a single expression, so a
 * preview sees exactly what the next round would see.
 */
import type { Database } from "@/db/client";
import { fetchSeries, type StoredSeries } from "@/db/metrics";
import type { MetricName } from "@/lib/metrics";
import { DEFAULT_LOOKBACK_MS, MAX_RANGE_SECONDS, selectorWindow, type ParsedExpr, type Selector } from "./promql";

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
        // A window the parser would refuse must not widen the fetch the other rules share:
        // that expression alone fails, in forExpr.
        if (windowProblem(selector) !== null) continue;
        const { fromMs } = selectorWindow(selector, nowMs);
        this.widthMs.set(selector.metric, Math.max(this.widthMs.get(selector.metric) ?? 0, nowMs - fromMs));
      }
    }
  }

  /** The series of each selector of `parsed`, in order, as `evaluate` wants them. */
  async forExpr(parsed: ParsedExpr): Promise<StoredSeries[][]> {
    for (const selector of parsed.selectors) {
      const problem = windowProblem(selector);
      if (problem !== null) throw new Error(problem);
    }
    const down = await this.down();
    return Promise.all(
      parsed.selectors.map(async ({ metric }) => {
        const series = await this.fetch(metric);
        if (down.size === 0 || KEPT_WHILE_DOWN.has(metric)) return series;
        return series.filter((s) => !down.has(s.labels.broker));
      }),
    );
  }

  /** Reads `metric` again at its next use: a recording rule has just stored new samples of it. */
  forget(metric: string): void {
    this.fetched.delete(metric);
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

/** Why a selector's window cannot be fetched (parseExpr refuses these; a rule built otherwise may not). */
function windowProblem(selector: Selector): string | null {
  const seconds = selector.rangeSeconds;
  if (seconds === null || (seconds > 0 && seconds <= MAX_RANGE_SECONDS)) return null;
  return `range of ${seconds}s for ${selector.metric} is outside 0s to ${MAX_RANGE_SECONDS}s`;
}
