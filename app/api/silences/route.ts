import { randomUUID } from "node:crypto";
import { z } from "zod";
import type { SilenceRow } from "@/db/schema";
import { addSilence, silences as listSilences, silenceStatus } from "@/lib/alerts/console";
import { parseWith, route } from "@/lib/api/route";
import { silenceInputSchema } from "@/lib/notify/silences";
import { getRuntime } from "@/lib/runtime";

export const dynamic = "force-dynamic";

function silenceJson(silence: SilenceRow, now: Date) {
  return { ...silence, status: silenceStatus(silence, now) };
}

/** GET /api/silences — every silence, expired ones too, newest first. */
export const GET = route({ auth: "viewer" }, async ({ caller }) => {
  const silences = await listSilences(caller);
  const now = new Date();
  return { silences: silences.map((s) => silenceJson(s, now)) };
});

/**
 * POST /api/silences (admin) — `{ matchers: [{ name, value, isRegex, isEqual }], startsAt?,
 * endsAt | duration, createdBy, comment? }`; 201 with the silence. The schema depends on now
 * (a start in the past moves to now), so it is applied here rather than by route().
 */
export const POST = route({ auth: "admin", body: z.unknown() }, async ({ body, caller }) => {
  const now = new Date();
  const input = parseWith(silenceInputSchema(now), body);
  const silence = await addSilence(caller, { id: randomUUID(), ...input });
  return Response.json(silenceJson(silence, now), { status: 201 });
});
