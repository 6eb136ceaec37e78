import { randomUUID } from "node:crypto";
import { z } from "zod";
import { createSilence, listSilences } from "@/db/alerts";
import type { SilenceRow } from "@/db/schema";
import { parseWith, route } from "@/lib/api/route";
import { silenceInputSchema } from "@/lib/notify/silences";
import { getRuntime } from "@/lib/runtime";

export const dynamic = "force-dynamic";

/** Alertmanager's silence status: pending before startsAt, active until endsAt, then expired. */
function silenceJson(silence: SilenceRow, now: Date) {
  const status = now < silence.startsAt ? "pending" : now < silence.endsAt ? "active" : "expired";
  return { ...silence, status };
}

/** GET /api/silences — every silence, expired ones too, newest first. */
export const GET = route({ auth: "viewer" }, async () => {
  const silences = await listSilences(getRuntime().database.db);
  const now = new Date();
  return { silences: silences.map((s) => silenceJson(s, now)) };
});

/**
 * POST /api/silences (admin) — `{ matchers: [{ name, value, isRegex, isEqual }], startsAt?,
 * endsAt | duration, createdBy, comment? }`; 201 with the silence. The schema depends on now
 * (a start in the past moves to now), so it is applied here rather than by route().
 */
export const POST = route({ auth: "admin", body: z.unknown() }, async ({ body }) => {
  const now = new Date();
  const input = parseWith(silenceInputSchema(now), body);
  const silence = await createSilence(getRuntime().database.db, { id: randomUUID(), ...input });
  return Response.json(silenceJson(silence, now), { status: 201 });
});
