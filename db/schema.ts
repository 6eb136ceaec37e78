import {
  bigint,
  bigserial,
  boolean,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  serial,
  smallint,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { sql, type SQL } from "drizzle-orm";
import type { AnyPgColumn } from "drizzle-orm/pg-core";
import type { IncidentDetail as IncidentDetailJson, IncidentFinding as IncidentFindingJson } from "../lib/incidents/findings";
import {
  BROKER_DIALECTS,
  BROKER_STATUSES,
  DEFINITION_SOURCES,
  DIALECT_NAMES,
  DISCONNECT_REASONS,
  EVENT_TYPES,
  NOTIFICATION_STATES,
  NOTIFICATION_STATUSES,
  RECEIVER_KINDS,
  TOKEN_SCOPES,
  USER_ROLES,
  type TokenScope,
  type UserRole,
} from "./vocabulary";

export { NOTIFICATION_STATES, TOKEN_SCOPES, USER_ROLES, type TokenScope, type UserRole };

const ts = (name: string) => timestamp(name, { withTimezone: true, precision: 3 });

/** Monitored brokers: from brokerwatch.yaml, the UI, or the bundled broker. Never deleted, only disabled. */
export const brokers = pgTable("brokers", {
  id: serial("id").primaryKey(),
  name: text("name").notNull().unique(),
  url: text("url").notNull(),
  /** configured dialect: mosquitto | emqx | bundled | auto */
  dialect: text("dialect", { enum: BROKER_DIALECTS }).notNull(),
  /** what `auto` detected, or the configured dialect */
  detectedDialect: text("detected_dialect", { enum: DIALECT_NAMES }),
  cluster: text("cluster"),
  username: text("username"),
  /** AES-GCM encrypted with BROKERWATCH_SECRET; never returned by the API */
  passwordEnc: text("password_enc"),
  maxConnections: integer("max_connections"),
  expectedNodes: integer("expected_nodes"),
  sysTopicPrefix: text("sys_topic_prefix"),
  /** the collector's MQTT client id, when the operator chose one (ACLs keyed on client id) */
  clientId: text("client_id"),
  /** rabbitmq, hivemq: the Prometheus endpoint the scrape collector reads */
  metricsUrl: text("metrics_url"),
  /** rabbitmq: AMQP URL (no credentials: username/password above) of the log and event exchanges */
  amqpUrl: text("amqp_url"),
  /** nats: the HTTP monitoring port */
  monitorUrl: text("monitor_url"),
  /** nats: the client port where the system user logs in */
  natsUrl: text("nats_url"),
  enabled: boolean("enabled").notNull().default(true),
  /** where the definition lives: file | ui | builtin */
  source: text("source", { enum: DEFINITION_SOURCES }).notNull().default("ui"),
  status: text("status", { enum: BROKER_STATUSES }).notNull().default("unknown"),
  statusSince: ts("status_since"),
  lastSeenAt: ts("last_seen_at"),
  version: text("version"),
  createdAt: ts("created_at").notNull().defaultNow(),
  updatedAt: ts("updated_at").notNull().defaultNow(),
});
export type BrokerRow = typeof brokers.$inferSelect;
export type NewBrokerRow = typeof brokers.$inferInsert;

/** The key of a metric series, in metric_samples and metric_rollups alike (new builders per table). */
function seriesColumns() {
  return {
    broker: text("broker").notNull(),
    /** cluster node; '' for a single broker so the index stays simple */
    node: text("node").notNull().default(""),
    metric: text("metric").notNull(),
    labels: jsonb("labels")
      .$type<Record<string, string>>()
      .notNull()
      .default(sql`'{}'::jsonb`),
  };
}

/**
 * Metric samples at the resolution received (docs/contract.md §3). Partitioned by day on `ts`, like
 * connection_events (docs/architecture.md §6).
 */
export const metricSamples = pgTable(
  "metric_samples",
  {
    ...seriesColumns(),
    ts: ts("ts").notNull(),
    value: doublePrecision("value").notNull(),
  },
  (t) => [
    index("metric_samples_broker_metric_ts").on(t.broker, t.metric, t.ts),
    index("metric_samples_ts").on(t.ts),
    // One value per series and second: a redelivered or second watcher's copy of a sample lands on
    // this key (db/ingest.ts buckets ts to the second). Includes ts, so it stays valid on a table
    // partitioned by ts.
    uniqueIndex("metric_samples_identity").on(t.broker, t.ts, t.metric, t.node, t.labels),
  ],
);
export type MetricSampleRow = typeof metricSamples.$inferSelect;

/**
 * ClientIDs (and usernames) are stored whole, but an index entry must stay under Postgres's btree
 * limit (2704 bytes): one device with a 3 KB ClientID made every write of every broker fail (issue
 * 18). The ClientID index holds a bounded key instead: the ClientID itself up to
 * CLIENT_ID_INDEXED_CHARS characters (at most 1 KB in UTF-8), beyond that its first
 * CLIENT_ID_KEY_PREFIX_CHARS characters followed by the md5 of the whole (257 characters, so a long
 * ClientID's key never equals a short ClientID). Every lookup by ClientID goes through
 * clientKeyOf (db/clients.ts, db/events.ts), and compares the whole ClientID too.
 * docs/contract.md §4, "Long ClientIDs".
 */
export const CLIENT_ID_INDEXED_CHARS = 256;
export const CLIENT_ID_KEY_PREFIX_CHARS = 225;

/**
 * The bounded key of a ClientID, as SQL. The index and the queries must spell the same expression
 * (constants inline, not parameters) for the planner to use the index.
 */
export function clientKeyOf(value: SQL | AnyPgColumn): SQL {
  const max = sql.raw(String(CLIENT_ID_INDEXED_CHARS));
  const prefix = sql.raw(String(CLIENT_ID_KEY_PREFIX_CHARS));
  return sql`(case when char_length(${value}) <= ${max} then ${value} else left(${value}, ${prefix}) || md5(${value}) end)`;
}

/**
 * One row per client lifecycle event (docs/contract.md §4). Partitioned by day on `ts` (declared by
 * hand in drizzle/0012_partitions.sql, kept by db/partitions.ts; docs/architecture.md §6), so every
 * primary key and unique index includes `ts`.
 */
export const connectionEvents = pgTable(
  "connection_events",
  {
    id: bigserial("id", { mode: "number" }).notNull(),
    ts: ts("ts").notNull(),
    receivedAt: ts("received_at").notNull(),
    broker: text("broker").notNull(),
    node: text("node"),
    clientId: text("client_id"),
    type: text("type", { enum: EVENT_TYPES }).notNull(),
    reason: text("reason", { enum: DISCONNECT_REASONS }),
    address: text("address"),
    port: integer("port"),
    username: text("username"),
    protocolVersion: smallint("protocol_version"),
    cleanStart: boolean("clean_start"),
    keepalive: integer("keepalive"),
    sessionSeconds: doublePrecision("session_seconds"),
    raw: text("raw").notNull(),
    /**
     * Identity of the event in the broker's own stream (db/ingest.ts eventKey): md5 of type, node,
     * ordinal among identical lines with the same ts, and the line or payload. Two watchers of one
     * broker, or a redelivery after a crash, produce the same key, and the unique index drops the copy.
     */
    eventKey: uuid("event_key")
      .notNull()
      // a row written by hand (not through db/ingest.ts) has no identity in any stream: never a duplicate
      .default(sql`gen_random_uuid()`),
  },
  // The (…, ts, id) indexes are ascending on purpose: read backward they give `ts desc, id desc`
  // with nulls first, which is what ORDER BY … DESC means. A `DESC NULLS LAST` index (what
  // `.desc()` declares) does not match that order, and the planner sorted every partition instead.
  (t) => [
    // (ts, id), not (id, ts): the key is also the index of GET /api/events across brokers (newest
    // first, keyset on (ts, id)) and of retention, one index fewer for every row written
    // (drizzle/0013_event_indexes.sql). Nothing looks a row up by id alone.
    primaryKey({ name: "connection_events_pkey", columns: [t.ts, t.id] }),
    uniqueIndex("connection_events_identity").on(t.broker, t.ts, t.eventKey),
    // One index for both ClientID queries (drizzle/0013_event_indexes.sql): GET
    // /api/clients/{clientId}/events, one client's history newest first, keyset-paginated on
    // (ts, id) (`=` is in text_pattern_ops too); and the prefix search (LIKE 'x%'), which
    // text_pattern_ops serves whatever the database collation. Nothing reads it in ClientID order.
    // The key, not the ClientID: see clientKeyOf (drizzle/0014_client_key_index.sql).
    index("connection_events_client_key_ts").using(
      "btree",
      sql`${clientKeyOf(sql`${sql.identifier("client_id")}`)} text_pattern_ops`,
      t.ts,
      t.id,
    ),
    // GET /api/events?reason=: newest first within each day partition (connects have no reason)
    index("connection_events_reason_ts")
      .on(t.reason, t.ts, t.id)
      .where(sql`${t.reason} is not null`),
    // per broker by time: dashboards, GET /api/events?broker=. The identity also leads with
    // (broker, ts), but without this the planner read a broker's pages through (ts, id) instead,
    // filtering out the other brokers' rows (docs/architecture.md §6)
    index("connection_events_broker_ts").on(t.broker, t.ts, t.id),
  ],
);
export type ConnectionEventRow = typeof connectionEvents.$inferSelect;
export type NewConnectionEventRow = typeof connectionEvents.$inferInsert;

/** Messages no parser recognised: kept verbatim and counted, never dropped. */
export const unparsedRecords = pgTable(
  "unparsed_records",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    receivedAt: ts("received_at").notNull(),
    broker: text("broker").notNull(),
    topic: text("topic").notNull(),
    raw: text("raw").notNull(),
    error: text("error").notNull(),
  },
  (t) => [index("unparsed_records_broker_received").on(t.broker, t.receivedAt)],
);
export type UnparsedRecordRow = typeof unparsedRecords.$inferSelect;

