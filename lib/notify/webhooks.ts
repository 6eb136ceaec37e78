/**
 * Webhook receivers: applying brokerwatch.yaml's `webhooks:` and the queries the API reads.
 * Secrets are stored encrypted with the service key and never leave this module in clear.
 */
import { and, asc, desc, eq, notInArray, sql } from "drizzle-orm";
import type { Db } from "@/db/client";
import { deliveryAttempts, notifications, webhooks, type WebhookRow } from "@/db/schema";
import type { WebhookConfig } from "@/lib/config/schema";
import { encryptHeaderValues, encryptSecret, webhookSecretAddress } from "@/lib/crypto";

/**
 * Upserts the file's webhooks by name (docs/contract.md §2: applied at every start, idempotently) and
 * disables file webhooks the file no longer lists; none is deleted, so its delivery log stays readable.
 * `secret` is the service key that encrypts each whsec_ secret.
 */
export async function applyWebhookConfig(
  db: Db,
  configs: readonly WebhookConfig[],
  secret: string,
): Promise<{ applied: string[]; disabled: string[] }> {
  for (const config of configs) {
    const address = webhookSecretAddress(config.url);
    const values = {
      url: config.url,
      secretEnc: config.secret === undefined ? null : encryptSecret(config.secret, secret, address),
      sendResolved: config.sendResolved,
      enabled: config.enabled,
      headers: encryptHeaderValues(config.headers, secret, address),
      headersEncrypted: true,
      groupBy: config.groupBy ?? null,
      groupWaitSeconds: config.groupWaitSeconds ?? null,
      repeatIntervalSeconds: config.repeatIntervalSeconds ?? null,
      source: "file",
    };
    await db
      .insert(webhooks)
      .values({ name: config.name, ...values })
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
  const names = configs.map((c) => c.name);
  const disabled = await db
    .update(webhooks)
    .set({ enabled: false, updatedAt: sql`now()` })
    .where(and(eq(webhooks.source, "file"), eq(webhooks.enabled, true), notInArray(webhooks.name, names)))
    .returning({ name: webhooks.name });
  return { applied: names, disabled: disabled.map((row) => row.name) };
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
