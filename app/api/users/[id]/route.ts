import { authorize } from "@/lib/auth/api";
import { errorResponse } from "@/lib/http";
import { getRuntime } from "@/lib/runtime";
import { idParam, readJsonObject } from "@/lib/settings/input";
import { changePassword, removeUser } from "@/lib/settings/users";

export const dynamic = "force-dynamic";

/** PATCH /api/users/{id} (admin) — `{ password }`: sets a new password and ends that user's sessions. */
export async function PATCH(request: Request, ctx: { params: Promise<{ id: string }> }): Promise<Response> {
  try {
    await authorize(request, "admin");
    const id = idParam((await ctx.params).id, "user");
    const body = await readJsonObject(request);
    return Response.json({ user: await changePassword(getRuntime().database.db, id, body) });
  } catch (err) {
    return errorResponse(err);
  }
}

/** DELETE /api/users/{id} (admin) — removes the user and their sessions; not yourself, never the last admin (409). */
export async function DELETE(request: Request, ctx: { params: Promise<{ id: string }> }): Promise<Response> {
  try {
    const caller = await authorize(request, "admin");
    const id = idParam((await ctx.params).id, "user");
    await removeUser(getRuntime().database.db, caller, id);
    return Response.json({ ok: true });
  } catch (err) {
    return errorResponse(err);
  }
}