/** Key/value settings the service generates for itself (e.g. whether the admin password was shown). */
export const serviceSettings = pgTable("service_settings", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
  updatedAt: ts("updated_at").notNull().defaultNow(),
});

/** People who log in to the web UI. Passwords are argon2id hashes. */
export const users = pgTable("users", {
  id: serial("id").primaryKey(),
  username: text("username").notNull().unique(),
  passwordHash: text("password_hash").notNull(),
  role: text("role", { enum: USER_ROLES }).notNull().default("viewer"),
  createdAt: ts("created_at").notNull().defaultNow(),
});
export type UserRow = typeof users.$inferSelect;

/** An interval in which the collector could not see a broker: history may miss events there. */
export const collectorGaps = pgTable(
  "collector_gaps",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    broker: text("broker").notNull(),
    startedAt: ts("started_at").notNull(),
    /** null while the gap is still open */
    endedAt: ts("ended_at"),
    /** why: connection lost, heartbeat stale, collector stopped */
    reason: text("reason").notNull(),
    /**
     * Whose blindness: `broker` (we were reading and the broker went away) or `brokerwatch` (we
     * were not running or not reading: a restart, a pause, a stall). Only the first is evidence of
     * an outage (docs/reliability.md).
     */
    cause: text("cause").notNull().default("broker"),
  },
  (t) => [index("collector_gaps_broker_started").on(t.broker, t.startedAt)],
);
export type CollectorGapRow = typeof collectorGaps.$inferSelect;

