import {
  bigserial,
  boolean,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  serial,
  smallint,
  text,
  timestamp,
} from "drizzle-orm/pg-core";
import { sql } from "drizzle-orm";

const ts = (name: string) => timestamp(name, { withTimezone: true, precision: 3 });

/** Monitored brokers: from brokerwatch.yaml, the UI, or the bundled broker. Never deleted, only disabled. */
export const brokers = pgTable("brokers", {
  id: serial("id").primaryKey(),
  name: text("name").notNull().unique(),
  url: text("url").notNull(),
  /** configured dialect: mosquitto | emqx | bundled | auto */
  dialect: text("dialect").notNull(),
  /** what `auto` detected, or the configured dialect */
  detectedDialect: text("detected_dialect"),
  cluster: text("cluster"),
  username: text("username"),
  /** AES-GCM encrypted with BROKERWATCH_SECRET; never returned by the API */
  passwordEnc: text("password_enc"),
  maxConnections: integer("max_connections"),
  expectedNodes: integer("expected_nodes"),
  sysTopicPrefix: text("sys_topic_prefix"),
  enabled: boolean("enabled").notNull().default(true),
  /** where the definition lives: file | ui | builtin */
  source: text("source").notNull().default("ui"),
  status: text("status").notNull().default("unknown"),
  statusSince: ts("status_since"),
  lastSeenAt: ts("last_seen_at"),
  version: text("version"),
  createdAt: ts("created_at").notNull().defaultNow(),
  updatedAt: ts("updated_at").notNull().defaultNow(),
});
export type BrokerRow = typeof brokers.$inferSelect;
export type NewBrokerRow = typeof brokers.$inferInsert;

/** Metric samples at the resolution received (CONTRACT section 3). */
export const metricSamples = pgTable(
  "metric_samples",
  {
    broker: text("broker").notNull(),
    /** cluster node; '' for a single broker so the index stays simple */
    node: text("node").notNull().default(""),
    metric: text("metric").notNull(),
    labels: jsonb("labels")
      .$type<Record<string, string>>()
      .notNull()
      .default(sql`'{}'::jsonb`),
    ts: ts("ts").notNull(),
    value: doublePrecision("value").notNull(),
  },
  (t) => [index("metric_samples_broker_metric_ts").on(t.broker, t.metric, t.ts), index("metric_samples_ts").on(t.ts)],
);
export type MetricSampleRow = typeof metricSamples.$inferSelect;

/** One row per client lifecycle event (CONTRACT section 4). */
export const connectionEvents = pgTable(
  "connection_events",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    ts: ts("ts").notNull(),
    receivedAt: ts("received_at").notNull(),
    broker: text("broker").notNull(),
    node: text("node"),
    clientId: text("client_id"),
    type: text("type").notNull(),
    reason: text("reason"),
    address: text("address"),
    port: integer("port"),
    username: text("username"),
    protocolVersion: smallint("protocol_version"),
    cleanStart: boolean("clean_start"),
    keepalive: integer("keepalive"),
    sessionSeconds: doublePrecision("session_seconds"),
    raw: text("raw").notNull(),
  },
  (t) => [
    // GET /api/clients/{clientId}/events: one client's history, newest first, keyset-paginated on (ts, id)
    index("connection_events_client_ts").on(t.clientId, t.ts.desc(), t.id.desc()),
    // per broker by time: dashboards, GET /api/events?broker=
    index("connection_events_broker_ts").on(t.broker, t.ts.desc(), t.id.desc()),
    // GET /api/events across brokers, and retention
    index("connection_events_ts").on(t.ts.desc(), t.id.desc()),
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

export const USER_ROLES = ["admin", "viewer"] as const;
export type UserRole = (typeof USER_ROLES)[number];

/** People who log in to the web UI. Passwords are argon2id hashes. */
export const users = pgTable("users", {
  id: serial("id").primaryKey(),
  username: text("username").notNull().unique(),
  passwordHash: text("password_hash").notNull(),
  role: text("role").$type<UserRole>().notNull().default("viewer"),
  createdAt: ts("created_at").notNull().defaultNow(),
});
export type UserRow = typeof users.$inferSelect;
