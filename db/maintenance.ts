import "server-only";
import { lt, sql } from "drizzle-orm";
import type { Db } from "./client";
import { dropBefore, ensurePartitions, PARTITIONED_TABLES } from "./partitions";
import { collectorGaps, metricRollups, metricSamples, unparsedRecords } from "./schema";
import { getSetting, setSetting } from "./settings";

const MINUTE = 60_000;

/**
 * Fold raw samples into 1-minute rollups, from the last watermark up to the minute before the
 * current one (samples may arrive a little late: Mosquitto's quiet-counter zeros are dated one
 * sys_interval back). Idempotent: re-running a minute replaces its rollup.
 */
export async function rollUpSamples(db: Db, now = Date.now()): Promise<{ from: Date; to: Date } | null> {
  const to = new Date(Math.floor(now / MINUTE) * MINUTE - MINUTE);
  const stored = await getSetting(db, "rollup_watermark");
  const from = stored ? new Date(stored) : new Date(to.getTime() - 60 * MINUTE);
  if (from >= to) return null;
  await db.execute(sql`
    insert into ${metricRollups} (broker, node, metric, labels, bucket, min, max, avg, last, count)
    select broker, node, metric, labels, date_trunc('minute', ts) as bucket,
           min(value), max(value), avg(value), (array_agg(value order by ts desc))[1], count(*)::int
    from ${metricSamples}
    where ts >= ${from.toISOString()}::timestamptz and ts < ${to.toISOString()}::timestamptz
    group by broker, node, metric, labels, date_trunc('minute', ts)
    on conflict (broker, metric, node, labels, bucket) do update set
      min = excluded.min, max = excluded.max, avg = excluded.avg, last = excluded.last, count = excluded.count`);
  await setSetting(db, "rollup_watermark", to.toISOString());
  return { from, to };
}

export interface RetentionSeconds {
  rawSamplesSeconds: number;
  rollupsSeconds: number;
  eventsSeconds: number;
}

export const DEFAULT_RETENTION: RetentionSeconds = {
  rawSamplesSeconds: 7 * 86400,
  rollupsSeconds: 400 * 86400,
  eventsSeconds: 90 * 86400,
};

/**
 * Keep the partitions of the history tables (days ahead created, DEFAULT stragglers moved) and
 * forget what is older than the retention of its kind: samples and events by dropping whole day
 * partitions plus a DELETE over the one edge day (db/partitions.ts), so the boundary is exact.
 * Unparsed records, rollups and gaps are small (bounded by bad input, one row per series-minute,
 * one row per outage) and stay plain tables trimmed by DELETE; unparsed records and gaps follow
 * events.
 */
export async function enforceRetention(db: Db, retention: RetentionSeconds, now = Date.now()): Promise<void> {
  const before = (seconds: number) => new Date(now - seconds * 1000);
  for (const table of PARTITIONED_TABLES) await ensurePartitions(db, table, now);
  await dropBefore(db, "metric_samples", before(retention.rawSamplesSeconds));
  await dropBefore(db, "connection_events", before(retention.eventsSeconds));
  await db.delete(metricRollups).where(lt(metricRollups.bucket, before(retention.rollupsSeconds)));
  await db.delete(unparsedRecords).where(lt(unparsedRecords.receivedAt, before(retention.eventsSeconds)));
  await db.delete(collectorGaps).where(lt(collectorGaps.endedAt, before(retention.eventsSeconds)));
}
