import { z } from "zod";
import { findBroker } from "@/lib/brokers";
import { loadBrokerCharts } from "@/lib/charts/load";
import { CHART_METRICS, CHART_RANGE_NAMES, DEFAULT_CHART_RANGE, type ChartRange } from "@/lib/charts/ranges";
import { route, segment } from "@/lib/api/route";
import { ApiError } from "@/lib/http";
import { isMetricName, type MetricName } from "@/lib/metrics";
import { recordedMetricNames } from "@/lib/settings/rules";

export const dynamic = "force-dynamic";

const seriesQuery = z.object({
  /** one metric name, or several separated by commas */
  metric: z
    .string()
    .max(2000, "names too many metrics")
    .transform((value, ctx) => {
      const names = value.split(",").map((n) => n.trim());
      const recorded = recordedMetricNames();
      const unknown = names.find((n) => !isMetricName(n) && !recorded.has(n));
      if (unknown !== undefined) {
        ctx.addIssue({
          code: "custom",
          message: `"${unknown}" is not a metric name (docs/contract.md §3) nor recorded by a recording rule`,
        });
        return z.NEVER;
      }
      return [...new Set(names)] as MetricName[];
    })
    .optional(),
  range: z
    .enum(CHART_RANGE_NAMES as [ChartRange, ...ChartRange[]], {
      message: `must be one of ${CHART_RANGE_NAMES.join(", ")}`,
    })
    .default(DEFAULT_CHART_RANGE),
});

/**
 * GET /api/brokers/{name}/series?metric=&range= — chart series ending now: `series` maps each
 * metric to `[t ms, value]` points (nodes summed; raw samples for 15m and 1h, 1-minute rollups for
 * 24h and 7d), plus the collector gaps in the range. Without `metric`, the broker page's gauges.
 */
export const GET = route(
  { auth: "viewer", params: z.object({ name: segment }), query: seriesQuery },
  async ({ caller, params: { name }, query }) => {
    if (!(await findBroker(caller, name))) throw new ApiError("not_found", `no broker named "${name}"`);
    return loadBrokerCharts(caller, name, query.range, query.metric ?? CHART_METRICS);
  },
);
