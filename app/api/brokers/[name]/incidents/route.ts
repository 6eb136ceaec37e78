import { z } from "zod";
import { findBroker } from "@/lib/brokers";
import { incidentSummaries } from "@/lib/api/incidents";
import { timeParam } from "@/lib/api/params";
import { route, segment } from "@/lib/api/route";
import { ApiError } from "@/lib/http";
import { getRuntime } from "@/lib/runtime";

export const dynamic = "force-dynamic";

const incidentQuery = z.object({ from: timeParam.optional(), to: timeParam.optional() });

/** GET /api/brokers/{name}/incidents?from=&to= — the broker's outages and restarts with their cost and findings (default: last 7 days). */
export const GET = route(
  { auth: "viewer", params: z.object({ name: segment }), query: incidentQuery },
  async ({ params: { name }, query, caller }) => {
    const db = getRuntime().database.db;
    if (!(await findBroker(caller, name))) throw new ApiError("not_found", `no broker named "${name}"`);
    const to = query.to ?? new Date();
    const from = query.from ?? new Date(to.getTime() - 7 * 86400_000);
    if (from > to) throw new ApiError("bad_request", "from must not be after to");
    return { incidents: await incidentSummaries(db, { broker: name, from, to }) };
  },
);