/** 1-minute rollups of metric samples, for long dashboard ranges; kept longer than raw samples. */
export const metricRollups = pgTable(
  "metric_rollups",
  {
    ...seriesColumns(),
    /** start of the minute */
    bucket: ts("bucket").notNull(),
    min: doublePrecision("min").notNull(),
    max: doublePrecision("max").notNull(),
    avg: doublePrecision("avg").notNull(),
    last: doublePrecision("last").notNull(),
    count: integer("count").notNull(),
  },
  (t) => [uniqueIndex("metric_rollups_key").on(t.broker, t.metric, t.node, t.labels, t.bucket)],
);

/** API bearer tokens; only a SHA-256 of the secret is stored (the secret is shown once). */
export const apiTokens = pgTable("api_tokens", {
  id: serial("id").primaryKey(),
  name: text("name").notNull(),
  /** hex SHA-256 of the whole token */
  tokenHash: text("token_hash").notNull().unique(),
  /** first characters of the token, to tell tokens apart in a list */
  prefix: text("prefix").notNull(),
  role: text("role", { enum: USER_ROLES }).notNull().default("viewer"),
  scope: text("scope", { enum: TOKEN_SCOPES }).notNull().default("api"),
  /**
   * ingest tokens: the brokers whose log it may ship to; null, every broker (tokens made before
   * scopes existed keep working). docs/contract.md §6, "Ingest tokens".
   */
  brokers: jsonb("brokers").$type<string[]>(),
  createdAt: ts("created_at").notNull().defaultNow(),
  lastUsedAt: ts("last_used_at"),
  revokedAt: ts("revoked_at"),
});
export type ApiTokenRow = typeof apiTokens.$inferSelect;

