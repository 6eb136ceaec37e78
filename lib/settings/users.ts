/**
 * People who sign in to the UI. Two rules keep an installation manageable: nobody removes
 * themselves (a slip of the mouse would lock them out mid-session), and the last admin stays.
 */
import type { Db } from "@/db/client";
import type { UserRow } from "@/db/schema";
import type { Caller } from "@/lib/auth/api";
import { createUser, deleteUser, listUsers, setUserPassword } from "@/lib/auth/users";
import { ApiError } from "@/lib/http";
import { parseInput } from "./input";
import { UserCreateSchema, UserPatchSchema } from "./schemas";
import type { UserView } from "./views";
import { assertVerified, type Verified } from "@/lib/auth/verified";
import { getRuntime } from "@/lib/runtime";

export function userView(user: Pick<UserRow, "id" | "username" | "role" | "createdAt">): UserView {
  return { id: user.id, username: user.username, role: user.role, createdAt: user.createdAt.toISOString() };
}

/** For a caller requireUser() or authorize() checked: the settings page and the API's list. */
export async function userSettings(viewer: Verified): Promise<UserView[]> {
  assertVerified(viewer);
  const db = getRuntime().database.db;
  return (await listUsers(db)).map(userView);
}

async function findUser(db: Db, id: number) {
  const user = (await listUsers(db)).find((u) => u.id === id);
  if (!user) throw new ApiError("not_found", `no user with id ${id}`);
  return user;
}

export async function addUser(db: Db, body: unknown): Promise<UserView> {
  const input = parseInput(UserCreateSchema, body);
  const user = await createUser(db, input.username, input.password, input.role);
  if (!user) {
    throw new ApiError("conflict", `a user named "${input.username}" already exists`, { parameter: "username" });
  }
  return userView(user);
}

/** A new password ends every session of that user, the caller's own included when it is theirs. */
export async function changePassword(db: Db, id: number, body: unknown): Promise<UserView> {
  const input = parseInput(UserPatchSchema, body);
  const user = await findUser(db, id);
  await setUserPassword(db, id, input.password);
  return userView(user);
}

export async function removeUser(db: Db, caller: Caller, id: number): Promise<void> {
  const users = await listUsers(db);
  const user = users.find((u) => u.id === id);
  if (!user) throw new ApiError("not_found", `no user with id ${id}`);
  if (caller.via === "session" && caller.username === user.username) {
    throw new ApiError("conflict", "you cannot remove yourself; ask another admin to do it");
  }
  if (user.role === "admin" && users.filter((u) => u.role === "admin").length <= 1) {
    throw new ApiError("conflict", `"${user.username}" is the last admin; make another admin first`);
  }
  await deleteUser(db, id);
}
