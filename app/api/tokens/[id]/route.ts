import { authorize } from "@/lib/auth/api";
import { errorResponse } from "@/lib/http";
import { getRuntime } from "@/lib/runtime";
import { idParam } from "@/lib/settings/input";
import { revokeToken } from "@/lib/settings/tokens";

export const dynamic = "force-dynamic";

/** DELETE /api/tokens/{id} (admin) — revokes the token at once; it stays listed with `revokedAt`. */
export async function DELETE(request: Request, ctx: { params: Promise<{ id: string }> }): Promise<Response> {
  try {
    await authorize(request, "admin");
    const id = idParam((await ctx.params).id, "token");
    await revokeToken(getRuntime().database.db, id);
    return Response.json({ ok: true });
  } catch (err) {
    return errorResponse(err);
  }
}