/** Alert rules created in the UI (file rules and built-ins live in code/config, not here). */
export const alertRules = pgTable("alert_rules", {
  id: serial("id").primaryKey(),
  name: text("name").notNull().unique(),
  expr: text("expr").notNull(),
  forSeconds: doublePrecision("for_seconds").notNull().default(0),
  keepFiringForSeconds: doublePrecision("keep_firing_for_seconds").notNull().default(0),
  labels: jsonb("labels")
    .$type<Record<string, string>>()
    .notNull()
    .default(sql`'{}'::jsonb`),
  annotations: jsonb("annotations")
    .$type<Record<string, string>>()
    .notNull()
    .default(sql`'{}'::jsonb`),
  enabled: boolean("enabled").notNull().default(true),
  /** "alert", or "record" for a recording rule imported from a Prometheus rule file (its name is the metric it writes) */
  kind: text("kind").$type<"alert" | "record">().notNull().default("alert"),
  /** the rule file group it was imported from; null for a rule made in the UI */
  groupName: text("group_name"),
  /** the group's `interval` in seconds; null for the default */
  intervalSeconds: doublePrecision("interval_seconds"),
  /** the group's `limit` (most alerts or series per evaluation); 0 for none */
  limit: integer("limit").notNull().default(0),
  createdAt: ts("created_at").notNull().defaultNow(),
  updatedAt: ts("updated_at").notNull().defaultNow(),
});
export type AlertRuleRow = typeof alertRules.$inferSelect;

/**
 * The state machine's memory per (rule, label fingerprint): pending timers and firing alerts
 * survive a restart, so nothing re-fires and no `for` timer starts over.
 */
export const alertStates = pgTable(
  "alert_states",
  {
    rule: text("rule").notNull(),
    fingerprint: text("fingerprint").notNull(),
    /** lib/alerts/state.ts ActiveAlert, JSON */
    state: jsonb("state").$type<Record<string, unknown>>().notNull(),
    updatedAt: ts("updated_at").notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.rule, t.fingerprint] })],
);

