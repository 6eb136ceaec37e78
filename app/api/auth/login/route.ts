import { z } from "zod";
import { createSession, isHttps, LoginLimiter, sessionCookie } from "@/lib/auth/session";
import { checkPassword } from "@/lib/auth/users";
import { ApiError, errorResponse } from "@/lib/http";
import { getRuntime } from "@/lib/runtime";

export const dynamic = "force-dynamic";

const limiter = new LoginLimiter();
const loginSchema = z.object({
  username: z.string().min(1, "is required").max(200),
  password: z.string().min(1, "is required").max(1000),
});

/** POST /api/auth/login {username, password} — sets the session cookie. Rate-limited per address and user. */
export async function POST(request: Request): Promise<Response> {
  try {
    const body = await request.json().catch(() => {
      throw new ApiError("bad_request", 'send JSON: {"username": "…", "password": "…"}');
    });
    const parsed = loginSchema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ApiError("bad_request", `${String(issue.path[0])}: ${issue.message}`, {
        parameter: String(issue.path[0]),
      });
    }
    const { username, password } = parsed.data;
    const key = `${request.headers.get("x-brokerwatch-remote-address") ?? "unknown"}|${username}`;
    const wait = limiter.retryAfterMs(key);
    if (wait > 0) {
      return Response.json(
        {
          error: {
            code: "rate_limited",
            message: `too many failed logins; try again in ${Math.ceil(wait / 60_000)} min`,
          },
        },
        { status: 429, headers: { "retry-after": String(Math.ceil(wait / 1000)) } },
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
  } catch (err) {
    return errorResponse(err);
  }
}
