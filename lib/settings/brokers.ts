/**
 * Brokers made in the UI or the API: created and edited here, never deleted (history keeps their
 * name), only disabled. Definitions from brokerwatch.yaml and the bundled broker are read-only:
 * the file is re-applied at every start, so an edit here would silently come undone.
 */
import { getBroker, insertUiBroker, listBrokers, updateUiBroker } from "@/db/brokers";
import type { Db } from "@/db/client";
import type { BrokerRow, NewBrokerRow } from "@/db/schema";
import { BrokerEntrySchema, type BrokerConfig } from "@/lib/config/schema";
import { brokerSecretAddress, decryptSecret, encryptSecret } from "@/lib/crypto";
import { ApiError } from "@/lib/http";
import { getRuntime } from "@/lib/runtime";
import { mergePatch, parseInput, serviceSecret, withoutBlanks } from "./input";
import type { BrokerSettingsView, DefinitionSource } from "./views";
import { urlForViewer } from "@/lib/auth/redact";
import { assertVerified, isAdmin, type Verified } from "@/lib/auth/verified";

export function brokerView(row: BrokerRow): BrokerSettingsView {
  return {
    name: row.name,
    url: row.url,
    dialect: row.dialect,
    detectedDialect: row.detectedDialect,
    version: row.version,
    cluster: row.cluster,
    username: row.username,
    hasPassword: row.passwordEnc !== null,
    maxConnections: row.maxConnections,
    expectedNodes: row.expectedNodes,
    sysTopicPrefix: row.sysTopicPrefix,
    clientId: row.clientId,
    metricsUrl: row.metricsUrl,
    amqpUrl: row.amqpUrl,
    monitorUrl: row.monitorUrl,
    natsUrl: row.natsUrl,
    enabled: row.enabled,
    source: row.source as DefinitionSource,
    status: row.status,
    lastSeenAt: row.lastSeenAt?.toISOString() ?? null,
  };
}

/** For a caller requireUser() or authorize() checked: the settings page and the API's list. */
export async function brokerSettings(viewer: Verified): Promise<BrokerSettingsView[]> {
  assertVerified(viewer);
  const db = getRuntime().database.db;
  const views = (await listBrokers(db, { includeDisabled: true })).map(brokerView);
  if (isAdmin(viewer)) return views;
  // a viewer sees where brokers are, not the credentials their URLs may carry
  return views.map((v) => ({
    ...v,
    url: urlForViewer(v.url),
    metricsUrl: urlForViewer(v.metricsUrl),
    amqpUrl: urlForViewer(v.amqpUrl),
  }));
}

/** Why a broker cannot be changed here, in the operator's words; null when it can. */
export function readOnlyReason(source: string, name: string): string | null {
  if (source === "file")
    return `broker "${name}" is defined in brokerwatch.yaml; change it there and restart brokerwatch`;
  if (source === "builtin")
    return `"${name}" is the bundled broker, built in; set BUNDLED_BROKER=off to stop monitoring it`;
  return null;
}

/**
 * The columns of a validated broker definition, from brokerwatch.yaml or the API alike, but its
 * name and password (which the file and the API store differently).
 */
export function definitionColumns(config: BrokerConfig): Omit<NewBrokerRow, "name" | "passwordEnc"> {
  return {
    url: config.url,
    dialect: config.dialect,
    // `auto` keeps what was detected last time until the collector says otherwise
    ...(config.dialect === "auto" ? {} : { detectedDialect: config.dialect }),
    username: config.username ?? null,
    cluster: config.cluster ?? null,
    maxConnections: config.maxConnections ?? null,
    expectedNodes: config.expectedNodes ?? null,
    sysTopicPrefix: config.sysTopicPrefix ?? null,
    clientId: config.clientId ?? null,
    metricsUrl: config.metricsUrl ?? null,
    amqpUrl: config.amqpUrl ?? null,
    monitorUrl: config.monitorUrl ?? null,
    natsUrl: config.natsUrl ?? null,
    enabled: config.enabled,
  };
}

/** Columns from a validated definition; `passwordEnc` only when a new password was given. */
function columns(config: BrokerConfig, secret: string): Omit<NewBrokerRow, "name"> {
  return {
    ...definitionColumns(config),
    ...(config.password !== undefined
      ? { passwordEnc: encryptSecret(config.password, secret, brokerSecretAddress(config.url)) }
      : {}),
  };
}

