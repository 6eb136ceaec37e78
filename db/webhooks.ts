import { and, eq, sql } from "drizzle-orm";
import type { Db } from "./client";
import { webhooks, type WebhookRow } from "./schema";

/**
 * Webhook receivers made in the UI or the API. brokerwatch.yaml's webhooks are applied by
 * lib/notify/webhooks.ts and listed there; these queries never touch a file webhook's definition.
 */
export type NewWebhookRow = typeof webhooks.$inferInsert;

/** Inserts a UI webhook; null when the name is taken (the name is the unique key, as in the file). */
export async function insertWebhook(db: Db, values: Omit<NewWebhookRow, "source">): Promise<WebhookRow | null> {
  const [row] = await db
    .insert(webhooks)
    .values({ ...values, source: "ui" })
    .onConflictDoNothing({ target: webhooks.name })
    .returning();
  return row ?? null;
}

export async function getWebhook(db: Db, id: number): Promise<WebhookRow | undefined> {
  const [row] = await db.select().from(webhooks).where(eq(webhooks.id, id)).limit(1);
  return row;
}

export async function getWebhookByName(db: Db, name: string): Promise<WebhookRow | undefined> {
  const [row] = await db.select().from(webhooks).where(eq(webhooks.name, name)).limit(1);
  return row;
}

/** Updates a UI webhook's definition; null when it is not (or no longer) a UI webhook. */
export async function updateUiWebhook(
  db: Db,
  id: number,
  changes: Partial<Omit<NewWebhookRow, "id" | "name" | "source" | "createdAt">>,
): Promise<WebhookRow | null> {
  const [row] = await db
    .update(webhooks)
    .set({ ...changes, updatedAt: sql`now()` })
    .where(and(eq(webhooks.id, id), eq(webhooks.source, "ui")))
    .returning();
  return row ?? null;
}

/**
 * Lifts a 410 Gone stop. That is delivery state, not definition, so it applies to file webhooks
 * too: the file is re-applied at start but keeps `disabledReason` while the URL is unchanged.
 */
export async function clearWebhookDisabledReason(db: Db, id: number): Promise<WebhookRow | null> {
  const [row] = await db
    .update(webhooks)
    .set({ disabledReason: null, updatedAt: sql`now()` })
    .where(eq(webhooks.id, id))
    .returning();
  return row ?? null;
}
