import { z } from "zod";
import type { BlockList } from "node:net";
import { route } from "@/lib/api/route";
import { checkOrigin } from "@/lib/auth/api";
import { clientAddress, LoginLimiter, parseTrustedProxies } from "@/lib/auth/login-limit";
import { createSession, isHttps, sessionCookie } from "@/lib/auth/session";
import { checkPassword } from "@/lib/auth/users";
import { ApiError } from "@/lib/http";
import { getRuntime } from "@/lib/runtime";

export const dynamic = "force-dynamic";

const limiter = new LoginLimiter();
let trustedProxies: BlockList | null = null;

/** Read once; a malformed BROKERWATCH_TRUSTED_PROXIES trusts nobody (and says so) rather than everybody. */
function trusted(): BlockList {
  if (!trustedProxies) {
    try {
      trustedProxies = parseTrustedProxies(process.env.BROKERWATCH_TRUSTED_PROXIES);
    } catch (err) {
      console.error(`brokerwatch: ${(err as Error).message}; trusting no proxy`);
      trustedProxies = parseTrustedProxies(undefined);
    }
  }
  return trustedProxies;
}

const loginSchema = z.object({
  username: z.string().min(1, "is required").max(200),
  password: z.string().min(1, "is required").max(1000),
});

/**
 * POST /api/auth/login {username, password} — sets the session cookie. Only from our own pages (a
 * cross-site form must not sign the browser into an account of the attacker's choosing), and
 * slowed down per client address and user after repeated failures.
 */
export const POST = route({ auth: "public", body: loginSchema }, async ({ body: { username, password }, request }) => {
  checkOrigin(request);
  // server/main.ts sets the peer address on every request, overwriting anything a client sent
  const peer = request.headers.get("x-brokerwatch-remote-address") ?? "unknown";
  const key = `${clientAddress(peer, request.headers.get("x-forwarded-for"), trusted())}|${username}`;
  const wait = limiter.retryAfterMs(key);
  if (wait > 0) {
    const seconds = Math.ceil(wait / 1000);
    throw new ApiError("rate_limited", `too many failed logins; try again in ${seconds} s`, undefined, {
      "retry-after": String(seconds),
    });
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
