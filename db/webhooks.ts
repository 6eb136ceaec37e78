import "server-only";
import { and, asc, desc, eq, gt, gte, notInArray, sql } from "drizzle-orm";
import type { Db } from "./client";
import { deliveryAttempts, notifications, webhooks, type WebhookRow } from "./schema";

/**
 * Webhook receivers: the file's (applied by lib/notify/webhooks.ts, which encrypts their secrets
 * first) and those made in the UI or the API, their notifications and delivery attempts. The UI
 * queries never touch a file webhook's definition.
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

export interface OutboxEntryStatus {
  id: number;
  /** the `webhook-id` header, which the receiver's logs show too */
  messageId: string;
  groupKey: string;
  /** firing | resolved */
  status: string;
  /** pending | delivered | failed | cancelled */
  state: string;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  /** when a pending notification is tried again (or the end of a worker's lease while sending) */
  nextAttemptAt: Date | null;
  createdAt: Date;
  deliveredAt: Date | null;
}

/** One webhook's newest notifications with their retry status, newest first. */
export async function webhookOutbox(db: Db, webhookId: number, limit: number): Promise<OutboxEntryStatus[]> {
  const rows = await db
    .select({
      id: notifications.id,
      messageId: notifications.messageId,
      groupKey: notifications.groupKey,
      status: notifications.status,
      state: notifications.state,
      attempts: notifications.attempts,
      lastStatusCode: notifications.lastStatusCode,
      lastError: notifications.lastError,
      nextAttemptAt: notifications.nextAttemptAt,
      createdAt: notifications.createdAt,
      deliveredAt: notifications.deliveredAt,
    })
    .from(notifications)
    .where(eq(notifications.webhookId, webhookId))
    .orderBy(desc(notifications.createdAt), desc(notifications.id))
    .limit(limit);
  return rows.map((r) => ({ ...r, nextAttemptAt: r.state === "pending" ? r.nextAttemptAt : null }));
}

/** Every webhook row, file and UI alike (the start-up re-encryption of stored secrets reads them). */
export async function allWebhookRows(db: Db): Promise<WebhookRow[]> {
  return db.select().from(webhooks);
}

/**
 * Stores re-encrypted secrets for a row only if its URL and secret are still those read, so a
 * concurrent edit is never overwritten with older values.
 */
export async function replaceWebhookSecrets(
  db: Db,
  row: Pick<WebhookRow, "id" | "url" | "secretEnc">,
  values: { secretEnc: string | null; headers: Record<string, string> },
): Promise<void> {
  await db
    .update(webhooks)
    .set({ ...values, headersEncrypted: true })
    .where(
      and(
        eq(webhooks.id, row.id),
        eq(webhooks.url, row.url),
        row.secretEnc === null ? sql`${webhooks.secretEnc} is null` : eq(webhooks.secretEnc, row.secretEnc),
      ),
    );
}

/**
 * Upserts one of brokerwatch.yaml's webhooks by name (docs/contract.md §2: applied at every start,
 * idempotently); `values` carry the secret and header values already encrypted.
 */
export async function upsertFileWebhook(db: Db, values: Omit<NewWebhookRow, "source"> & { source: "file" }): Promise<void> {
  await db
    .insert(webhooks)
    .values(values)
    .onConflictDoUpdate({
      target: webhooks.name,
      set: {
        ...values,
        // A 410 Gone keeps the webhook off across restarts; pointing it at a new URL is the fix.
        disabledReason: sql`case when ${webhooks.url} = excluded.url then ${webhooks.disabledReason} else null end`,
        updatedAt: sql`now()`,
      },
    });
}

/** Disables the file webhooks the file no longer lists (none is deleted: its log stays readable); their names. */
export async function disableFileWebhooksExcept(db: Db, names: readonly string[]): Promise<string[]> {
  const disabled = await db
    .update(webhooks)
    .set({ enabled: false, updatedAt: sql`now()` })
    .where(and(eq(webhooks.source, "file"), eq(webhooks.enabled, true), notInArray(webhooks.name, [...names])))
    .returning({ name: webhooks.name });
  return disabled.map((row) => row.name);
}

/** A webhook as the API shows it: whether it signs, never the secret. */
export type WebhookSummary = Omit<WebhookRow, "secretEnc"> & { signed: boolean };

export async function listWebhooks(db: Db): Promise<WebhookSummary[]> {
  const rows = await db.select().from(webhooks).orderBy(asc(webhooks.name));
  return rows.map(({ secretEnc, ...row }) => ({ ...row, signed: secretEnc !== null }));
}

