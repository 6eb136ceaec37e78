import { z } from "zod";
import { route } from "@/lib/api/route";
import { createSession, isHttps, LoginLimiter, sessionCookie } from "@/lib/auth/session";
import { checkPassword } from "@/lib/auth/users";
import { ApiError } from "@/lib/http";
import { getRuntime } from "@/lib/runtime";

export const dynamic = "force-dynamic";

const limiter = new LoginLimiter();
const loginSchema = z.object({
  username: z.string().min(1, "is required").max(200),
  password: z.string().min(1, "is required").max(1000),
});

/** POST /api/auth/login {username, password} — sets the session cookie. Rate-limited per address and user. */
export const POST = route({ auth: "public", body: loginSchema }, async ({ body: { username, password }, request }) => {
  const key = `${request.headers.get("x-brokerwatch-remote-address") ?? "unknown"}|${username}`;
  const wait = limiter.retryAfterMs(key);
  if (wait > 0) {
    throw new ApiError(
      "rate_limited",
      `too many failed logins; try again in ${Math.ceil(wait / 60_000)} min`,
      undefined,
      { "retry-after": String(Math.ceil(wait / 1000)) },
    );
  }
  const db = getRuntime().database.db;
  const user = await checkPassword(db, username, password);
  if (!user) {
    limiter.fail(key);
    throw new ApiError("unauthorized", "wrong username or password");
  }
  limiter.succeed(key);
  const { token, expiresAt } = await createSession(db, user.id);
  return Response.json(
    { user: { username: user.username, role: user.role } },
    { headers: { "set-cookie": sessionCookie(token, expiresAt, isHttps(request)) } },
  );
});
