import { createHash } from "node:crypto";
import type { TokenScope, UserRole } from "@/db/schema";
import { ApiError } from "@/lib/http";
import { getRuntime } from "@/lib/runtime";
import { readCookie, SESSION_COOKIE, sessionUser } from "./session";
import { verifyApiToken } from "./tokens";
import { markVerified } from "./verified";

export interface Caller {
  role: UserRole;
  via: "token" | "session";
  username: string | null;
  /** `ingest` tokens reach only the log-shipping route */
  scope: TokenScope;
  /** an ingest token limited to these brokers; null, every broker */
  brokers: string[] | null;
}

/**
 * Whether `caller` may ship log lines to broker `name`. Asked before the broker is looked up, and
 * answered the same whether it exists or not: a token limited to some brokers learns nothing of
 * the others' names (issue 18).
 */
export function assertBrokerInScope(caller: Caller, name: string): void {
  if (caller.brokers !== null && !caller.brokers.includes(name)) {
    throw new ApiError("forbidden", `this token may not ship log lines to "${name}": it is limited to other brokers`);
  }
}

/** What a route needs: a role, or `ingest` (an admin, or a token of scope ingest). */
export type Need = UserRole | "ingest";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * A mutation made with the session cookie must come from our own pages: the browser's Origin
 * (or Sec-Fetch-Site) must match. Bearer tokens carry no ambient authority, so they are exempt.
 */
export function checkOrigin(request: Request): void {
  if (SAFE_METHODS.has(request.method)) return;
  const site = request.headers.get("sec-fetch-site");
  if (site === "same-origin") return;
  const origin = request.headers.get("origin");
  const host = request.headers.get("x-forwarded-host") ?? request.headers.get("host");
  // `Origin: null` (a sandboxed frame, a data: URL) is not a URL and never our site.
  if (origin && host && URL.canParse(origin) && new URL(origin).host === host) return;
  throw new ApiError("forbidden", "cross-site request refused: the Origin does not match this site");
}

/**
 * Who is asking: `Authorization: Bearer <token>` (BROKERWATCH_API_TOKEN or a stored token), or the
 * web UI's session cookie. Throws ApiError("unauthorized") otherwise; `need: "admin"` refuses viewers.
 */
export async function authorize(request: Request, need: Need = "viewer"): Promise<Caller> {
  const db = getRuntime().database.db;
  const header = request.headers.get("authorization");
  let caller: Caller | null = null;
  if (header) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const granted = match ? await verifyApiToken(db, match[1], process.env.BROKERWATCH_API_TOKEN || undefined) : null;
    if (!granted) throw new ApiError("unauthorized", "invalid or revoked API token");
    // An ingest token may only ship log lines (POST /api/brokers/{name}/log): nothing else answers it.
    if (granted.scope === "ingest" && need !== "ingest") {
      throw new ApiError("forbidden", "this token may only ship log lines (scope ingest): POST /api/brokers/{name}/log");
    }
    caller = { role: granted.role, via: "token", username: null, scope: granted.scope, brokers: granted.brokers };
  } else {
    const user = await sessionUser(db, readCookie(request, SESSION_COOKIE));
    if (user) {
      checkOrigin(request);
      caller = { role: user.role, via: "session", username: user.username, scope: "api", brokers: null };
    }
  }
  if (!caller) throw new ApiError("unauthorized", "missing credentials: send Authorization: Bearer <token> or log in");
  if (need === "admin" && caller.role !== "admin") {
    throw new ApiError("forbidden", "this needs an admin; you are signed in as a viewer");
  }
  if (need === "ingest" && caller.scope !== "ingest" && caller.role !== "admin") {
    throw new ApiError("forbidden", "shipping log lines needs an admin or a token of scope ingest");
  }
  return markVerified(caller);
}

/**
 * Whether the credential a long-lived response (an event stream) was opened with still verifies:
 * the token not revoked, the session not ended. Never throws.
 */
export async function stillAuthorized(request: Request, need: UserRole = "viewer"): Promise<boolean> {
  try {
    await authorize(request, need);
    return true;
  } catch {
    return false;
  }
}

/**
 * How often an open event stream re-checks its credential. BROKERWATCH_STREAM_RECHECK_MS is for
 * tests (internal, not part of the configuration); the default keeps a revoked token or an ended
 * session from watching for more than 30 s.
 */
export function streamRecheckMs(): number {
  const configured = Number(process.env.BROKERWATCH_STREAM_RECHECK_MS);
  return Number.isFinite(configured) && configured >= 50 && configured <= 30_000 ? configured : 30_000;
}

/**
 * Re-check the credential of an open stream every streamRecheckMs() and close the stream once it
 * no longer verifies (logged out, session expired, token revoked, user deleted). Returns the stop.
 */
export function closeWhenRevoked(request: Request, close: () => void, need: UserRole = "viewer"): () => void {
  let checking = false;
  const timer = setInterval(async () => {
    if (checking) return;
    checking = true;
    try {
      if (!(await stillAuthorized(request, need))) close();
    } finally {
      checking = false;
    }
  }, streamRecheckMs());
  return () => clearInterval(timer);
}

/** Open event streams per credential when BROKERWATCH_MAX_STREAMS is not set (docs/contract.md §1). */
export const DEFAULT_MAX_STREAMS_PER_CREDENTIAL = 20;

export function maxStreamsPerCredential(): number {
  const configured = Number(process.env.BROKERWATCH_MAX_STREAMS);
  return Number.isInteger(configured) && configured >= 1 && configured <= 10_000
    ? configured
    : DEFAULT_MAX_STREAMS_PER_CREDENTIAL;
}

/**
 * Open streams by credential (a hash of the bearer token or the session cookie), on globalThis
 * because Next bundles each route separately and both stream routes must count against one cap.
 */
const STREAM_SLOTS = Symbol.for("brokerwatch.streamSlots");
function streamSlots(): Map<string, number> {
  const holder = globalThis as { [STREAM_SLOTS]?: Map<string, number> };
  return (holder[STREAM_SLOTS] ??= new Map());
}

function credentialKey(request: Request): string {
  const header = request.headers.get("authorization");
  const credential = header ? `token:${header.trim()}` : `session:${readCookie(request, SESSION_COOKIE) ?? ""}`;
  return createHash("sha256").update(credential).digest("base64url");
}

/**
 * Take one of the caller's stream slots (call after authorize): a tab holds one or two streams, so
 * 20 leave room for many tabs, while 3,000 streams on one token (each a snapshot a second) cannot
 * starve the service. Over the cap: 429 naming the cap. The returned function frees the slot; call
 * it exactly once, when the stream ends.
 */
export function takeStreamSlot(request: Request): () => void {
  const slots = streamSlots();
  const key = credentialKey(request);
  const max = maxStreamsPerCredential();
  const open = slots.get(key) ?? 0;
  if (open >= max) {
    throw new ApiError(
      "rate_limited",
      `too many open event streams for this credential: ${open} of ${max} (BROKERWATCH_MAX_STREAMS); close a tab or another stream and retry`,
      { openStreams: open, maxStreams: max },
      { "retry-after": "5" },
    );
  }
  slots.set(key, open + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const left = (slots.get(key) ?? 1) - 1;
    if (left <= 0) slots.delete(key);
    else slots.set(key, left);
  };
}