export interface DeliveryLogEntry {
  attemptId: number;
  attemptedAt: Date;
  /** HTTP status; null when no answer came (connection error, timeout) */
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  notificationId: number;
  /** the `webhook-id` header, which the receiver's logs show too */
  messageId: string;
  groupKey: string;
  /** firing | resolved */
  status: string;
  /** the notification's state now: pending | delivered | failed | cancelled */
  state: string;
}

/** One webhook's HTTP attempts, newest first, each with what became of its notification. */
export async function deliveryLog(db: Db, webhookId: number, limit: number): Promise<DeliveryLogEntry[]> {
  return db
    .select({
      attemptId: deliveryAttempts.id,
      attemptedAt: deliveryAttempts.attemptedAt,
      statusCode: deliveryAttempts.statusCode,
      error: deliveryAttempts.error,
      durationMs: deliveryAttempts.durationMs,
      notificationId: notifications.id,
      messageId: notifications.messageId,
      groupKey: notifications.groupKey,
      status: notifications.status,
      state: notifications.state,
    })
    .from(deliveryAttempts)
    .innerJoin(notifications, eq(notifications.id, deliveryAttempts.notificationId))
    .where(eq(deliveryAttempts.webhookId, webhookId))
    .orderBy(desc(deliveryAttempts.attemptedAt), desc(deliveryAttempts.id))
    .limit(limit);
}

/** How one webhook's deliveries are going: what the settings badge and the overview banner show. */
export interface WebhookHealthRow {
  webhookId: number;
  lastAttemptAt: Date | null;
  lastStatusCode: number | null;
  lastError: string | null;
  lastDeliveredAt: Date | null;
  /** the first attempt after the last success, when the newest attempt failed; else null */
  failingSince: Date | null;
  /** notifications created since `since`, delivered of all */
  delivered: number;
  total: number;
  /** notifications still waiting for a retry */
  pending: number;
}

/**
 * Each webhook's delivery health. Per webhook: its newest attempt, its newest success, the first
 * attempt after that success (all three walk the (webhook_id, attempted_at) index), and the
 * notifications it was given since `since` by state.
 */
export async function webhookHealth(db: Db, webhookIds: readonly number[], since: Date): Promise<WebhookHealthRow[]> {
  return Promise.all(
    webhookIds.map(async (webhookId): Promise<WebhookHealthRow> => {
      const ok = sql`${deliveryAttempts.statusCode} between 200 and 299`;
      const [[last], [lastOk], counts] = await Promise.all([
        db
          .select({ at: deliveryAttempts.attemptedAt, statusCode: deliveryAttempts.statusCode, error: deliveryAttempts.error })
          .from(deliveryAttempts)
          .where(eq(deliveryAttempts.webhookId, webhookId))
          .orderBy(desc(deliveryAttempts.attemptedAt), desc(deliveryAttempts.id))
          .limit(1),
        db
          .select({ at: deliveryAttempts.attemptedAt })
          .from(deliveryAttempts)
          .where(and(eq(deliveryAttempts.webhookId, webhookId), ok))
          .orderBy(desc(deliveryAttempts.attemptedAt))
          .limit(1),
        db
          .select({ state: notifications.state, n: sql<number>`count(*)::int` })
          .from(notifications)
          .where(and(eq(notifications.webhookId, webhookId), gte(notifications.createdAt, since)))
          .groupBy(notifications.state),
      ]);
      const lastFailed = last !== undefined && !(last.statusCode !== null && last.statusCode >= 200 && last.statusCode < 300);
      let failingSince: Date | null = null;
      if (lastFailed) {
        const [first] = await db
          .select({ at: deliveryAttempts.attemptedAt })
          .from(deliveryAttempts)
          .where(
            and(
              eq(deliveryAttempts.webhookId, webhookId),
              lastOk ? gt(deliveryAttempts.attemptedAt, lastOk.at) : undefined,
            ),
          )
          .orderBy(asc(deliveryAttempts.attemptedAt))
          .limit(1);
        failingSince = first?.at ?? last.at;
      }
      const count = (state: string) => counts.find((c) => c.state === state)?.n ?? 0;
      return {
        webhookId,
        lastAttemptAt: last?.at ?? null,
        lastStatusCode: last?.statusCode ?? null,
        lastError: last?.error ?? null,
        lastDeliveredAt: lastOk?.at ?? null,
        failingSince,
        delivered: count("delivered"),
        total: counts.reduce((sum, c) => sum + c.n, 0),
        pending: count("pending"),
      };
    }),
  );
}
