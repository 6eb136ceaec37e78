import "server-only";
import {
  deliveryLog,
  listWebhooks,
  webhookOutbox,
  type DeliveryLogEntry,
  type OutboxEntryStatus,
  type WebhookSummary,
} from "@/db/webhooks";
import { webhookUrlForViewer } from "@/lib/auth/redact";
import { assertVerified, isAdmin, type Verified } from "@/lib/auth/verified";
import { getRuntime } from "@/lib/runtime";

/**
 * What the deliveries page and GET /api/webhooks/{id}/deliveries read: each webhook's newest
 * notifications with their retry status and its newest HTTP attempts. Only for a verified caller;
 * db/webhooks.ts holds the queries.
 */
export type { DeliveryLogEntry, OutboxEntryStatus, WebhookSummary };

export interface WebhookDeliveries {
  hook: WebhookSummary;
  notifications: OutboxEntryStatus[];
  attempts: DeliveryLogEntry[];
}

async function deliveriesOf(hook: WebhookSummary, limits: { notifications: number; attempts: number }) {
  const db = getRuntime().database.db;
  const [notifications, attempts] = await Promise.all([
    webhookOutbox(db, hook.id, limits.notifications),
    deliveryLog(db, hook.id, limits.attempts),
  ]);
  return { hook, notifications, attempts };
}

/**
 * Every webhook's deliveries, for the page. A webhook URL is often the credential itself: a viewer
 * sees where deliveries go, not the URL, and no error text that quotes it.
 */
export async function webhookDeliveryLogs(
  viewer: Verified,
  limits: { notifications: number; attempts: number },
): Promise<WebhookDeliveries[]> {
  assertVerified(viewer);
  const hooks = await listWebhooks(getRuntime().database.db);
  const logs = await Promise.all(hooks.map((hook) => deliveriesOf(hook, limits)));
  return isAdmin(viewer) ? logs : logs.map(forViewer);
}

/**
 * A failed delivery's text quotes the receiver's answer (up to 300 bytes of its body) or our error,
 * which names the receiver's address: both are for admins. A viewer sees the status code and a
 * message that says what kind of failure it was, and never the webhook URL.
 */
export function viewerDeliveryError(error: string | null, statusCode: number | null): string | null {
  if (error === null) return null;
  if (statusCode !== null) return `HTTP ${statusCode} from the receiver (its answer is shown to admins only)`;
  return "failed before the receiver answered (details are shown to admins only)";
}

function forViewer({ hook, notifications, attempts }: WebhookDeliveries): WebhookDeliveries {
  return {
    hook: { ...hook, url: webhookUrlForViewer(hook.url) },
    notifications: notifications.map((n) => ({ ...n, lastError: viewerDeliveryError(n.lastError, n.lastStatusCode) })),
    attempts: attempts.map((a) => ({ ...a, error: viewerDeliveryError(a.error, a.statusCode) })),
  };
}

/** One webhook's deliveries by id, as the API shows them; null when no webhook has that id. */
export async function webhookDeliveries(
  viewer: Verified,
  id: string,
  limit: number,
): Promise<WebhookDeliveries | null> {
  assertVerified(viewer);
  const hooks = /^\d+$/.test(id) ? await listWebhooks(getRuntime().database.db) : [];
  const hook = hooks.find((w) => w.id === Number(id));
  if (!hook) return null;
  const found = await deliveriesOf(hook, { notifications: limit, attempts: limit });
  return isAdmin(viewer) ? found : forViewer(found);
}
