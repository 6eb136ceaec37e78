/**
 * Webhook receivers: applying brokerwatch.yaml's `webhooks:` and the queries the API reads.
 * Secrets are stored encrypted with the service key and never leave this module in clear.
 */
import type { Db } from "@/db/client";
import { disableFileWebhooksExcept, upsertFileWebhook } from "@/db/webhooks";
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
      source: "file" as const,
    };
    await upsertFileWebhook(db, { name: config.name, ...values });
  }
  const names = configs.map((c) => c.name);
  return { applied: names, disabled: await disableFileWebhooksExcept(db, names) };
}

export { deliveryLog, listWebhooks, type DeliveryLogEntry, type WebhookSummary } from "@/db/webhooks";