/** Every alert that fired, with when it resolved: GET /api/alerts/history. */
export const alertHistory = pgTable(
  "alert_history",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    rule: text("rule").notNull(),
    fingerprint: text("fingerprint").notNull(),
    labels: jsonb("labels").$type<Record<string, string>>().notNull(),
    annotations: jsonb("annotations").$type<Record<string, string>>().notNull(),
    value: text("value"),
    activeAt: ts("active_at").notNull(),
    firedAt: ts("fired_at").notNull(),
    resolvedAt: ts("resolved_at"),
  },
  (t) => [
    index("alert_history_fired").on(t.firedAt),
    // one history row per firing episode, even if the engine retries after a crash
    uniqueIndex("alert_history_episode").on(t.rule, t.fingerprint, t.firedAt),
  ],
);

/** Per-rule evaluation health: GET /api/rules. */
export const ruleStatus = pgTable("rule_status", {
  rule: text("rule").primaryKey(),
  lastEvaluatedAt: ts("last_evaluated_at"),
  lastDurationMs: doublePrecision("last_duration_ms"),
  lastError: text("last_error"),
});

/** Silences: matchers plus a time window; notifications matching them are muted, state still tracked. */
export const silences = pgTable("silences", {
  id: text("id").primaryKey(),
  /** [{ name, value, isRegex, isEqual }] as in Alertmanager's API */
  matchers: jsonb("matchers").$type<{ name: string; value: string; isRegex: boolean; isEqual: boolean }[]>().notNull(),
  startsAt: ts("starts_at").notNull(),
  endsAt: ts("ends_at").notNull(),
  createdBy: text("created_by").notNull(),
  comment: text("comment").notNull().default(""),
  createdAt: ts("created_at").notNull().defaultNow(),
});
export type SilenceRow = typeof silences.$inferSelect;

/** Webhook receivers, from brokerwatch.yaml or the UI. */
export const webhooks = pgTable("webhooks", {
  id: serial("id").primaryKey(),
  name: text("name").notNull().unique(),
  url: text("url").notNull(),
  /** whsec_… encrypted with BROKERWATCH_SECRET, bound to the URL's origin and path (lib/crypto.ts) */
  secretEnc: text("secret_enc"),
  sendResolved: boolean("send_resolved").notNull().default(true),
  enabled: boolean("enabled").notNull().default(true),
  /** custom header names → values, each value encrypted like `secretEnc` once `headersEncrypted` */
  headers: jsonb("headers")
    .$type<Record<string, string>>()
    .notNull()
    .default(sql`'{}'::jsonb`),
  /** false only on rows written before header values were encrypted; they are encrypted at start */
  headersEncrypted: boolean("headers_encrypted").notNull().default(false),
  groupBy: jsonb("group_by").$type<string[]>(),
  groupWaitSeconds: doublePrecision("group_wait_seconds"),
  repeatIntervalSeconds: doublePrecision("repeat_interval_seconds"),
  source: text("source", { enum: DEFINITION_SOURCES }).notNull().default("ui"),
  /** set when the receiver answered 410 Gone: delivery stops until someone re-enables it */
  disabledReason: text("disabled_reason"),
  /** webhook | slack | teams | pagerduty | email | alertmanager (config `receivers:`, issue 23) */
  type: text("type", { enum: RECEIVER_KINDS }).notNull().default("webhook"),
  /** the type's fields that are not secrets (templates, e-mail addresses and SMTP server, Alertmanager URLs, …) */
  options: jsonb("options")
    .$type<Record<string, unknown>>()
    .notNull()
    .default(sql`'{}'::jsonb`),
  /** routing: label equality and RE2 matchers an alert must meet to reach this receiver */
  match: jsonb("match").$type<Record<string, string>>(),
  matchRe: jsonb("match_re").$type<Record<string, string>>(),
  createdAt: ts("created_at").notNull().defaultNow(),
  updatedAt: ts("updated_at").notNull().defaultNow(),
});
export type WebhookRow = typeof webhooks.$inferSelect;

/**
 * The delivery outbox: one row per notification per webhook, kept in Postgres so a restart
 * loses nothing. `dedupKey` is unique per webhook: enqueueing the same notification twice
 * (after a crash between deciding and recording) is a no-op, enforced by the database.
 */
