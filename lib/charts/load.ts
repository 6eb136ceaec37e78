import "server-only";
import { chartSeries, type ChartData } from "@/db/dashboards";
export type { ChartGap, ChartPoint } from "@/db/dashboards";
import { redactUrlsForViewer } from "@/lib/auth/redact";
import { assertVerified, isAdmin, type Verified } from "@/lib/auth/verified";
import { getRuntime } from "@/lib/runtime";
import { CHART_METRICS, CHART_RANGES, type ChartRange } from "./ranges";

export interface BrokerChartData extends ChartData {
  broker: string;
  range: ChartRange;
}

/**
 * One broker's chart data for a named range, ending now: what the page renders first and the
 * series API returns. Only for a verified caller (requireUser() or authorize()).
 */
export async function loadBrokerCharts(
  viewer: Verified,
  broker: string,
  range: ChartRange,
  metrics: readonly string[] = CHART_METRICS,
  now = Date.now(),
): Promise<BrokerChartData> {
  assertVerified(viewer);
  const spec = CHART_RANGES[range];
  const data = await chartSeries(getRuntime().database.db, {
    broker,
    metrics,
    from: new Date(now - spec.ms),
    to: new Date(now),
    source: spec.source,
  });
  // a gap's reason quotes the collector's error, which may hold a URL with `?token=`: cut for viewers
  const gaps = isAdmin(viewer) ? data.gaps : data.gaps.map((g) => ({ ...g, reason: redactUrlsForViewer(g.reason) }));
  return { broker, range, ...data, gaps };
}
