import { z } from "zod";
import { route } from "@/lib/api/route";
import { ApiError } from "@/lib/http";
import { endSilence } from "@/lib/alerts/console";

export const dynamic = "force-dynamic";

/** DELETE /api/silences/{id} (admin) — expires the silence now (it stays listed, as in Alertmanager). */
export const DELETE = route({ auth: "admin", params: z.object({ id: z.string() }) }, async ({ params: { id }, caller }) => {
  // ids are UUIDs; anything much longer names no silence
  const silence = id.length <= 100 ? await endSilence(caller, id, new Date()) : null;
  if (!silence) throw new ApiError("not_found", `no silence with id "${id.slice(0, 100)}"`);
  return { ...silence, status: "expired" };
});
