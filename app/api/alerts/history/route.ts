import { z } from "zod";
import { alertHistory } from "@/lib/alerts/console";
import { limitParam, timeParam } from "@/lib/api/params";
import { route } from "@/lib/api/route";
import { ApiError } from "@/lib/http";

export const dynamic = "force-dynamic";

const DEFAULT_RANGE_MS = 24 * 3600 * 1000;

const historySchema = z.object({ from: timeParam.optional(), to: timeParam.optional(), limit: limitParam });

/** JSON has no NaN or infinities; the history stores the value as Prometheus' HTTP API spells them. */
function jsonValue(text: string | null): number | string | null {
  if (text === null || text === "NaN" || text === "+Inf" || text === "-Inf") return text;
  return Number(text);
}

/**
 * GET /api/alerts/history?from=&to=&limit= — alerts that fired, with when they resolved: every
 * episode active at some point in [from, to] (default: the last 24 hours), newest first.
 */
export const GET = route({ auth: "viewer", query: historySchema }, async ({ caller, query }) => {
  const to = query.to ?? new Date();
  const from = query.from ?? new Date(to.getTime() - DEFAULT_RANGE_MS);
  if (from > to) throw new ApiError("bad_request", "from: must not be after to", { parameter: "from" });
  const rows = await alertHistory(caller, { from, to, limit: query.limit });
  return {
    alerts: rows.map((r) => ({
      fingerprint: r.fingerprint,
      alertname: r.rule,
      state: r.resolvedAt ? "resolved" : "firing",
      labels: r.labels,
      annotations: r.annotations,
      value: jsonValue(r.value),
      activeAt: r.activeAt,
      firedAt: r.firedAt,
      resolvedAt: r.resolvedAt,
    })),
  };
});
