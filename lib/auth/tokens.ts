import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { and, desc, eq, isNull, sql } from "drizzle-orm";
import type { Db } from "@/db/client";
import { apiTokens, type ApiTokenRow, type TokenScope, type UserRole } from "@/db/schema";

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
): Promise<{ token: string; row: ApiTokenRow }> {
  const token = `bw_${randomBytes(32).toString("base64url")}`;
  const [row] = await db
    .insert(apiTokens)
    // an ingest token ships log lines and nothing else: it never needs, and never gets, admin
    .values({ name, role: scope === "ingest" ? "viewer" : role, scope, tokenHash: hashToken(token), prefix: token.slice(0, 10) })
    .returning();
  return { token, row };
}

export async function listApiTokens(db: Db): Promise<ApiTokenRow[]> {
  return db.select().from(apiTokens).orderBy(desc(apiTokens.createdAt));
}

export async function revokeApiToken(db: Db, id: number): Promise<boolean> {
  const rows = await db
    .update(apiTokens)
    .set({ revokedAt: sql`now()` })
    .where(and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt)))
    .returning({ id: apiTokens.id });
  return rows.length > 0;
}

/** The role and scope a presented token grants, or null. `bootstrap` is BROKERWATCH_API_TOKEN (admin). */
export async function verifyApiToken(
  db: Db,
  token: string,
  bootstrap: string | undefined,
): Promise<{ role: UserRole; scope: TokenScope } | null> {
  if (bootstrap) {
    // Compare bytes, not characters: a non-ASCII token of the same length is longer in UTF-8,
    // and timingSafeEqual throws on buffers of different lengths.
    const given = Buffer.from(token);
    const expected = Buffer.from(bootstrap);
    if (given.length === expected.length && timingSafeEqual(given, expected)) return { role: "admin", scope: "api" };
  }
  if (!token.startsWith("bw_")) return null;
  const [row] = await db
    .select({ id: apiTokens.id, role: apiTokens.role, scope: apiTokens.scope, lastUsedAt: apiTokens.lastUsedAt })
    .from(apiTokens)
    .where(and(eq(apiTokens.tokenHash, hashToken(token)), isNull(apiTokens.revokedAt)))
    .limit(1);
  if (!row) return null;
  // Record use at most once a minute: a busy script must not turn every GET into a write.
  if (!row.lastUsedAt || Date.now() - row.lastUsedAt.getTime() > 60_000) {
    await db
      .update(apiTokens)
      .set({ lastUsedAt: sql`now()` })
      .where(eq(apiTokens.id, row.id));
  }
  return { role: row.role, scope: row.scope };
}
