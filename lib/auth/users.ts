import { hash, verify } from "@node-rs/argon2";
import { deleteUserRow, findUser, insertUser, setPasswordHash } from "@/db/auth";
import type { Db } from "@/db/client";
import type { UserRole, UserRow } from "@/db/schema";

export { listUsers } from "@/db/auth";
import { endUserSessions } from "./session";

/** A hash to verify against when the user doesn't exist, so timing doesn't reveal valid usernames. */
let decoyHash: Promise<string> | null = null;

export async function checkPassword(db: Db, username: string, password: string): Promise<UserRow | null> {
  const user = await findUser(db, username);
  if (!user) {
    decoyHash ??= hash("decoy password that matches nobody");
    await verify(await decoyHash, password).catch(() => false);
    return null;
  }
  return (await verify(user.passwordHash, password).catch(() => false)) ? user : null;
}

export async function createUser(db: Db, username: string, password: string, role: UserRole): Promise<UserRow | null> {
  return insertUser(db, { username, passwordHash: await hash(password), role });
}

export async function deleteUser(db: Db, id: number): Promise<boolean> {
  const deleted = await deleteUserRow(db, id);
  await endUserSessions(db, id);
  return deleted;
}

export async function setUserPassword(db: Db, id: number, password: string): Promise<void> {
  await setPasswordHash(db, id, await hash(password));
  await endUserSessions(db, id);
}