export const notifications = pgTable(
  "notifications",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    webhookId: integer("webhook_id").notNull(),
    /** the Standard Webhooks `webhook-id`: stable across retries of this notification */
    messageId: text("message_id").notNull().unique(),
    dedupKey: text("dedup_key").notNull(),
    groupKey: text("group_key").notNull(),
    /** firing | resolved, as in the Alertmanager body */
    status: text("status", { enum: NOTIFICATION_STATUSES }).notNull(),
    /** the exact JSON body, so every retry sends the same bytes */
    body: text("body").notNull(),
    state: text("state", { enum: NOTIFICATION_STATES }).notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: ts("next_attempt_at").notNull().defaultNow(),
    /** set while a worker holds the row (its request in flight); null when it waits to be due */
    claimedAt: ts("claimed_at"),
    lastStatusCode: integer("last_status_code"),
    lastError: text("last_error"),
    createdAt: ts("created_at").notNull().defaultNow(),
    deliveredAt: ts("delivered_at"),
  },
  (t) => [
    uniqueIndex("notifications_dedup").on(t.webhookId, t.dedupKey),
    index("notifications_due").on(t.state, t.nextAttemptAt),
  ],
);
export type NotificationRow = typeof notifications.$inferSelect;

/** One row per HTTP attempt: each webhook's delivery log. */
export const deliveryAttempts = pgTable(
  "delivery_attempts",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    notificationId: bigint("notification_id", { mode: "number" }).notNull(),
    webhookId: integer("webhook_id").notNull(),
    attemptedAt: ts("attempted_at").notNull().defaultNow(),
    statusCode: integer("status_code"),
    error: text("error"),
    durationMs: doublePrecision("duration_ms").notNull(),
  },
  (t) => [index("delivery_attempts_webhook").on(t.webhookId, t.attemptedAt)],
);

/** Per (webhook, group): what was last notified and when, for repeatInterval and de-duplication. */
export const notificationGroups = pgTable(
  "notification_groups",
  {
    webhookId: integer("webhook_id").notNull(),
    groupKey: text("group_key").notNull(),
    /** hash of the firing alerts' fingerprints last sent */
    lastFiringHash: text("last_firing_hash"),
    lastNotifiedAt: ts("last_notified_at"),
    /** when the group's first alert was seen (groupWait runs from here) */
    firstSeenAt: ts("first_seen_at"),
  },
  (t) => [primaryKey({ columns: [t.webhookId, t.groupKey] })],
);

/** Web UI sessions: the cookie holds a random token, the table only its SHA-256. */
export const sessions = pgTable(
  "sessions",
  {
    tokenHash: text("token_hash").primaryKey(),
    userId: integer("user_id").notNull(),
    createdAt: ts("created_at").notNull().defaultNow(),
    expiresAt: ts("expires_at").notNull(),
    lastSeenAt: ts("last_seen_at").notNull().defaultNow(),
  },
  (t) => [index("sessions_user").on(t.userId)],
);

/**
 * Processes of one deployment sharing this database (README, "Running several
 * instances"). Each renews `heartbeat_at` every couple of seconds; one whose heartbeat is older
 * than the lease TTL is dead and its brokers go to the others.
 */
export const instances = pgTable("instances", {
  name: text("name").primaryKey(),
  /** the UI's URL on this instance */
  url: text("url"),
  startedAt: ts("started_at").notNull().defaultNow(),
  heartbeatAt: ts("heartbeat_at").notNull().defaultNow(),
  /** set on a clean shutdown, so the others take over at once instead of after the TTL */
  stoppedAt: ts("stopped_at"),
  /** brokers this instance watches, as of its last heartbeat */
  watching: jsonb("watching").$type<string[]>().notNull().default([]),
  /**
   * A random token of the process holding the name: a second live process claiming the name is
   * refused (lib/cluster/cluster.ts); null for rows written before tokens existed.
   */
  processToken: text("process_token"),
  /**
   * The instance that took over this one's broker sessions once it was gone (lib/cluster/adopt.ts),
   * so they are drained once, by one instance; cleared when the name starts again.
   */
  adoptedBy: text("adopted_by"),
  adoptedAt: ts("adopted_at"),
});
export type InstanceRow = typeof instances.$inferSelect;

