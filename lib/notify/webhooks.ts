/**
 * Webhook receivers: applying brokerwatch.yaml's `webhooks:` and the queries the API reads.
 * Secrets are stored encrypted with the service key and never leave this module in clear.
 */
import type { Db } from "@/db/client";
import { disableFileWebhooksExcept, upsertFileWebhook, type NewWebhookRow } from "@/db/webhooks";
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
    // the file is the whole definition: no secret there means none stored
    await upsertFileWebhook(db, {
      name: config.name,
      secretEnc: null,
      ...webhookColumns(config, secret),
      source: "file",
    });
  }
  const names = configs.map((c) => c.name);
  return { applied: names, disabled: await disableFileWebhooksExcept(db, names) };
}

/**
 * Columns from a validated definition; `secretEnc` only when a secret was given. The secret and the
 * header values are encrypted bound to the URL's origin and path (lib/crypto.ts).
 */
export function webhookColumns(config: WebhookConfig, secret: string): Omit<NewWebhookRow, "name" | "source"> {
  const address = webhookSecretAddress(config.url);
  return {
    url: config.url,
    ...(config.secret !== undefined ? { secretEnc: encryptSecret(config.secret, secret, address) } : {}),
    sendResolved: config.sendResolved,
    enabled: config.enabled,
    headers: encryptHeaderValues(config.headers, secret, address),
    headersEncrypted: true,
    groupBy: config.groupBy ?? null,
    groupWaitSeconds: config.groupWaitSeconds ?? null,
    repeatIntervalSeconds: config.repeatIntervalSeconds ?? null,
  };
}

export { deliveryLog, listWebhooks, type DeliveryLogEntry, type WebhookSummary } from "@/db/webhooks";
