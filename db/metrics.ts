import "server-only";
import { and, asc, eq, gt, lte } from "drizzle-orm";
import type { Db } from "./client";
import { brokers, metricSamples } from "./schema";

/** A stored series as the PromQL evaluator wants it (lib/alerts/promql/types.ts `Series`). */
export interface StoredSeries {
  labels: Record<string, string>;
  points: { t: number; v: number }[];
}

/** A sample a recording rule wrote (lib/alerts/engine.ts). */
export interface RecordedSample {
  metric: string;
  /** without `__name__`; `broker` and `node` go to their own columns */
  labels: Record<string, string>;
  ts: Date;
  value: number;
}

/**
 * Stores a recording rule's samples like collected ones, so rules and charts read them the same
 * way. `broker` and `node` labels become the columns of the same name, the others (`cluster`
 * included, which fetchSeries would add back the same) stay labels. A sample already stored
 * for the same series and second (a second round within the second) is kept as it was.
 */
export async function insertRecordedSamples(db: Db, samples: readonly RecordedSample[]): Promise<void> {
  if (samples.length === 0) return;
  const rows = samples.map(({ metric, labels, ts, value }) => {
    const { broker = "", node = "", ...rest } = labels;
    return { metric, broker, node, labels: rest, ts: new Date(Math.floor(ts.getTime() / 1000) * 1000), value };
  });
  // Chunks keep each statement under Postgres' 65,535 parameters (6 per row).
  for (let i = 0; i < rows.length; i += 5000) {
    await db
      .insert(metricSamples)
      .values(rows.slice(i, i + 5000))
      .onConflictDoNothing();
  }
}

/**
 * Samples of one metric in (fromMs, toMs], grouped into series labelled the way rules see them:
 * `__name__`, `broker`, `cluster` (from the broker's config), `node` where known, plus the
 * sample's own labels (e.g. `reason`). Cluster-wide metrics are stored with an empty broker.
 */
export async function fetchSeries(db: Db, metric: string, fromMs: number, toMs: number): Promise<StoredSeries[]> {
  const rows = await db
    .select({
      broker: metricSamples.broker,
      node: metricSamples.node,
      labels: metricSamples.labels,
      ts: metricSamples.ts,
      value: metricSamples.value,
      cluster: brokers.cluster,
    })
    .from(metricSamples)
    .leftJoin(brokers, eq(brokers.name, metricSamples.broker))
    .where(
      and(
        eq(metricSamples.metric, metric),
        gt(metricSamples.ts, new Date(fromMs)),
        lte(metricSamples.ts, new Date(toMs)),
      ),
    )
    .orderBy(asc(metricSamples.ts));
  const series = new Map<string, StoredSeries>();
  for (const row of rows) {
    const labels: Record<string, string> = { __name__: metric };
    if (row.broker) labels.broker = row.broker;
    if (row.cluster) labels.cluster = row.cluster;
    if (row.node) labels.node = row.node;
    Object.assign(labels, row.labels);
    const key = JSON.stringify(Object.entries(labels).sort());
    let s = series.get(key);
    if (!s) series.set(key, (s = { labels, points: [] }));
    s.points.push({ t: row.ts.getTime(), v: row.value });
  }
  return [...series.values()];
}
