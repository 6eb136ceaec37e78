import "server-only";
import { and, asc, desc, eq, gt, isNull, lt, sql } from "drizzle-orm";
import type { Db } from "./client";
import { oncePerDatabase } from "./prepared";
import { apiTokens, sessions, users, type ApiTokenRow, type UserRole, type UserRow } from "./schema";
import type { TokenScope } from "./vocabulary";

/**
 * The queries behind sign-in, sessions, API tokens and users. Hashing, token minting and the
 * once-a-minute touch policy stay in lib/auth/; these take and return stored values only.
 */

// Sessions -----------------------------------------------------------------------------------

/** Stores a session and drops the expired ones (housekeeping: they are useless). */
export async function insertSession(db: Db, tokenHash: string, userId: number, expiresAt: Date): Promise<void> {
  await db.insert(sessions).values({ tokenHash, userId, expiresAt });
  await db.delete(sessions).where(lt(sessions.expiresAt, new Date()));
}

/** The unexpired session's user, and when the session was last used. */
export async function findSessionUser(
  db: Db,
  tokenHash: string,
): Promise<{ id: number; username: string; role: UserRole; lastSeenAt: Date } | undefined> {
  const [row] = await sessionUserQuery(db).execute({ tokenHash, now: new Date().toISOString() });
  return row;
}

/**
 * Every page and API request asks this: prepared, it is one round trip and no planning; built once
 * per handle with placeholders (db/prepared.ts).
 */
const sessionUserQuery = oncePerDatabase((db) =>
  db
    .select({ id: users.id, username: users.username, role: users.role, lastSeenAt: sessions.lastSeenAt })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(and(eq(sessions.tokenHash, sql.placeholder("tokenHash")), gt(sessions.expiresAt, sql.placeholder("now"))))
    .limit(1)
    .prepare("session_user"),
);

export async function touchSession(db: Db, tokenHash: string, expiresAt: Date): Promise<void> {
  await db.update(sessions).set({ lastSeenAt: sql`now()`, expiresAt }).where(eq(sessions.tokenHash, tokenHash));
}

export async function deleteSession(db: Db, tokenHash: string): Promise<void> {
  await db.delete(sessions).where(eq(sessions.tokenHash, tokenHash));
}

export async function deleteUserSessions(db: Db, userId: number): Promise<void> {
  await db.delete(sessions).where(eq(sessions.userId, userId));
}

// API tokens ---------------------------------------------------------------------------------

export async function insertApiToken(
  db: Db,
  values: { name: string; role: UserRole; scope: TokenScope; brokers: string[] | null; tokenHash: string; prefix: string },
): Promise<ApiTokenRow> {
  const [row] = await db.insert(apiTokens).values(values).returning();
  return row;
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

/** The unrevoked token with this hash. */
export async function findApiToken(
  db: Db,
  tokenHash: string,
): Promise<
  { id: number; role: UserRole; scope: TokenScope; brokers: string[] | null; lastUsedAt: Date | null } | undefined
> {
  const [row] = await db
    .select({
      id: apiTokens.id,
      role: apiTokens.role,
      scope: apiTokens.scope,
      brokers: apiTokens.brokers,
      lastUsedAt: apiTokens.lastUsedAt,
    })
    .from(apiTokens)
    .where(and(eq(apiTokens.tokenHash, tokenHash), isNull(apiTokens.revokedAt)))
    .limit(1);
  return row;
}

export async function touchApiToken(db: Db, id: number): Promise<void> {
  await db
    .update(apiTokens)
    .set({ lastUsedAt: sql`now()` })
    .where(eq(apiTokens.id, id));
}

// Users --------------------------------------------------------------------------------------

export async function findUser(db: Db, username: string): Promise<UserRow | undefined> {
  const [user] = await db.select().from(users).where(eq(users.username, username)).limit(1);
  return user;
}

export async function listUsers(db: Db): Promise<Pick<UserRow, "id" | "username" | "role" | "createdAt">[]> {
  return db
    .select({ id: users.id, username: users.username, role: users.role, createdAt: users.createdAt })
    .from(users)
    .orderBy(asc(users.username));
}

/** Null when the username is taken. */
export async function insertUser(
  db: Db,
  values: { username: string; passwordHash: string; role: UserRole },
): Promise<UserRow | null> {
  const rows = await db.insert(users).values(values).onConflictDoNothing().returning();
  return rows[0] ?? null;
}

export async function deleteUserRow(db: Db, id: number): Promise<boolean> {
  const rows = await db.delete(users).where(eq(users.id, id)).returning({ id: users.id });
  return rows.length > 0;
}

export async function setPasswordHash(db: Db, id: number, passwordHash: string): Promise<void> {
  await db.update(users).set({ passwordHash }).where(eq(users.id, id));
}
