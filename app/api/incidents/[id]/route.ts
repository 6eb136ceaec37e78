import { z } from "zod";
import { incidentView } from "@/lib/api/incidents";
import { route } from "@/lib/api/route";
import { ApiError } from "@/lib/http";
import { getRuntime } from "@/lib/runtime";

export const dynamic = "force-dynamic";

const incidentId = z
  .string()
  .regex(/^[1-9]\d{0,14}$/, "is not an incident id (a positive whole number)")
  .transform(Number);

/** GET /api/incidents/{id} — one incident with the clients never back, the broker's log lines and the evidence series. */
export const GET = route({ auth: "viewer", params: z.object({ id: incidentId }) }, async ({ params: { id } }) => {
  const incident = await incidentView(getRuntime().database.db, id);
  if (!incident) throw new ApiError("not_found", `no incident ${id}`);
  return { incident };
});
