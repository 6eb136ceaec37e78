import "server-only";
import { and, eq, exists, gt, inArray, isNull, lt, lte, notExists, notInArray, or, sql, type SQL } from "drizzle-orm";
import { alias } from "drizzle-orm/pg-core";
import type { Db } from "./client";
import {
  alertHistory,
  deliveryAttempts,
  notificationGroups,
  notifications,
  silences,
  webhooks,
  type SilenceRow,
  type WebhookRow,
} from "./schema";
import type { AlertHistoryRow } from "./alerts";

/**
 * The notifier's queries: what the dispatcher reads and writes when it plans notifications
 * (lib/notify/dispatch.ts) and how the delivery workers claim and settle outbox rows
 * (lib/notify/outbox.ts). Delivery is at-least-once from this table (docs/architecture.md §4).
 */
export type NotificationGroupRow = typeof notificationGroups.$inferSelect;
export type NewNotificationRow = typeof notifications.$inferInsert;

// Dispatch -----------------------------------------------------------------------------------

/** The webhooks to notify: enabled and not disabled by a 410. */
export async function notifiableWebhooks(db: Db): Promise<WebhookRow[]> {
  return db
    .select()
    .from(webhooks)
    .where(and(eq(webhooks.enabled, true), isNull(webhooks.disabledReason)));
}

export async function notificationGroupsOf(db: Db, webhookIds: readonly number[]): Promise<NotificationGroupRow[]> {
  return db
    .select()
    .from(notificationGroups)
    .where(inArray(notificationGroups.webhookId, [...webhookIds]));
}

export async function silencesEndingAfter(db: Db, now: Date): Promise<SilenceRow[]> {
  return db.select().from(silences).where(gt(silences.endsAt, now));
}

export async function saveNotificationGroup(
  db: Db,
  state: Pick<NotificationGroupRow, "webhookId" | "groupKey" | "lastFiringHash" | "lastNotifiedAt" | "firstSeenAt">,
): Promise<void> {
  const { webhookId, groupKey, ...values } = state;
  await db
    .insert(notificationGroups)
    .values({ webhookId, groupKey, ...values })
    .onConflictDoUpdate({ target: [notificationGroups.webhookId, notificationGroups.groupKey], set: values });
}

/** The history episode of one alert firing (fingerprint and start), if retention kept it. */
export async function alertEpisode(db: Db, fingerprint: string, firedAt: Date): Promise<AlertHistoryRow | undefined> {
  const [episode] = await db
    .select()
    .from(alertHistory)
    .where(and(eq(alertHistory.fingerprint, fingerprint), eq(alertHistory.firedAt, firedAt)))
    .limit(1);
  return episode;
}

// Outbox -------------------------------------------------------------------------------------

/** Inserts a notification; false when one with the same (webhook, dedupKey) is already there. */
export async function insertNotification(db: Db, values: NewNotificationRow): Promise<boolean> {
  const inserted = await db
    .insert(notifications)
    .values(values)
    .onConflictDoNothing({ target: [notifications.webhookId, notifications.dedupKey] })
    .returning({ id: notifications.id });
  return inserted.length > 0;
}

export async function webhooksByIds(db: Db, ids: readonly number[]): Promise<WebhookRow[]> {
  return db
    .select()
    .from(webhooks)
    .where(inArray(webhooks.id, [...ids]));
}

export async function countPendingNotifications(db: Db): Promise<number> {
  return db.$count(notifications, eq(notifications.state, "pending"));
}

export interface ClaimedNotification {
  id: number;
  webhookId: number;
  messageId: string;
  body: string;
  attempts: number;
  createdAt: Date;
}

/** Another notification of the outer row's group to the same webhook, in a correlated subquery. */
const groupmate = alias(notifications, "groupmate");

/** The pending groupmates of the outer notifications row that also meet `conditions`. */
function pendingOfGroup(db: Db, ...conditions: SQL[]) {
  return db
    .select({ id: groupmate.id })
    .from(groupmate)
    .where(
      and(
        eq(groupmate.webhookId, notifications.webhookId),
        eq(groupmate.groupKey, notifications.groupKey),
        eq(groupmate.state, "pending"),
        ...conditions,
      ),
    );
}

/**
 * Cancels, as superseded, each pending notification that has failed at least once, is not in
 * flight (unclaimed, or its claim older than `claimedBefore`), and has a newer pending one of its
 * group to the same webhook created before `newerCreatedBefore`. Its attempts stay in the log.
 */
