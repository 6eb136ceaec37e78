/**
 * The closed vocabularies of brokerwatch, declared once as `as const` lists: db/schema.ts makes
 * them `text({ enum })` columns, zod schemas take them as `z.enum(...)`, and TypeScript derives
 * each union from them. The names and their meaning are the public contract (docs/contract.md §4).
 *
 * Why here: db/ may import no value from lib/ (docs/architecture.md §5), yet the columns need the
 * lists as values. This module imports nothing and runs no query (so, unlike the query modules, it
 * is not `server-only`): every layer may import it, and lib/events.ts re-exports the event words
 * for the domain code that reads them from there.
 */

/** What happened to a client connection. */
export const EVENT_TYPES = ["connected", "disconnected", "connect_failed", "messages_dropped"] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Why a session ended or a connect was refused (lib/events.ts maps each broker's own words onto these). */
export const DISCONNECT_REASONS = [
  "normal",
  "tcp_closed",
  "keepalive_timeout",
  "takenover",
  "discarded",
  "not_authorized",
  "protocol_error",
  "malformed_packet",
  "packet_too_large",
  "kicked",
  "max_connections",
  "socket_error",
  "out_of_memory",
  "internal_error",
  "unknown",
] as const;
export type DisconnectReason = (typeof DISCONNECT_REASONS)[number];

/** The parsers a broker can be read with. */
export const DIALECT_NAMES = ["mosquitto", "emqx", "bundled", "hivemq", "rabbitmq", "nats"] as const;
export type DialectName = (typeof DIALECT_NAMES)[number];

/** A broker's configured dialect: `auto` lets the collector pick one from what the broker publishes. */
export const BROKER_DIALECTS = [...DIALECT_NAMES, "auto"] as const;
export type BrokerDialect = (typeof BROKER_DIALECTS)[number];

/** Whether the collector reaches a broker now. */
export const BROKER_STATUSES = ["up", "down", "unknown"] as const;
export type BrokerStatus = (typeof BROKER_STATUSES)[number];

/**
 * Where a broker, webhook or rule was defined: brokerwatch.yaml (re-applied at start), the UI/API,
 * or brokerwatch itself (the bundled broker, the built-in rules).
 */
export const DEFINITION_SOURCES = ["file", "ui", "builtin"] as const;
export type DefinitionSource = (typeof DEFINITION_SOURCES)[number];

/** Receiver kinds (config `receivers:` type); `webhooks:` entries are `webhook`. */
export const RECEIVER_KINDS = ["webhook", "slack", "teams", "pagerduty", "email", "alertmanager"] as const;
export type ReceiverKind = (typeof RECEIVER_KINDS)[number];

export const USER_ROLES = ["admin", "viewer"] as const;
export type UserRole = (typeof USER_ROLES)[number];

/**
 * What an API token may do: `api` is the whole API at its role; `ingest` may only ship log lines
 * (`POST /api/brokers/{name}/log`), so a log shipper's credential reads and changes nothing else.
 */
export const TOKEN_SCOPES = ["api", "ingest"] as const;
export type TokenScope = (typeof TOKEN_SCOPES)[number];

/** What a webhook notification says, as in the Alertmanager body. */
export const NOTIFICATION_STATUSES = ["firing", "resolved"] as const;
export type NotificationStatus = (typeof NOTIFICATION_STATUSES)[number];

/** Where a notification is in the outbox. */
export const NOTIFICATION_STATES = ["pending", "delivered", "failed", "cancelled"] as const;
export type NotificationState = (typeof NOTIFICATION_STATES)[number];