/** POST /api/brokers: the same fields and rules as a `brokers:` entry of brokerwatch.yaml. */
export async function createBroker(db: Db, body: Record<string, unknown>): Promise<BrokerSettingsView> {
  const config = parseInput(BrokerEntrySchema, withoutBlanks(body));
  const values = columns(config, serviceSecret());
  // The name is the unique key: a second create of it must not overwrite the first (or a file broker).
  const row = await insertUiBroker(db, { ...values, name: config.name });
  if (!row) {
    const existing = await getBroker(db, config.name);
    const where =
      existing?.source === "file" ? " in brokerwatch.yaml" : existing?.source === "builtin" ? " (built in)" : "";
    throw new ApiError("conflict", `a broker named "${config.name}" already exists${where}; choose another name`, {
      parameter: "name",
    });
  }
  await reloadCollectors();
  return brokerView(row);
}

/** The stored definition as brokerwatch.yaml would say it, so a PATCH is validated like a create. */
function storedInput(row: BrokerRow): Record<string, unknown> {
  const input: Record<string, unknown> = { name: row.name, url: row.url, dialect: row.dialect, enabled: row.enabled };
  for (const key of [
    "username",
    "cluster",
    "maxConnections",
    "expectedNodes",
    "sysTopicPrefix",
    "clientId",
    "metricsUrl",
    "amqpUrl",
    "monitorUrl",
    "natsUrl",
  ] as const) {
    if (row[key] !== null) input[key] = row[key];
  }
  return input;
}

/**
 * PATCH /api/brokers/{name}: a key absent keeps the stored value, null or "" clears it. The
 * password is write-only: absent or "" keeps it, null removes it, text replaces it. A stored
 * password is only ever sent to the address it was saved for (scheme, host and port): a new
 * address needs the password again (or null), else 400.
 */
export async function editBroker(db: Db, name: string, body: Record<string, unknown>): Promise<BrokerSettingsView> {
  const stored = await getBroker(db, name);
  if (!stored) throw new ApiError("not_found", `no broker named "${name}"`);
  const readOnly = readOnlyReason(stored.source, stored.name);
  if (readOnly) throw new ApiError("conflict", readOnly, { source: stored.source });
  const { name: newName, password, ...changes } = body;
  if (newName !== undefined && newName !== stored.name) {
    throw new ApiError("bad_request", "name: cannot be changed: it is the broker label of the history already kept", {
      parameter: "name",
    });
  }
  const merged = mergePatch(storedInput(stored), changes);
  if (password !== undefined && password !== null && password !== "") merged.password = password;
  const config = parseInput(BrokerEntrySchema, merged);
  const passwordKept = password === undefined || password === "";
  if (passwordKept && stored.passwordEnc !== null) requireSameAddress(stored, config.url);
  const values = columns(config, serviceSecret());
  if (password === null) values.passwordEnc = null;
  const row = await updateUiBroker(db, name, values);
  if (!row) throw new ApiError("conflict", `broker "${name}" changed while it was being edited; reload and retry`);
  await reloadCollectors();
  return brokerView(row);
}

/** 400 unless `url` is the address the stored password of `stored` was saved for. */
function requireSameAddress(stored: BrokerRow, url: string): void {
  const saved = brokerSecretAddress(stored.url);
  const requested = brokerSecretAddress(url);
  if (saved === requested) return;
  throw new ApiError(
    "bad_request",
    `password: the stored password of broker "${stored.name}" is only sent to ${saved}; ` +
      `enter the password again to use ${requested} (or send "password": null to connect without one)`,
    { parameter: "password" },
  );
}

/**
 * The stored password of a broker, for "test connection" on an edit form that leaves it blank,
 * and only when the test goes to the address the password was saved for (else 400).
 */
export async function storedBrokerPassword(db: Db, name: string, url: string): Promise<string | null> {
  const row = await getBroker(db, name);
  if (!row?.passwordEnc) return null;
  requireSameAddress(row, url);
  try {
    // bound to the address tested, so a row whose URL was changed in the database cannot leak it either
    return decryptSecret(row.passwordEnc, serviceSecret(), brokerSecretAddress(url));
  } catch (err) {
    throw new ApiError("conflict", `broker "${name}": ${(err as Error).message}`);
  }
}

/** Start, stop or restart collectors after an edit (lib/collector/manager.ts). */
async function reloadCollectors(): Promise<void> {
  await getRuntime().collectors?.reload();
}
