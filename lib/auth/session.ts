import { createHash, randomBytes } from "node:crypto";
import { deleteSession, deleteUserSessions, findSessionUser, insertSession, touchSession } from "@/db/auth";
import type { Db } from "@/db/client";
import type { UserRole } from "@/db/schema";

/**
 * Web UI sessions. The cookie is httpOnly, SameSite=Lax, Secure behind https; it carries a random
 * 256-bit token whose SHA-256 is the session's key in the database, so a leaked table can't be
 * replayed. Sessions last 7 days from their last use.
 */
export const SESSION_COOKIE = "bw_session";
const SESSION_TTL_MS = 7 * 24 * 3600_000;

export interface SessionUser {
  id: number;
  username: string;
  role: UserRole;
}

const hash = (token: string) => createHash("sha256").update(token).digest("hex");

export async function createSession(db: Db, userId: number): Promise<{ token: string; expiresAt: Date }> {
  const token = randomBytes(32).toString("base64url");
  const expiresAt = new Date(Date.now() + SESSION_TTL_MS);
  await insertSession(db, hash(token), userId, expiresAt);
  return { token, expiresAt };
}

export async function sessionUser(db: Db, token: string | undefined): Promise<SessionUser | null> {
  if (!token) return null;
  const row = await findSessionUser(db, hash(token));
  if (!row) return null;
  if (Date.now() - row.lastSeenAt.getTime() > 60_000) {
    await touchSession(db, hash(token), new Date(Date.now() + SESSION_TTL_MS));
  }
  return { id: row.id, username: row.username, role: row.role };
}

export async function endSession(db: Db, token: string | undefined): Promise<void> {
  if (token) await deleteSession(db, hash(token));
}

export async function endUserSessions(db: Db, userId: number): Promise<void> {
  await deleteUserSessions(db, userId);
}

export function sessionCookie(token: string, expiresAt: Date, secure: boolean): string {
  return [
    `${SESSION_COOKIE}=${token}`,
    "Path=/",
    "HttpOnly",
    "SameSite=Lax",
    `Expires=${expiresAt.toUTCString()}`,
    ...(secure ? ["Secure"] : []),
  ].join("; ");
}

export function clearedSessionCookie(secure: boolean): string {
  return [`${SESSION_COOKIE}=`, "Path=/", "HttpOnly", "SameSite=Lax", "Max-Age=0", ...(secure ? ["Secure"] : [])].join(
    "; ",
  );
}

/** Behind a TLS-terminating proxy the request URL is http; trust its x-forwarded-proto. */
export function isHttps(request: Request): boolean {
  return new URL(request.url).protocol === "https:" || request.headers.get("x-forwarded-proto") === "https";
}

export function readCookie(request: Request, name: string): string | undefined {
  const header = request.headers.get("cookie");
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const at = part.indexOf("=");
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}
