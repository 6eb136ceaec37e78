import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { findApiToken, insertApiToken, touchApiToken } from "@/db/auth";
import type { Db } from "@/db/client";
import type { ApiTokenRow, TokenScope, UserRole } from "@/db/schema";

export { listApiTokens, revokeApiToken } from "@/db/auth";

/**
 * API bearer tokens: `bw_` + 32 random bytes. Only the SHA-256 is stored — a token has 256 bits of
 * entropy, so a slow password hash would add nothing but latency to every API call.
 */
export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export async function createApiToken(
  db: Db,
  name: string,
  role: UserRole = "viewer",
  scope: TokenScope = "api",
  /** ingest tokens: the brokers it may ship to; null, every broker */
  brokers: string[] | null = null,
): Promise<{ token: string; row: ApiTokenRow }> {
  const token = `bw_${randomBytes(32).toString("base64url")}`;
  const row = await insertApiToken(db, {
    name,
    // an ingest token ships log lines and nothing else: it never needs, and never gets, admin
    role: scope === "ingest" ? "viewer" : role,
    scope,
    brokers: scope === "ingest" && brokers?.length ? brokers : null,
    tokenHash: hashToken(token),
    prefix: token.slice(0, 10),
  });
  return { token, row };
}

/** The role and scope a presented token grants, or null. `bootstrap` is BROKERWATCH_API_TOKEN (admin). */
export async function verifyApiToken(
  db: Db,
  token: string,
  bootstrap: string | undefined,
): Promise<{ role: UserRole; scope: TokenScope; brokers: string[] | null } | null> {
  if (bootstrap) {
    // Compare bytes, not characters: a non-ASCII token of the same length is longer in UTF-8,
    // and timingSafeEqual throws on buffers of different lengths.
    const given = Buffer.from(token);
    const expected = Buffer.from(bootstrap);
    if (given.length === expected.length && timingSafeEqual(given, expected)) return { role: "admin", scope: "api", brokers: null };
  }
  if (!token.startsWith("bw_")) return null;
  const row = await findApiToken(db, hashToken(token));
  if (!row) return null;
  // Record use at most once a minute: a busy script must not turn every GET into a write.
  if (!row.lastUsedAt || Date.now() - row.lastUsedAt.getTime() > 60_000) {
    await touchApiToken(db, row.id);
  }
  return { role: row.role, scope: row.scope, brokers: row.brokers };
}
