import { z } from "zod";
import { getBroker } from "@/db/brokers";
import { incidentSummaries } from "@/lib/api/incidents";
import { parseQuery, timeParam } from "@/lib/api/params";
import { authorize } from "@/lib/auth/api";
import { ApiError, errorResponse } from "@/lib/http";
import { getRuntime } from "@/lib/runtime";

export const dynamic = "force-dynamic";

const incidentQuery = z.object({ from: timeParam.optional(), to: timeParam.optional() });

/** GET /api/brokers/{name}/incidents?from=&to= — the broker's outages and restarts with their cost and findings (default: last 7 days). */
export async function GET(request: Request, ctx: { params: Promise<{ name: string }> }): Promise<Response> {
  try {
    const { name } = await ctx.params;
    const q = parseQuery(new URL(request.url), incidentQuery);
    await authorize(request);
    const db = getRuntime().database.db;
    if (!(await getBroker(db, name))) throw new ApiError("not_found", `no broker named "${name}"`);
    const to = q.to ?? new Date();
    const from = q.from ?? new Date(to.getTime() - 7 * 86400_000);
    if (from > to) throw new ApiError("bad_request", "from must not be after to");
    return Response.json({ incidents: await incidentSummaries(db, { broker: name, from, to }) });
  } catch (err) {
    return errorResponse(err);
  }
}
