import { expireSilence } from "@/db/alerts";
import { authorize } from "@/lib/auth/api";
import { ApiError, errorResponse } from "@/lib/http";
import { getRuntime } from "@/lib/runtime";

export const dynamic = "force-dynamic";

/** DELETE /api/silences/{id} (admin) — expires the silence now (it stays listed, as in Alertmanager). */
export async function DELETE(request: Request, ctx: { params: Promise<{ id: string }> }): Promise<Response> {
  try {
    const { id } = await ctx.params;
    await authorize(request, "admin");
    const silence = await expireSilence(getRuntime().database.db, id, new Date());
    if (!silence) throw new ApiError("not_found", `no silence with id "${id}"`);
    return Response.json({ ...silence, status: "expired" });
  } catch (err) {
    return errorResponse(err);
  }
}
