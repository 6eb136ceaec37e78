import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { hash, verify } from "@node-rs/argon2";
import { findUser, insertUser, setPasswordHash } from "@/db/auth";
import type { Db } from "@/db/client";
import { endUserSessions } from "./session";

/**
 * First-start secrets. The admin password comes from BROKERWATCH_ADMIN_PASSWORD, or is
 * generated once and returned so the start can print it (it is never shown again: only
 * its argon2id hash is stored).
 */
export async function ensureAdminUser(
  db: Db,
  envPassword: string | undefined,
): Promise<{ generatedPassword: string | null }> {
  const existing = await findUser(db, "admin");
  if (existing) {
    // The variable is the source of truth while it is set: an operator rotating it expects it to
    // apply — and expects whoever signed in with the old password to be signed out.
    if (envPassword && !(await verify(existing.passwordHash, envPassword).catch(() => false))) {
      await setPasswordHash(db, existing.id, await hash(envPassword));
      await endUserSessions(db, existing.id);
    }
    return { generatedPassword: null };
  }
  const password = envPassword ?? randomBytes(12).toString("base64url");
  await insertUser(db, { username: "admin", passwordHash: await hash(password), role: "admin" });
  return { generatedPassword: envPassword ? null : password };
}

/**
 * The key that encrypts stored broker passwords and webhook secrets: BROKERWATCH_SECRET, or
 * generated into the data directory on first start (mode 0600).
 */
export async function ensureServiceSecret(dataDir: string, envSecret: string | undefined): Promise<string> {
  if (envSecret) return envSecret;
  const file = path.join(dataDir, "secret.key");
  try {
    return (await readFile(file, "utf8")).trim();
  } catch {
    await mkdir(dataDir, { recursive: true });
    const secret = randomBytes(32).toString("base64url");
    await writeFile(file, secret + "\n", { mode: 0o600, flag: "wx" }).catch(async () => undefined);
    return (await readFile(file, "utf8")).trim();
  }
}
