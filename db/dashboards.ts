import "server-only";
import { and, asc, desc, eq, gt, gte, inArray, isNotNull, isNull, lte, sql } from "drizzle-orm";
import type { Db } from "./client";
import { listGaps } from "./gaps";
import { collectorGaps, connectionEvents, metricRollups, metricSamples } from "./schema";

/**
 * What the overview and the broker page read: chart series (raw samples for short ranges, the
 * 1-minute rollups for long ones), collector gaps, and who disconnects and why. Nothing here
 * touches a broker: every answer comes from what the collector already stored.
 */

/** `[t (ms), value]`, ascending by time: uPlot's shape, and compact as JSON. */
export type ChartPoint = [number, number];

export type SeriesSource = { kind: "raw"; maxPoints?: number } | { kind: "rollup"; stepMs: number };

export interface ChartSeriesQuery {
  broker: string;
  metrics: readonly string[];
  /** exclusive */
  from: Date;
  /** inclusive */
  to: Date;
  source: SeriesSource;
}

export interface ChartGap {
  start: number;
  /** null while the collector still cannot see the broker */
  end: number | null;
  reason: string;
}

export interface ChartData {
  from: number;
  to: number;
  /** what one point stands for: a raw sample (possibly averaged when there are very many) or a rollup step */
  resolution: "raw" | `${number}m`;
  series: Record<string, ChartPoint[]>;
  gaps: ChartGap[];
}

/** A point of one node's series before the nodes are summed. */
export interface NodePoint {
  node: string;
  t: number;
  v: number;
}

const MINUTE = 60_000;
/** Raw ranges are averaged down to about this many points: more than a chart is wide is noise. */
const DEFAULT_MAX_RAW_POINTS = 1200;
/**
 * A node's last value counts towards the broker's total for this long after it was sampled.
 * EMQX publishes `$SYS` stats once a minute by default (`sys_msg_interval`), so three intervals
 * ride over a late message without keeping a dead node's value forever.
 */
const RAW_NODE_STALE_MS = 3 * MINUTE;
/** When no rollup exists yet in a rollup range, at most this much recent raw data stands in. */
const RAW_TAIL_MAX_MS = 2 * 3600_000;

/**
 * Series of one broker's unlabelled gauges for a chart: per metric, nodes summed (an EMQX broker
 * reports per node; a single broker has one node), and the collector's gaps in the window.
 *
 * Rollup ranges are bucketed to `stepMs` from the 1-minute rollups (weighted by sample count), and
 * the minutes the rollup job has not reached yet (it runs once a minute, one minute behind) are
 * filled from raw samples, so a 24 h chart ends at "now" like the 15 min one.
 */
export async function chartSeries(db: Db, q: ChartSeriesQuery): Promise<ChartData> {
  const [series, gaps] = await Promise.all([
    q.source.kind === "raw" ? rawChartSeries(db, q, q.source.maxPoints) : rollupChartSeries(db, q, q.source.stepMs),
    listGaps(db, q.broker, q.from, q.to),
  ]);
  return {
    from: q.from.getTime(),
    to: q.to.getTime(),
    resolution: q.source.kind === "raw" ? "raw" : `${Math.round(q.source.stepMs / MINUTE)}m`,
    series,
    gaps: gaps
      .map((g) => ({ start: g.startedAt.getTime(), end: g.endedAt?.getTime() ?? null, reason: g.reason }))
      .sort((a, b) => a.start - b.start),
  };
}

/** Only the broker-wide gauges: labelled samples (disconnects by reason) are other series. */
const unlabelled = sql`${metricSamples.labels} = '{}'::jsonb`;

async function rawChartSeries(
  db: Db,
  q: ChartSeriesQuery,
  maxPoints = DEFAULT_MAX_RAW_POINTS,
): Promise<Record<string, ChartPoint[]>> {
  const rows = await db
    .select({
      metric: metricSamples.metric,
      node: metricSamples.node,
      ts: metricSamples.ts,
      value: metricSamples.value,
    })
    .from(metricSamples)
    .where(
      and(
        eq(metricSamples.broker, q.broker),
        inArray(metricSamples.metric, [...q.metrics]),
        gt(metricSamples.ts, q.from),
        lte(metricSamples.ts, q.to),
        unlabelled,
      ),
    )
    .orderBy(asc(metricSamples.ts));
  const byMetric = groupByMetric(rows.map((r) => ({ metric: r.metric, node: r.node, t: r.ts.getTime(), v: r.value })));
  const out: Record<string, ChartPoint[]> = {};
  for (const metric of q.metrics) {
    const points = sumNodes(byMetric.get(metric) ?? [], RAW_NODE_STALE_MS);
    out[metric] = downsample(points, q.from.getTime(), q.to.getTime(), maxPoints);
  }
  return out;
}

