/**
 * Webhook receivers: applying brokerwatch.yaml's `webhooks:` and the queries the API reads.
 * Secrets are stored encrypted with the service key and never leave this module in clear.
 */
import type { Db } from "@/db/client";
import { disableFileWebhooksExcept, upsertFileWebhook, type NewWebhookRow } from "@/db/webhooks";
import type { ReceiverConfig, WebhookConfig } from "@/lib/config/schema";
import { encryptHeaderValues, encryptSecret, receiverSecretAddress, webhookSecretAddress } from "@/lib/crypto";
import { smtpUrl } from "./transports";

/**
 * Upserts the file's webhooks by name (docs/contract.md §2: applied at every start, idempotently) and
 * disables file webhooks the file no longer lists; none is deleted, so its delivery log stays readable.
 * `secret` is the service key that encrypts each whsec_ secret.
 */
export async function applyWebhookConfig(
  db: Db,
  configs: readonly WebhookConfig[],
  secret: string,
  receivers: readonly ReceiverConfig[] = [],
): Promise<{ applied: string[]; disabled: string[] }> {
  for (const config of configs) {
    // the file is the whole definition: no secret there means none stored
    await upsertFileWebhook(db, {
      name: config.name,
      secretEnc: null,
      ...webhookColumns(config, secret),
      type: "webhook",
      options: {},
      match: null,
      matchRe: null,
      source: "file",
    });
  }
  for (const config of receivers) {
    await upsertFileWebhook(db, { name: config.name, ...receiverColumns(config, secret), source: "file" });
  }
  const names = [...configs, ...receivers].map((c) => c.name);
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

/**
 * Columns of a `receivers:` entry. Secrets (webhook secret and headers, PagerDuty routing key,
 * SMTP password) are encrypted bound to the receiver's address: its URL, or `smtp://host:port`.
 * Everything else the type needs goes to `options`, which the delivery worker reads.
 */
export function receiverColumns(config: ReceiverConfig, secret: string): Omit<NewWebhookRow, "name" | "source"> {
  const common = {
    sendResolved: config.sendResolved,
    enabled: config.enabled,
    groupBy: config.groupBy ?? null,
    groupWaitSeconds: config.groupWaitSeconds ?? null,
    repeatIntervalSeconds: config.repeatIntervalSeconds ?? null,
    match: config.match ?? null,
    matchRe: config.matchRe ?? null,
    type: config.type,
    headers: {},
    headersEncrypted: true,
    secretEnc: null,
  };
  const templates = { ...(config.title ? { title: config.title } : {}), ...(config.body ? { body: config.body } : {}) };
  switch (config.type) {
    case "webhook": {
      const address = webhookSecretAddress(config.url);
      return {
        ...common,
        url: config.url,
        secretEnc: config.secret !== undefined ? encryptSecret(config.secret, secret, address) : null,
        headers: encryptHeaderValues(config.headers, secret, address),
        options: templates,
      };
    }
    case "slack":
    case "teams":
      return { ...common, url: config.url, options: templates };
    case "pagerduty":
      return {
        ...common,
        url: config.url,
        secretEnc: encryptSecret(config.routingKey, secret, receiverSecretAddress("pagerduty", config.url)),
        options: { ...templates, severity: config.severity },
      };
    case "alertmanager":
      return { ...common, url: config.urls[0], options: { ...templates, urls: config.urls } };
    case "email": {
      const url = smtpUrl(config.smtp);
      const { password, ...smtp } = config.smtp;
      return {
        ...common,
        url,
        secretEnc: password !== undefined ? encryptSecret(password, secret, receiverSecretAddress("email", url)) : null,
        options: { ...templates, to: config.to, from: config.from, smtp },
      };
    }
  }
}

export { deliveryLog, listWebhooks, type DeliveryLogEntry, type WebhookSummary } from "@/db/webhooks";
