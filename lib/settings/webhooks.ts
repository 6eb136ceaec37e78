/**
 * Webhook receivers made in the UI or the API, validated by the same rules as brokerwatch.yaml's
 * `webhooks:`. The whsec_ secret and header values are write-only: they may be credentials.
 */
import type { Db } from "@/db/client";
import type { WebhookRow } from "@/db/schema";
import {
  clearWebhookDisabledReason,
  getWebhook,
  getWebhookByName,
  insertWebhook,
  updateUiWebhook,
  type NewWebhookRow,
} from "@/db/webhooks";
import { WebhookSchema, type WebhookConfig } from "@/lib/config/schema";
import { formatDuration } from "@/lib/duration";
import {
  decryptHeaderValues,
  decryptSecret,
  receiverSecretAddress,
  webhookSecretAddress,
} from "@/lib/crypto";
import type { ReceiverOptions } from "@/lib/notify/receivers";
import type { WebhookTestTarget } from "./test-webhook";
import { ApiError } from "@/lib/http";
import { receiverHealthById, type ReceiverHealth } from "@/lib/notify/health";
import { listWebhooks, webhookColumns, type WebhookSummary } from "@/lib/notify/webhooks";
import { mergePatch, parseInput, serviceSecret, withoutBlanks } from "./input";
import type { DefinitionSource, WebhookSettingsView } from "./views";
import { redactWebhookUrl } from "@/lib/auth/redact";
import { assertVerified, isAdmin, type Verified } from "@/lib/auth/verified";
import { getRuntime } from "@/lib/runtime";

export function webhookView(webhook: WebhookSummary, health: ReceiverHealth | null = null): WebhookSettingsView {
  return {
    id: webhook.id,
    name: webhook.name,
    url: webhook.url,
    signed: webhook.signed,
    sendResolved: webhook.sendResolved,
    enabled: webhook.enabled,
    headerNames: Object.keys(webhook.headers),
    groupBy: webhook.groupBy,
    groupWaitSeconds: webhook.groupWaitSeconds,
    repeatIntervalSeconds: webhook.repeatIntervalSeconds,
    source: webhook.source as DefinitionSource,
    disabledReason: webhook.disabledReason,
    updatedAt: webhook.updatedAt.toISOString(),
    type: webhook.type,
    health,
  };
}

function rowView({ secretEnc, ...row }: WebhookRow): WebhookSettingsView {
  return webhookView({ ...row, signed: secretEnc !== null });
}

/** For a caller requireUser() or authorize() checked: the settings page and the API's list. */
export async function webhookSettings(viewer: Verified): Promise<WebhookSettingsView[]> {
  assertVerified(viewer);
  const db = getRuntime().database.db;
  const hooks = await listWebhooks(db);
  const health = await receiverHealthById(db, hooks, new Date());
  return hooks.map((hook) => {
    const h = health.get(hook.id) ?? null;
    // a transport error may quote the URL, which for a viewer is cut to scheme and host
    const shown = h && !isAdmin(viewer) && h.lastProblem ? { ...h, lastProblem: redactWebhookUrl(h.lastProblem, hook.url) } : h;
    return webhookView(hook, shown);
  });
}

/** Receivers whose newest delivery attempt failed, for the overview's banner. */
export async function failingReceivers(viewer: Verified): Promise<{ id: number; name: string; health: ReceiverHealth }[]> {
  const all = await webhookSettings(viewer);
  return all.flatMap((w) =>
    w.enabled && w.disabledReason === null && w.health?.state === "failing" ? [{ id: w.id, name: w.name, health: w.health }] : [],
  );
}

/** POST /api/webhooks: the fields of a `webhooks:` entry (durations as text: `groupWait: 30s`). */
export async function createWebhook(db: Db, body: Record<string, unknown>): Promise<WebhookSettingsView> {
  const config = parseInput(WebhookSchema, withoutBlanks(body));
  const row = await insertWebhook(db, { name: config.name, ...webhookColumns(config, serviceSecret()) });
  if (!row) {
    const existing = await getWebhookByName(db, config.name);
    const where = existing?.source === "file" ? " in brokerwatch.yaml" : "";
    throw new ApiError("conflict", `a webhook named "${config.name}" already exists${where}; choose another name`, {
      parameter: "name",
    });
  }
  return rowView(row);
}

