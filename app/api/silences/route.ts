import { randomUUID } from "node:crypto";
import { z } from "zod";
import { createSilence, listSilences } from "@/db/alerts";
import type { SilenceRow } from "@/db/schema";
import { parseQuery } from "@/lib/api/params";
import { authorize } from "@/lib/auth/api";
import { ApiError, errorResponse } from "@/lib/http";
import { silenceInputSchema } from "@/lib/notify/silences";
import { getRuntime } from "@/lib/runtime";

export const dynamic = "force-dynamic";

/** Alertmanager's silence status: pending before startsAt, active until endsAt, then expired. */
function silenceJson(silence: SilenceRow, now: Date) {
  const status = now < silence.startsAt ? "pending" : now < silence.endsAt ? "active" : "expired";
  return { ...silence, status };
}

/** GET /api/silences — every silence, expired ones too, newest first. */
export async function GET(request: Request): Promise<Response> {
  try {
    parseQuery(new URL(request.url), z.object({}));
    await authorize(request);
    const silences = await listSilences(getRuntime().database.db);
    const now = new Date();
    return Response.json({ silences: silences.map((s) => silenceJson(s, now)) });
  } catch (err) {
    return errorResponse(err);
  }
}

/**
 * POST /api/silences (admin) — `{ matchers: [{ name, value, isRegex, isEqual }], startsAt?,
 * endsAt | duration, createdBy, comment? }`; 201 with the silence.
 */
export async function POST(request: Request): Promise<Response> {
  try {
    let body: unknown;
    try {
      body = await request.json();
    } catch {
      throw new ApiError("bad_request", "the body must be a JSON object", { parameter: "body" });
    }
    const now = new Date();
    const parsed = silenceInputSchema(now).safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const parameter = issue.path.reduce<string>(
        (path, key) => (typeof key === "number" ? `${path}[${key}]` : path ? `${path}.${String(key)}` : String(key)),
        "",
      );
      throw new ApiError("bad_request", parameter ? `${parameter}: ${issue.message}` : issue.message, { parameter });
    }
    await authorize(request, "admin");
    const silence = await createSilence(getRuntime().database.db, { id: randomUUID(), ...parsed.data });
    return Response.json(silenceJson(silence, now), { status: 201 });
  } catch (err) {
    return errorResponse(err);
  }
}