async function rollupChartSeries(db: Db, q: ChartSeriesQuery, stepMs: number): Promise<Record<string, ChartPoint[]>> {
  // Inlined, not bound: GROUP BY must repeat the SELECT's expression exactly, and two bound
  // parameters ($1, $2) are different expressions to Postgres. It is a number we computed.
  const step = sql.raw(String(Number(stepMs) / 1000));
  const rollupBucket = sql<Date>`to_timestamp(floor(extract(epoch from ${metricRollups.bucket}) / ${step}) * ${step})`;
  const rollups = await db
    .select({
      metric: metricRollups.metric,
      node: metricRollups.node,
      t: rollupBucket.mapWith(metricRollups.bucket),
      // the average over the step, each minute weighted by how many samples it holds
      v: sql<number>`sum(${metricRollups.avg} * ${metricRollups.count}) / sum(${metricRollups.count})`.mapWith(Number),
      n: sql<number>`sum(${metricRollups.count})`.mapWith(Number),
      newest: sql<Date>`max(${metricRollups.bucket})`.mapWith(metricRollups.bucket),
    })
    .from(metricRollups)
    .where(
      and(
        eq(metricRollups.broker, q.broker),
        inArray(metricRollups.metric, [...q.metrics]),
        gte(metricRollups.bucket, q.from),
        lte(metricRollups.bucket, q.to),
        sql`${metricRollups.labels} = '{}'::jsonb`,
      ),
    )
    .groupBy(metricRollups.metric, metricRollups.node, rollupBucket);

  // The rollup job lags a minute or two behind; the minutes after its newest bucket come from raw samples.
  const newestRollup = Math.max(-Infinity, ...rollups.map((r) => r.newest.getTime()));
  const tailFrom = Number.isFinite(newestRollup)
    ? newestRollup + MINUTE
    : Math.max(q.from.getTime(), q.to.getTime() - RAW_TAIL_MAX_MS);
  const sampleBucket = sql<Date>`to_timestamp(floor(extract(epoch from ${metricSamples.ts}) / ${step}) * ${step})`;
  const tail =
    tailFrom > q.to.getTime()
      ? []
      : await db
          .select({
            metric: metricSamples.metric,
            node: metricSamples.node,
            t: sampleBucket.mapWith(metricSamples.ts),
            v: sql<number>`avg(${metricSamples.value})`.mapWith(Number),
            n: sql<number>`count(*)`.mapWith(Number),
          })
          .from(metricSamples)
          .where(
            and(
              eq(metricSamples.broker, q.broker),
              inArray(metricSamples.metric, [...q.metrics]),
              gte(metricSamples.ts, new Date(tailFrom)),
              lte(metricSamples.ts, q.to),
              unlabelled,
            ),
          )
          .groupBy(metricSamples.metric, metricSamples.node, sampleBucket);

  // A step bucket can hold both rolled-up minutes and raw tail minutes: merge them by sample count.
  const merged = new Map<string, { metric: string; node: string; t: number; sum: number; n: number }>();
  for (const r of [...rollups, ...tail]) {
    const t = r.t.getTime();
    const key = `${r.metric}\u0000${r.node}\u0000${t}`;
    const m = merged.get(key) ?? { metric: r.metric, node: r.node, t, sum: 0, n: 0 };
    m.sum += r.v * r.n;
    m.n += r.n;
    merged.set(key, m);
  }
  const points = [...merged.values()]
    .filter((m) => m.n > 0)
    .map((m) => ({ metric: m.metric, node: m.node, t: m.t, v: m.sum / m.n }))
    .sort((a, b) => a.t - b.t);
  const byMetric = groupByMetric(points);
  const out: Record<string, ChartPoint[]> = {};
  for (const metric of q.metrics) out[metric] = sumNodes(byMetric.get(metric) ?? [], 2 * stepMs);
  return out;
}

function groupByMetric(rows: (NodePoint & { metric: string })[]): Map<string, NodePoint[]> {
  const out = new Map<string, NodePoint[]>();
  for (const r of rows) {
    let list = out.get(r.metric);
    if (!list) out.set(r.metric, (list = []));
    list.push({ node: r.node, t: r.t, v: r.v });
  }
  return out;
}

/**
 * One broker-wide series from per-node series sorted by time: at each time, the sum of every
 * node's latest value not older than `staleMs`. Nodes publish at different instants, so summing
 * only the samples that share a timestamp would plot one node at a time.
 */