/** The stored definition without its write-only parts (secret, header values), which an edit handles apart. */
function storedInput(row: WebhookRow): Record<string, unknown> {
  const input: Record<string, unknown> = {
    name: row.name,
    url: row.url,
    sendResolved: row.sendResolved,
    enabled: row.enabled,
  };
  if (row.groupBy !== null) input.groupBy = row.groupBy;
  if (row.groupWaitSeconds !== null) input.groupWait = formatDuration(row.groupWaitSeconds, "spec");
  if (row.repeatIntervalSeconds !== null) input.repeatInterval = formatDuration(row.repeatIntervalSeconds, "spec");
  return input;
}

/**
 * PATCH /api/webhooks/{id}: a key absent keeps the stored value, null or "" clears it. `secret`
 * and `headers` are write-only: absent keeps them, null removes them. `enabled: true` also lifts
 * a 410 Gone stop, as does a new URL. A file webhook accepts only that re-enable.
 *
 * The stored secret and header values are only ever sent to the address they were saved for
 * (the URL's origin and path): a URL with another address needs them again (or null), else 400.
 */
export async function editWebhook(db: Db, id: number, body: Record<string, unknown>): Promise<WebhookSettingsView> {
  const stored = await getWebhook(db, id);
  if (!stored) throw new ApiError("not_found", `no webhook with id ${id}`);

  if (stored.source !== "ui") {
    const onlyReenable = Object.keys(body).length === 1 && body.enabled === true;
    if (onlyReenable && stored.disabledReason !== null) {
      return rowView((await clearWebhookDisabledReason(db, id)) ?? stored);
    }
    throw new ApiError(
      "conflict",
      `webhook "${stored.name}" is defined in brokerwatch.yaml; change it there and restart brokerwatch` +
        (stored.disabledReason !== null ? ' (re-enabling it after a 410 is allowed: send {"enabled": true})' : ""),
      { source: stored.source },
    );
  }

  const { name: newName, secret, headers, ...changes } = body;
  if (newName !== undefined && newName !== stored.name) {
    throw new ApiError("bad_request", "name: cannot be changed: it is the receiver name of the delivery log", {
      parameter: "name",
    });
  }
  const merged = mergePatch(storedInput(stored), changes);
  if (secret !== undefined && secret !== null && secret !== "") merged.secret = secret;
  const headersKept = headers === undefined;
  // as for other fields, null or "" clears them
  if (!headersKept && headers !== null && headers !== "") merged.headers = headers;
  const config = parseInput(WebhookSchema, merged);
  const saved = webhookSecretAddress(stored.url);
  const requested = webhookSecretAddress(config.url);
  if (saved !== requested) {
    const missing: string[] = [];
    if (stored.secretEnc !== null && (secret === undefined || secret === "")) missing.push("secret");
    if (Object.keys(stored.headers).length > 0 && headersKept) missing.push("headers");
    if (missing.length > 0) {
      const what = missing.map((m) => (m === "secret" ? "signing secret" : "custom header values")).join(" and ");
      throw new ApiError(
        "bad_request",
        `${missing[0]}: the stored ${what} of webhook "${stored.name}" are only sent to ${saved}; ` +
          `enter them again to use ${requested} (or send null to drop them)`,
        { parameter: missing[0] },
      );
    }
  }
  const values = webhookColumns(config, serviceSecret());
  if (secret === null) values.secretEnc = null;
  if (headersKept) {
    // still bound to the same address: the stored ciphertexts stay as they are
    delete values.headers;
    delete values.headersEncrypted;
  }
  const reenabled = changes.enabled === true || config.url !== stored.url;
  const row = await updateUiWebhook(db, id, { ...values, ...(reenabled ? { disabledReason: null } : {}) });
  if (!row)
    throw new ApiError("conflict", `webhook "${stored.name}" changed while it was being edited; reload and retry`);
  return rowView(row);
}

/**
 * Where and how "send test notification" posts: the stored definition with its secret and header
 * values decrypted for the stored URL; a URL changed in the database behind the API cannot decrypt
 * them (409), so nothing saved for another address is ever sent.
 */
export async function webhookTarget(
  db: Db,
  id: number,
): Promise<WebhookTestTarget> {
  const row = await getWebhook(db, id);
  if (!row) throw new ApiError("not_found", `no webhook with id ${id}`);
  let secret: string | null = null;
  let headers = row.headers;
  const address = receiverSecretAddress(row.type, row.url);
  try {
    if (row.secretEnc !== null) secret = decryptSecret(row.secretEnc, serviceSecret(), address);
    if (row.headersEncrypted) headers = decryptHeaderValues(row.headers, serviceSecret(), address);
  } catch (err) {
    // Sending unsigned would hide the very problem the test is for.
    throw new ApiError("conflict", `webhook "${row.name}": ${(err as Error).message}`);
  }
  return { name: row.name, type: row.type, options: row.options as ReceiverOptions, url: row.url, secret, headers };
}
