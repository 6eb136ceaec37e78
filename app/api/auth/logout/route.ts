import { clearedSessionCookie, endSession, isHttps, readCookie, SESSION_COOKIE } from "@/lib/auth/session";
import { errorResponse } from "@/lib/http";
import { getRuntime } from "@/lib/runtime";
import { checkOrigin } from "@/lib/auth/api";

export const dynamic = "force-dynamic";

/** POST /api/auth/logout — ends the session and clears the cookie. */
export async function POST(request: Request): Promise<Response> {
  try {
    checkOrigin(request);
    await endSession(getRuntime().database.db, readCookie(request, SESSION_COOKIE));
    return Response.json({ ok: true }, { headers: { "set-cookie": clearedSessionCookie(isHttps(request)) } });
  } catch (err) {
    return errorResponse(err);
  }
}