export function sumNodes(points: readonly NodePoint[], staleMs: number): ChartPoint[] {
  const latest = new Map<string, { t: number; v: number }>();
  const out: ChartPoint[] = [];
  for (let i = 0; i < points.length; i++) {
    const p = points[i];
    latest.set(p.node, { t: p.t, v: p.v });
    if (i + 1 < points.length && points[i + 1].t === p.t) continue;
    let total = 0;
    for (const [node, last] of latest) {
      if (p.t - last.t > staleMs) latest.delete(node);
      else total += last.v;
    }
    out.push([p.t, total]);
  }
  return out;
}

/** Average into equal time buckets when there are more than `maxPoints` points; otherwise unchanged. */
export function downsample(points: ChartPoint[], fromMs: number, toMs: number, maxPoints: number): ChartPoint[] {
  if (points.length <= maxPoints) return points;
  const step = Math.ceil((toMs - fromMs) / maxPoints);
  const out: ChartPoint[] = [];
  let bucket = NaN;
  let sum = 0;
  let n = 0;
  for (const [t, v] of points) {
    const b = fromMs + Math.floor((t - fromMs) / step) * step;
    if (b !== bucket && n > 0) {
      out.push([bucket, sum / n]);
      sum = 0;
      n = 0;
    }
    bucket = b;
    sum += v;
    n++;
  }
  if (n > 0) out.push([bucket, sum / n]);
  return out;
}

export interface DisconnectWindow {
  broker: string;
  from: Date;
  to: Date;
  limit?: number;
}

export interface ReasonCount {
  reason: string;
  count: number;
}

/** Disconnects of one broker in [from, to] by reason, most frequent first. */
export async function topDisconnectReasons(db: Db, w: DisconnectWindow): Promise<ReasonCount[]> {
  const reason = sql<string>`coalesce(${connectionEvents.reason}, 'unknown')`;
  const count = sql<number>`count(*)`.mapWith(Number);
  return db
    .select({ reason, count })
    .from(connectionEvents)
    .where(
      and(
        eq(connectionEvents.broker, w.broker),
        eq(connectionEvents.type, "disconnected"),
        gte(connectionEvents.ts, w.from),
        lte(connectionEvents.ts, w.to),
      ),
    )
    .groupBy(reason)
    .orderBy(desc(count), asc(reason))
    .limit(w.limit ?? 10);
}

export interface ClientDisconnects {
  clientId: string;
  count: number;
  lastAt: Date;
  /** the reason of its most recent disconnect */
  lastReason: string;
}

/**
 * The clients of one broker that disconnected most in [from, to], most first (ties: most recent
 * first). Disconnects whose ClientID the broker did not log cannot be pinned on a client and are
 * left out here (they still count in the reasons).
 */
export async function topDisconnectingClients(db: Db, w: DisconnectWindow): Promise<ClientDisconnects[]> {
  const count = sql<number>`count(*)`.mapWith(Number);
  const lastAt = sql<Date>`max(${connectionEvents.ts})`.mapWith(connectionEvents.ts);
  const rows = await db
    .select({
      clientId: connectionEvents.clientId,
      count,
      lastAt,
      lastReason: sql<
        string | null
      >`(array_agg(${connectionEvents.reason} order by ${connectionEvents.ts} desc, ${connectionEvents.id} desc))[1]`,
    })
    .from(connectionEvents)
    .where(
      and(
        eq(connectionEvents.broker, w.broker),
        eq(connectionEvents.type, "disconnected"),
        isNotNull(connectionEvents.clientId),
        gte(connectionEvents.ts, w.from),
        lte(connectionEvents.ts, w.to),
      ),
    )
    .groupBy(connectionEvents.clientId)
    .orderBy(desc(count), desc(lastAt), asc(connectionEvents.clientId))
    .limit(w.limit ?? 10);
  return rows.map((r) => ({
    clientId: r.clientId!,
    count: r.count,
    lastAt: r.lastAt,
    lastReason: r.lastReason ?? "unknown",
  }));
}

export interface OpenGap {
  broker: string;
  startedAt: Date;
  reason: string;
}

/** The gap each broker is in right now, if any: why the collector cannot see it, and since when. */
export async function openGaps(db: Db): Promise<Map<string, OpenGap>> {
  const rows = await db
    .select({ broker: collectorGaps.broker, startedAt: collectorGaps.startedAt, reason: collectorGaps.reason })
    .from(collectorGaps)
    .where(isNull(collectorGaps.endedAt))
    .orderBy(asc(collectorGaps.startedAt));
  return new Map(rows.map((r) => [r.broker, r]));
}
