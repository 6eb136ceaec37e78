import { z } from "zod";
import { incidentView } from "@/lib/api/incidents";
import { authorize } from "@/lib/auth/api";
import { ApiError, errorResponse } from "@/lib/http";
import { getRuntime } from "@/lib/runtime";

export const dynamic = "force-dynamic";

const incidentId = z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER);

/** GET /api/incidents/{id} — one incident with the clients never back, the broker's log lines and the evidence series. */
export async function GET(request: Request, ctx: { params: Promise<{ id: string }> }): Promise<Response> {
  try {
    const { id: raw } = await ctx.params;
    const id = incidentId.safeParse(raw);
    if (!id.success) throw new ApiError("bad_request", `incident id "${raw}" is not a positive whole number`);
    await authorize(request);
    const incident = await incidentView(getRuntime().database.db, id.data);
    if (!incident) throw new ApiError("not_found", `no incident ${id.data}`);
    return Response.json({ incident });
  } catch (err) {
    return errorResponse(err);
  }
}
