import "server-only";
import { and, asc, eq, gt, lte } from "drizzle-orm";
import type { Db } from "./client";
import { brokers, metricSamples } from "./schema";

/** A stored series as the PromQL evaluator wants it (lib/alerts/promql/types.ts `Series`). */
export interface StoredSeries {
  labels: Record<string, string>;
  points: { t: number; v: number }[];
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