/** Named leases with a TTL on the database clock: `leader` (the alert evaluator), `bundled-broker`. */
export const leases = pgTable("leases", {
  name: text("name").primaryKey(),
  holder: text("holder").notNull(),
  expiresAt: ts("expires_at").notNull(),
  acquiredAt: ts("acquired_at").notNull().defaultNow(),
});

/**
 * What each watching instance last saw of a broker. The broker's status (brokers.status) and its
 * gaps are merged from these: down only when no live watcher sees it up.
 */
export const brokerObservations = pgTable(
  "broker_observations",
  {
    broker: text("broker").notNull(),
    instance: text("instance").notNull(),
    /** up | down | unknown, as this instance's collector sees it */
    status: text("status").notNull(),
    lastSeenAt: ts("last_seen_at"),
    /** renewed with the instance's heartbeat while it watches the broker */
    observedAt: ts("observed_at").notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.broker, t.instance] })],
);
export type BrokerObservationRow = typeof brokerObservations.$inferSelect;

/**
 * A broker outage or restart and what it cost (lib/incidents/). Opened when the collector sees the
 * broker go down or its uptime go back; closed once it is up and its clients have settled, when
 * the cost and findings are computed and kept here (the events they rest on may be pruned later).
 */
export const brokerIncidents = pgTable(
  "broker_incidents",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    broker: text("broker").notNull(),
    /** restart · outage (lib/incidents/findings.ts INCIDENT_KINDS) */
    kind: text("kind").notNull(),
    /** connection_lost · heartbeat_stale · uptime_reset */
    detectedBy: text("detected_by").notNull(),
    /** the last time anything arrived from the broker before it went down */
    lastGoodAt: ts("last_good_at").notNull(),
    /** when it was seen down */
    startedAt: ts("started_at").notNull(),
    /** when it was up again; null while down */
    upAt: ts("up_at"),
    /** when its clients had settled and the incident was closed; null while open */
    endedAt: ts("ended_at"),
    downSeconds: doublePrecision("down_seconds"),
    clientsBefore: integer("clients_before"),
    clientsDropped: integer("clients_dropped"),
    clientsBack1m: integer("clients_back_1m"),
    clientsBack5m: integer("clients_back_5m"),
    /** clients neither seen back nor affirmed absent: they may have returned while brokerwatch was blind */
    clientsUnknown: integer("clients_unknown"),
    /** seconds after the broker came back during which brokerwatch did not watch it (not yet subscribed) */
    blindSeconds: doublePrecision("blind_seconds"),
    sessionsBefore: integer("sessions_before"),
    sessionsAfter: integer("sessions_after"),
    queuedBefore: integer("queued_before"),
    queuedAfter: integer("queued_after"),
    findings: jsonb("findings")
      .$type<IncidentFindingJson[]>()
      .notNull()
      .default(sql`'[]'::jsonb`),
    /** set at close: clients never back, log lines, evidence series */
    detail: jsonb("detail").$type<IncidentDetailJson>(),
  },
  (t) => [
    index("broker_incidents_broker_started").on(t.broker, t.startedAt),
    // One open incident per broker, enforced by the database: a second "down" (another instance,
    // a repeated status event) inserts nothing (ON CONFLICT DO NOTHING).
    uniqueIndex("broker_incidents_one_open").on(t.broker).where(sql`ended_at is null`),
  ],
);
export type BrokerIncidentRow = typeof brokerIncidents.$inferSelect;
export type NewBrokerIncidentRow = typeof brokerIncidents.$inferInsert;
