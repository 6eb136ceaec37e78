import { hash, verify } from "@node-rs/argon2";
import { asc, eq } from "drizzle-orm";
import type { Db } from "@/db/client";
import { users, type UserRole, type UserRow } from "@/db/schema";
import { endUserSessions } from "./session";

/** A hash to verify against when the user doesn't exist, so timing doesn't reveal valid usernames. */
let decoyHash: Promise<string> | null = null;

export async function checkPassword(db: Db, username: string, password: string): Promise<UserRow | null> {
  const [user] = await db.select().from(users).where(eq(users.username, username)).limit(1);
  if (!user) {
    decoyHash ??= hash("decoy password that matches nobody");
    await verify(await decoyHash, password).catch(() => false);
    return null;
  }
  return (await verify(user.passwordHash, password).catch(() => false)) ? user : null;
}

export async function listUsers(db: Db): Promise<Pick<UserRow, "id" | "username" | "role" | "createdAt">[]> {
  return db
    .select({ id: users.id, username: users.username, role: users.role, createdAt: users.createdAt })
    .from(users)
    .orderBy(asc(users.username));
}

export async function createUser(db: Db, username: string, password: string, role: UserRole): Promise<UserRow | null> {
  const rows = await db
    .insert(users)
    .values({ username, passwordHash: await hash(password), role })
    .onConflictDoNothing()
    .returning();
  return rows[0] ?? null;
}

export async function deleteUser(db: Db, id: number): Promise<boolean> {
  const rows = await db.delete(users).where(eq(users.id, id)).returning({ id: users.id });
  await endUserSessions(db, id);
  return rows.length > 0;
}

export async function setUserPassword(db: Db, id: number, password: string): Promise<void> {
  await db
    .update(users)
    .set({ passwordHash: await hash(password) })
    .where(eq(users.id, id));
  await endUserSessions(db, id);
}
