import { z } from "zod";
import { route, segment } from "@/lib/api/route";
import { getRuntime } from "@/lib/runtime";
import { idParam } from "@/lib/settings/input";
import { revokeToken } from "@/lib/settings/tokens";

export const dynamic = "force-dynamic";

/** DELETE /api/tokens/{id} (admin) — revokes the token at once; it stays listed with `revokedAt`. */
export const DELETE = route({ auth: "admin", params: z.object({ id: segment }) }, async ({ params }) => {
  await revokeToken(getRuntime().database.db, idParam(params.id, "token"));
  return { ok: true };
});
