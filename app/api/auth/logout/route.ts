import { route } from "@/lib/api/route";
import { checkOrigin } from "@/lib/auth/api";
import { clearedSessionCookie, endSession, isHttps, readCookie, SESSION_COOKIE } from "@/lib/auth/session";
import { getRuntime } from "@/lib/runtime";

export const dynamic = "force-dynamic";

/** POST /api/auth/logout — ends the session and clears the cookie. Public: a stale cookie must still log out. */
export const POST = route({ auth: "public" }, async ({ request }) => {
  checkOrigin(request);
  await endSession(getRuntime().database.db, readCookie(request, SESSION_COOKIE));
  return Response.json({ ok: true }, { headers: { "set-cookie": clearedSessionCookie(isHttps(request)) } });
});
