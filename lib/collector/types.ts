import type { DisconnectReason, EventType, ProtocolVersion } from "../events";
import type { MetricName } from "../metrics";

/**
 * What a dialect turns one MQTT message into. Dialects are pure: they hold
 * in-memory state (previous counters, open sessions) but do no I/O, so a test
 * feeds them fixture lines and asserts what comes out.
 */
export interface MetricSample {
  metric: MetricName;
  /** cluster node the value belongs to, where the broker says (EMQX node name); null for a single broker */
  node: string | null;
  value: number;
  ts: Date;
  /** extra labels beyond broker/cluster/node, e.g. `reason` */
  labels?: Record<string, string>;
}

export interface ConnectionEvent {
  /** when the broker says it happened (log timestamp or payload time) */
  ts: Date;
  /** when the collector received it */
  receivedAt: Date;
  node: string | null;
  /** as the broker reports it; null where the broker logs `<unknown>` */
  clientId: string | null;
  type: EventType;
  /** for disconnected / connect_failed; null otherwise */
  reason: DisconnectReason | null;
  address: string | null;
  port: number | null;
  username: string | null;
  protocolVersion: ProtocolVersion | null;
  cleanStart: boolean | null;
  keepalive: number | null;
  /** on disconnected: seconds since that session's connected */
  sessionSeconds: number | null;
  /** the original log line or payload */
  raw: string;
}

/** A message no parser recognised: kept verbatim and counted, never dropped. */
export interface UnparsedRecord {
  receivedAt: Date;
  topic: string;
  raw: string;
  /** why it was not parsed */
  error: string;
}

export interface Heartbeat {
  node: string | null;
  uptimeSeconds: number;
}

export interface DialectOutput {
  samples: MetricSample[];
  events: ConnectionEvent[];
  unparsed: UnparsedRecord[];
  /** present when the message was the broker's liveness heartbeat (uptime) */
  heartbeat?: Heartbeat;
  /** broker version string, when this message reported it */
  version?: string;
  /** cluster members, when this message listed them (EMQX `$SYS/brokers`) */
  nodes?: string[];
}

import type { DialectName } from "@/db/vocabulary";
export type { DialectName };

/**
 * Pseudo-topics of the brokers read without `$SYS` (hivemq, rabbitmq): the scrape collector hands a
 * scraped Prometheus exposition to `parse` as METRICS_TOPIC, and a log line (shipped to
 * `POST /api/brokers/{name}/log` or consumed from RabbitMQ's `amq.rabbitmq.log`) as LOG_TOPIC.
 */
export const METRICS_TOPIC = "metrics";
export const LOG_TOPIC = "log";

export interface Dialect {
  readonly name: DialectName;
  /** MQTT topic filters the collector subscribes to for this dialect */
  readonly subscriptions: string[];
  /**
   * Parse one message. Must never throw: anything it cannot read goes to `unparsed`. `own` is what
   * the collector's own session had in flight when the message was read (absent outside a live
   * MQTT connection: a fixture replay, a scrape, shipped log lines).
   */
  parse(topic: string, payload: Uint8Array, receivedAt: Date, own?: () => OwnInFlight): DialectOutput;
}

/**
 * What brokerwatch's own session had in flight from the broker when a message was read. Mosquitto
 * counts the messages it holds for brokerwatch in its store count like any client's queued message
 * (docs/brokers.md §1): its log lines, and a `$SYS` value once a newer one replaced it as the
 * retained value; brokerwatch acknowledges them only once committed, so the dialect needs this to
 * tell the clients' queues from its own. QoS 1 delivery is in order, so everything the broker had
 * sent us when it counted was read before the count: what it held for us then is at least what is
 * `unacknowledged` and at most that plus what was `acknowledgedRecently` (a PUBACK the broker read
 * after it counted).
 */
export interface OwnInFlight {
  /** QoS 1/2 messages of this connection read before this one and not yet acknowledged */
  unacknowledged: readonly OwnMessage[];
  /** ...acknowledged in the last OWN_ACK_RACE_MS (lib/collector/own-inflight.ts) */
  acknowledgedRecently: readonly OwnMessage[];
}

export interface OwnMessage {
  /** without the bridge prefix */
  topic: string;
  /** a later message on the same topic was read since (a retained value replaced) */
  superseded: boolean;
}

export function emptyOutput(): DialectOutput {
  return { samples: [], events: [], unparsed: [] };
}

/** A blank event with every optional field null, for parsers to fill in. */
export function blankEvent(
  fields: Pick<ConnectionEvent, "ts" | "receivedAt" | "type" | "raw"> & Partial<ConnectionEvent>,
): ConnectionEvent {
  return {
    node: null,
    clientId: null,
    reason: null,
    address: null,
    port: null,
    username: null,
    protocolVersion: null,
    cleanStart: null,
    keepalive: null,
    sessionSeconds: null,
    ...fields,
  };
}
