import { z } from "zod";
import { jsonObject, route, segment } from "@/lib/api/route";
import { getRuntime } from "@/lib/runtime";
import { idParam } from "@/lib/settings/input";
import { changePassword, removeUser } from "@/lib/settings/users";

export const dynamic = "force-dynamic";

const idParams = z.object({ id: segment });

/** PATCH /api/users/{id} (admin) — `{ password }`: sets a new password and ends that user's sessions. */
export const PATCH = route({ auth: "admin", params: idParams, body: jsonObject }, async ({ params, body }) => ({
  user: await changePassword(getRuntime().database.db, idParam(params.id, "user"), body),
}));

/** DELETE /api/users/{id} (admin) — removes the user and their sessions; not yourself, never the last admin (409). */
export const DELETE = route({ auth: "admin", params: idParams }, async ({ caller, params }) => {
  await removeUser(getRuntime().database.db, caller, idParam(params.id, "user"));
  return { ok: true };
});