export async function supersedeNotifications(
  db: Db,
  opts: { claimedBefore: Date; newerCreatedBefore: Date },
): Promise<void> {
  await db
    .update(notifications)
    .set({ state: "cancelled", lastError: "superseded by a newer notification of its group", claimedAt: null })
    .where(
      and(
        eq(notifications.state, "pending"),
        gt(notifications.attempts, 0),
        or(isNull(notifications.claimedAt), lt(notifications.claimedAt, opts.claimedBefore)),
        exists(
          pendingOfGroup(db, gt(groupmate.id, notifications.id), lte(groupmate.createdAt, opts.newerCreatedBefore)),
        ),
      ),
    );
}

/**
 * Claims up to `limit` due rows by pushing their `next_attempt_at` to `leaseUntil`, in one
 * `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING`, so no two workers claim a
 * row at once. A row waits while an older notification of the same group to the same webhook is
 * still pending, so a receiver never hears "resolved" before the "firing" it resolves.
 */
export async function claimDueNotifications(
  db: Db,
  q: { now: Date; leaseUntil: Date; limit: number; busyWebhooks: readonly number[] },
): Promise<ClaimedNotification[]> {
  const due = db
    .select({ id: notifications.id })
    .from(notifications)
    .where(
      and(
        eq(notifications.state, "pending"),
        lte(notifications.nextAttemptAt, q.now),
        notInArray(notifications.webhookId, [...q.busyWebhooks]),
        notExists(pendingOfGroup(db, lt(groupmate.id, notifications.id))),
      ),
    )
    .orderBy(notifications.nextAttemptAt, notifications.id)
    .limit(q.limit)
    .for("update", { skipLocked: true });
  return db
    .update(notifications)
    .set({ nextAttemptAt: q.leaseUntil, claimedAt: q.now })
    .where(inArray(notifications.id, due))
    .returning({
      id: notifications.id,
      webhookId: notifications.webhookId,
      messageId: notifications.messageId,
      body: notifications.body,
      attempts: notifications.attempts,
      createdAt: notifications.createdAt,
    });
}

/** Changes a notification that is still pending (a settled one is left alone). */
export async function updatePendingNotification(
  db: Db,
  id: number,
  changes: Partial<Pick<NewNotificationRow, "state" | "lastError" | "nextAttemptAt" | "claimedAt">>,
): Promise<void> {
  await db
    .update(notifications)
    .set(changes)
    .where(and(eq(notifications.id, id), eq(notifications.state, "pending")));
}

export interface AttemptRecord {
  notificationId: number;
  webhookId: number;
  attemptedAt: Date;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  /** what becomes of the notification */
  next: Pick<NewNotificationRow, "state" | "nextAttemptAt" | "lastError" | "deliveredAt">;
  /** set on a 410 Gone: the webhook is disabled with this reason and its pending rows cancelled */
  goneReason: string | null;
  /** on a delivery, the webhook's other waiting rows become due now, except those claimed since this (a lease ago) */
  staleClaimsBefore: Date;
}

/** Writes an attempt to the delivery log and moves its notification on, in one transaction. */
export async function recordAttempt(db: Db, r: AttemptRecord): Promise<void> {
  await db.transaction(async (tx) => {
    if (r.goneReason !== null) {
      // The webhook row is locked first so two 410s for one webhook queue up here rather than
      // deadlock on each other's notification rows below.
      await tx
        .update(webhooks)
        .set({ disabledReason: r.goneReason, updatedAt: sql`now()` })
        .where(eq(webhooks.id, r.webhookId));
    }
    await tx.insert(deliveryAttempts).values({
      notificationId: r.notificationId,
      webhookId: r.webhookId,
      attemptedAt: r.attemptedAt,
      statusCode: r.statusCode,
      error: r.error,
      durationMs: r.durationMs,
    });
    await tx
      .update(notifications)
      .set({ ...r.next, attempts: sql`${notifications.attempts} + 1`, claimedAt: null, lastStatusCode: r.statusCode })
      .where(and(eq(notifications.id, r.notificationId), eq(notifications.state, "pending")));
    if (r.goneReason !== null) {
      await tx
        .update(notifications)
        .set({ state: "cancelled", lastError: r.goneReason })
        .where(and(eq(notifications.webhookId, r.webhookId), eq(notifications.state, "pending")));
    }
    if (r.next.state === "delivered") {
      // The receiver answers again: what waits for a retry to it is due now, not at its backoff.
      // Rows another request holds (claimed, lease not run out) are left alone: moving them
      // would send them twice.
      await tx
        .update(notifications)
        .set({ nextAttemptAt: r.attemptedAt })
        .where(
          and(
            eq(notifications.webhookId, r.webhookId),
            eq(notifications.state, "pending"),
            gt(notifications.nextAttemptAt, r.attemptedAt),
            or(isNull(notifications.claimedAt), lt(notifications.claimedAt, r.staleClaimsBefore)),
          ),
        );
    }
  });
}
