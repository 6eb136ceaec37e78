import "server-only";
import { and, asc, eq, sql } from "drizzle-orm";
import type { Db } from "./client";
import { brokers, type BrokerRow, type NewBrokerRow } from "./schema";
import type { DialectName } from "./vocabulary";

/** Insert or update a broker by name (config and bundled broker are applied idempotently at start). */
export async function upsertBroker(db: Db, broker: NewBrokerRow): Promise<BrokerRow> {
  const { name: _name, createdAt: _created, ...changes } = broker;
  const [row] = await db
    .insert(brokers)
    .values(broker)
    .onConflictDoUpdate({ target: brokers.name, set: { ...changes, updatedAt: sql`now()` } })
    .returning();
  return row;
}

export async function listBrokers(db: Db, opts: { includeDisabled?: boolean } = {}): Promise<BrokerRow[]> {
  const query = db.select().from(brokers).orderBy(asc(brokers.cluster), asc(brokers.name));
  const rows = await query;
  return opts.includeDisabled ? rows : rows.filter((b) => b.enabled);
}

export async function getBroker(db: Db, name: string): Promise<BrokerRow | undefined> {
  const [row] = await db.select().from(brokers).where(eq(brokers.name, name)).limit(1);
  return row;
}

export async function setBrokerStatus(
  db: Db,
  name: string,
  status: "up" | "down" | "unknown",
  lastSeenAt: Date | null,
): Promise<void> {
  await db
    .update(brokers)
    .set({
      // status_since moves only when the status changes
      statusSince: sql`case when ${brokers.status} = ${status} then ${brokers.statusSince} else now() end`,
      status,
      ...(lastSeenAt ? { lastSeenAt } : {}),
    })
    .where(eq(brokers.name, name));
}

export async function updateBrokerDetection(
  db: Db,
  name: string,
  change: { version?: string; detectedDialect?: DialectName },
): Promise<void> {
  await db.update(brokers).set(change).where(eq(brokers.name, name));
}

/**
 * Apply the brokers of brokerwatch.yaml: upsert by name as `source: file`, and disable (never
 * delete: their history stays) file brokers that are no longer in the file.
 */
export async function applyFileBrokers(db: Db, rows: NewBrokerRow[]): Promise<void> {
  const names = new Set(rows.map((r) => r.name));
  for (const row of rows) await upsertBroker(db, { ...row, source: "file" });
  const existing = await db.select({ name: brokers.name }).from(brokers).where(eq(brokers.source, "file"));
  for (const { name } of existing) {
    if (!names.has(name))
      await db
        .update(brokers)
        .set({ enabled: false, updatedAt: sql`now()` })
        .where(eq(brokers.name, name));
  }
}

/** A broker made in the UI or the API; null when the name is taken (by any source: never overwrite). */
export async function insertUiBroker(db: Db, values: Omit<NewBrokerRow, "source">): Promise<BrokerRow | null> {
  const [row] = await db
    .insert(brokers)
    .values({ ...values, source: "ui" })
    .onConflictDoNothing({ target: brokers.name })
    .returning();
  return row ?? null;
}

/**
 * Edit a UI broker; null when there is none by that name (any more). `source = 'ui'` is checked in
 * the update itself: a restart with a changed file may have claimed the name meanwhile.
 */
export async function updateUiBroker(db: Db, name: string, values: Partial<NewBrokerRow>): Promise<BrokerRow | null> {
  const [row] = await db
    .update(brokers)
    .set({ ...values, updatedAt: sql`now()` })
    .where(and(eq(brokers.name, name), eq(brokers.source, "ui")))
    .returning();
  return row ?? null;
}

/**
 * Replaces a stored password ciphertext only if it is still `from`: the start-up re-encryption
 * must not overwrite a password saved in between.
 */
export async function replaceBrokerPasswordEnc(db: Db, name: string, from: string, to: string): Promise<void> {
  await db
    .update(brokers)
    .set({ passwordEnc: to })
    .where(and(eq(brokers.name, name), eq(brokers.passwordEnc, from)));
}
