import "server-only";
import { randomBytes } from "node:crypto";
import { eq } from "drizzle-orm";
import type { Db } from "./client";
import { serviceSettings } from "./schema";

export async function getSetting(db: Db, key: string): Promise<string | null> {
  const [row] = await db.select().from(serviceSettings).where(eq(serviceSettings.key, key)).limit(1);
  return row?.value ?? null;
}

export async function setSetting(db: Db, key: string, value: string): Promise<void> {
  await db
    .insert(serviceSettings)
    .values({ key, value })
    .onConflictDoUpdate({ target: serviceSettings.key, set: { value, updatedAt: new Date() } });
}

/** A short id for this installation, generated once: part of every collector's MQTT client id. */
export async function installationId(db: Db): Promise<string> {
  const existing = await getSetting(db, "installation_id");
  if (existing) return existing;
  const id = randomBytes(4).toString("hex");
  await db.insert(serviceSettings).values({ key: "installation_id", value: id }).onConflictDoNothing();
  return (await getSetting(db, "installation_id"))!;
}
