import { z } from "zod";
import { getBroker } from "@/db/brokers";
import { listGaps } from "@/db/gaps";
import { authorize } from "@/lib/auth/api";
import { parseQuery, timeParam } from "@/lib/api/params";
import { ApiError, errorResponse } from "@/lib/http";
import { getRuntime } from "@/lib/runtime";

export const dynamic = "force-dynamic";

const gapQuery = z.object({ from: timeParam.optional(), to: timeParam.optional() });

/** GET /api/brokers/{name}/gaps?from=&to= — intervals in which the collector could not see the broker. */
export async function GET(request: Request, ctx: { params: Promise<{ name: string }> }): Promise<Response> {
  try {
    const { name } = await ctx.params;
    const q = parseQuery(new URL(request.url), gapQuery);
    await authorize(request);
    const db = getRuntime().database.db;
    if (!(await getBroker(db, name))) throw new ApiError("not_found", `no broker named "${name}"`);
    const to = q.to ?? new Date();
    const from = q.from ?? new Date(to.getTime() - 24 * 3600_000);
    const gaps = await listGaps(db, name, from, to);
    return Response.json({
      broker: name,
      gaps: gaps.map((g) => ({
        startedAt: g.startedAt.toISOString(),
        endedAt: g.endedAt?.toISOString() ?? null,
        reason: g.reason,
      })),
    });
  } catch (err) {
    return errorResponse(err);
  }
}
