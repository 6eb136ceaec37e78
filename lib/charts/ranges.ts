import type { SeriesSource } from "@/db/dashboards";
import type { MetricName } from "@/lib/metrics";

/**
 * The broker page's chart ranges and where each reads from: raw samples up to an hour (every
 * sample the broker sent), the 1-minute rollups beyond (raw samples are kept 7 days but a week
 * of them is 600k rows per metric; rollups are one per minute). 7 days is shown in 5-minute
 * steps: about 2000 points, more than a chart is wide already.
 */
export const CHART_RANGES = {
  "15m": { label: "15 min", ms: 15 * 60_000, source: { kind: "raw" }, refreshMs: 5_000 },
  "1h": { label: "1 hour", ms: 3600_000, source: { kind: "raw" }, refreshMs: 10_000 },
  "24h": { label: "24 hours", ms: 24 * 3600_000, source: { kind: "rollup", stepMs: 60_000 }, refreshMs: 60_000 },
  "7d": { label: "7 days", ms: 7 * 24 * 3600_000, source: { kind: "rollup", stepMs: 5 * 60_000 }, refreshMs: 300_000 },
} as const satisfies Record<string, { label: string; ms: number; source: SeriesSource; refreshMs: number }>;

export type ChartRange = keyof typeof CHART_RANGES;
export const CHART_RANGE_NAMES = Object.keys(CHART_RANGES) as ChartRange[];
export const DEFAULT_CHART_RANGE: ChartRange = "1h";

export function isChartRange(value: unknown): value is ChartRange {
  return typeof value === "string" && value in CHART_RANGES;
}

/** The gauges the broker page plots. */
export const CHART_METRICS = [
  "mqtt_connections_current",
  "mqtt_connections_max",
  "mqtt_messages_received_per_second",
  "mqtt_messages_sent_per_second",
  "mqtt_queued_messages",
  "mqtt_memory_bytes",
] as const satisfies readonly MetricName[];
