import { normaliseReason, type ProtocolVersion } from "../events";
import type { MetricName } from "../metrics";
import { CounterRates } from "./rates";
import {
  blankEvent,
  emptyOutput,
  type ConnectionEvent,
  type Dialect,
  type DialectOutput,
  type MetricSample,
} from "./types";

/**
 * The EMQX 5 `$SYS` dialect, and the parser of the `$SYS/brokers/{node}/...` tree it shares
 * with the bundled broker (lib/bundled-layout.ts publishes EMQX's layout plus a few additions).
 * Facts below are from docs/brokers.md §4 unless a comment says otherwise.
 */

/**
 * `stats/<name>` gauges EMQX publishes that docs/contract.md §3 has a metric for (`emqx_stats.erl`).
 * Every `…/max` is deliberately absent: EMQX's `max` is the highest value ever observed, not a
 * configured limit, so reading it as mqtt_connections_max would make the saturation rule compare a
 * count against its own peak. Unlisted stats (topics, routes, live_connections, …) are ignored.
 */
export const EMQX_STATS: Readonly<Record<string, MetricName>> = {
  "connections/count": "mqtt_connections_current",
  "sessions/count": "mqtt_sessions",
  "subscriptions/count": "mqtt_subscriptions",
  "retained/count": "mqtt_retained_messages",
};

/**
 * `metrics/<name>` are cumulative counters (`emqx_metrics.erl`); these become per-second rates.
 * `delivery/dropped/queue_full` is ignored for now: EMQX has no queue-length gauge in `$SYS`, so
 * mqtt_queued_messages stays absent for EMQX rather than being faked from a drop counter.
 */
const RATE_COUNTERS: Readonly<Record<string, MetricName>> = {
  "messages/received": "mqtt_messages_received_per_second",
  "messages/sent": "mqtt_messages_sent_per_second",
  "bytes/received": "mqtt_bytes_received_per_second",
  "bytes/sent": "mqtt_bytes_sent_per_second",
};

/** Counters exported as their cumulative value (docs/contract.md §3: `mqtt_messages_dropped_total`). */
const TOTAL_COUNTERS: Readonly<Record<string, MetricName>> = {
  "messages/dropped": "mqtt_messages_dropped_total",
};

/** Every metric the EMQX dialect can emit: the topic maps above plus the uptime it reads itself. */
export const EMQX_METRICS: readonly MetricName[] = [
  ...Object.values(EMQX_STATS),
  ...Object.values(RATE_COUNTERS),
  ...Object.values(TOTAL_COUNTERS),
  "mqtt_broker_uptime_seconds",
];

/** Node-level topics EMQX publishes that carry nothing we export (`emqx_sys.erl`, `emqx_alarm.erl`, `emqx_sys_mon.erl`). */
const IGNORED_NODE_TOPICS = new Set(["sysdescr", "datetime"]);
const IGNORED_NODE_FOLDERS = new Set(["alarms", "sysmon"]);
/** Client events off by default in EMQX (`sys_event_messages.client_subscribed`) and of no use to us. */
const IGNORED_CLIENT_EVENTS = new Set(["subscribed", "unsubscribed"]);

/** EMQX 4 published uptime as "3 hours, 12 minutes, 5 seconds"; EMQX 5 as integer milliseconds. */
const UPTIME_UNIT_SECONDS: Readonly<Record<string, number>> = {
  week: 604_800,
  day: 86_400,
  hour: 3_600,
  minute: 60,
  second: 1,
};

export interface BrokersTreeOptions {
  readonly name: "emqx" | "bundled";
  /** `stats/<path>` topics read as gauges; any other stat is ignored */
  readonly stats: Readonly<Record<string, MetricName>>;
  /**
   * Read the bundled broker's additions to EMQX's layout: `clients/{id}/messages_dropped` and
   * `{node}/connect_failed` (lib/bundled-layout.ts). EMQX publishes neither, so for it they are unparsed.
   */
  readonly bundledEvents: boolean;
}

/** A message we cannot read (unknown topic, or a payload not holding what its topic should): becomes an UnparsedRecord. */
class Unreadable extends Error {}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const lossyUtf8 = new TextDecoder("utf-8");

/** The payload as text for an UnparsedRecord: invalid UTF-8 is kept, lossily, rather than dropped. */
function rawText(payload: Uint8Array): string {
  try {
    return lossyUtf8.decode(payload);
  } catch {
    return "";
  }
}

export function unparsedOutput(topic: string, payload: Uint8Array, receivedAt: Date, error: string): DialectOutput {
  return { ...emptyOutput(), unparsed: [{ receivedAt, topic, raw: rawText(payload), error }] };
}

/**
 * Parser of the `$SYS/brokers` tree, configured per broker rather than copied: EMQX and the bundled
 * broker differ only in the options. Keeps counter values for rates; does no I/O.
 */
export function createBrokersTreeDialect(options: BrokersTreeOptions): Dialect {
  const rates = new CounterRates();
  return {
    name: options.name,
    // EMQX's whole tree is under `$SYS/brokers`; the bundled broker's Aedes core also publishes its
    // own `$SYS/<id>/heartbeat`, `new/clients`… which mean nothing to us, so don't even receive them.
    subscriptions: ["$SYS/brokers", "$SYS/brokers/#"],
    parse(topic, payload, receivedAt) {
      try {
        return parseBrokersTopic(options, rates, topic, payload, receivedAt);
      } catch (err) {
        const error = err instanceof Unreadable ? err.message : `parser error: ${String(err)}`;
        return unparsedOutput(topic, payload, receivedAt, error);
      }
    },
  };
}

export function createEmqxDialect(): Dialect {
  return createBrokersTreeDialect({ name: "emqx", stats: EMQX_STATS, bundledEvents: false });
}

function parseBrokersTopic(
  options: BrokersTreeOptions,
  rates: CounterRates,
  topic: string,
  payload: Uint8Array,
  receivedAt: Date,
): DialectOutput {
  // `$SYS/brokers/{node}/…`: the node name (`emqx@10.0.0.11`) has dots and `@` but never `/`, while a
  // ClientID may contain `/` (EMQX does not escape it), so the node is always level 2 and the event
  // kind always the last level, whatever lies between.
  const levels = topic.split("/");
  if (levels[0] !== "$SYS" || levels[1] !== "brokers") throw new Unreadable("not a $SYS/brokers topic");
  if (levels.length === 2) return { ...emptyOutput(), nodes: nodeList(text(payload)) };

  const node = levels[2];
  const folder = levels[3];
  const path = levels.slice(4).join("/");
  const last = levels[levels.length - 1];
  if (!node || folder === undefined) throw new Unreadable("unrecognised $SYS/brokers topic");

  if (levels.length === 4) {
    if (folder === "version") return { ...emptyOutput(), version: version(text(payload)) };
    if (folder === "uptime") {
      const uptimeSeconds = uptime(text(payload));
      return {
        ...emptyOutput(),
        samples: [{ metric: "mqtt_broker_uptime_seconds", node, value: uptimeSeconds, ts: receivedAt }],
        heartbeat: { node, uptimeSeconds },
      };
    }
    if (IGNORED_NODE_TOPICS.has(folder)) return emptyOutput();
    if (folder === "connect_failed" && options.bundledEvents) {
      return events(connectFailed(node, payload, receivedAt));
    }
  } else if (folder === "stats") {
    const metric = own(options.stats, path);
    if (!metric) return emptyOutput();
    return samples({ metric, node, value: count(text(payload)), ts: receivedAt });
  } else if (folder === "metrics") {
    const totalMetric = own(TOTAL_COUNTERS, path);
    if (totalMetric) return samples({ metric: totalMetric, node, value: count(text(payload)), ts: receivedAt });
    const rateMetric = own(RATE_COUNTERS, path);
    if (!rateMetric) return emptyOutput();
    const rate = rates.observe(`${node}/${path}`, count(text(payload)), receivedAt);
    return rate === null ? emptyOutput() : samples({ metric: rateMetric, node, value: rate, ts: receivedAt });
  } else if (IGNORED_NODE_FOLDERS.has(folder)) {
    return emptyOutput();
  } else if (
    // clients/{id}/{event}, or gateway/{gw}/clients/{id}/{event} for non-MQTT clients (`event_topic/2`)
    (folder === "clients" && levels.length >= 6) ||
    (folder === "gateway" && levels[5] === "clients" && levels.length >= 8)
  ) {
    if (last === "connected" || last === "disconnected") return events(sessionEvent(last, node, payload, receivedAt));
    if (last === "messages_dropped" && options.bundledEvents) return events(messagesDropped(node, payload, receivedAt));
    if (IGNORED_CLIENT_EVENTS.has(last)) return emptyOutput();
  }
  throw new Unreadable("unrecognised $SYS/brokers topic");
}

function samples(sample: MetricSample): DialectOutput {
  return { ...emptyOutput(), samples: [sample] };
}

function events(event: ConnectionEvent): DialectOutput {
  return { ...emptyOutput(), events: [event] };
}

/** Own keys only, so a topic level like `constructor` or `__proto__` never finds a prototype member. */
function own<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

function text(payload: Uint8Array): string {
  try {
    return strictUtf8.decode(payload);
  } catch {
    throw new Unreadable("payload is not valid UTF-8");
  }
}

function nodeList(payload: string): string[] {
  const nodes = payload
    .split(",")
    .map((n) => n.trim())
    .filter((n) => n !== "");
  if (nodes.length === 0) throw new Unreadable("empty node list");
  return nodes;
}

function version(payload: string): string {
  const v = payload.trim();
  if (v === "") throw new Unreadable("empty version");
  return v;
}

/** Stats and metrics are bare non-negative integer strings (`emqx_sys.erl` publishes `integer_to_binary`). */
function count(payload: string): number {
  const digits = payload.trim();
  const value = /^\d+$/.test(digits) ? Number(digits) : NaN;
  if (!Number.isFinite(value)) throw new Unreadable(`not a count: ${JSON.stringify(digits.slice(0, 40))}`);
  return value;
}

function uptime(payload: string): number {
  const t = payload.trim();
  if (/^\d+$/.test(t)) {
    const seconds = Number(t) / 1000;
    if (Number.isFinite(seconds)) return seconds;
  } else {
    let seconds = 0;
    for (const part of t.split(",")) {
      const m = /^\s*(\d+)\s+(week|day|hour|minute|second)s?\s*$/i.exec(part);
      if (!m) throw new Unreadable("uptime is neither milliseconds nor 'N hours, N minutes, N seconds'");
      seconds += Number(m[1]) * UPTIME_UNIT_SECONDS[m[2].toLowerCase()];
    }
    if (Number.isFinite(seconds)) return seconds;
  }
  throw new Unreadable("uptime out of range");
}

function jsonObject(payload: Uint8Array): { raw: string; fields: Record<string, unknown> } {
  const raw = text(payload);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Unreadable("payload is not JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new Unreadable("payload is not a JSON object");
  return { raw, fields: parsed as Record<string, unknown> };
}

// Field readers: a field of the wrong type or out of range reads as null, never NaN, so one odd
// field does not cost the whole event.

function str(v: unknown): string | null {
  return typeof v === "string" ? v : null;
}

function bool(v: unknown): boolean | null {
  return typeof v === "boolean" ? v : null;
}

/** Ports and MQTT keepalive are both 16-bit unsigned integers on the wire. */
function uint16(v: unknown): number | null {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 65_535 ? v : null;
}

function protocolVersion(v: unknown): ProtocolVersion | null {
  return v === 3 || v === 4 || v === 5 ? v : null;
}

/** EMQX times are epoch milliseconds; anything outside Date's range reads as absent. */
function epochMs(v: unknown): Date | null {
  if (typeof v !== "number" || !Number.isFinite(v)) return null;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
}

function requiredClientId(fields: Record<string, unknown>): string {
  const id = str(fields.clientid);
  // The topic level is no substitute: EMQX leaves `/` unescaped and the bundled broker percent-encodes
  // and truncates long ids (lib/bundled-layout.ts), so only the payload holds the exact ClientID.
  if (id === null) throw new Unreadable("payload has no string clientid");
  return id;
}

/**
 * Who is on the other end, from the common fields of `emqx_sys.erl` `common_infos/2`. `sockport` is
 * the listener's port, not the client's, so `port` is only the bundled broker's `peerport`.
 */
function peer(fields: Record<string, unknown>) {
  return {
    address: str(fields.ipaddress),
    port: uint16(fields.peerport),
    username: str(fields.username),
    protocolVersion: protocolVersion(fields.proto_ver),
  };
}

function sessionEvent(
  type: "connected" | "disconnected",
  node: string,
  payload: Uint8Array,
  receivedAt: Date,
): ConnectionEvent {
  const { raw, fields } = jsonObject(payload);
  const clientId = requiredClientId(fields);
  const connectedAt = epochMs(fields.connected_at);
  const disconnectedAt = type === "disconnected" ? epochMs(fields.disconnected_at) : null;
  // `ts` is the publish time; connected_at / disconnected_at are when it happened.
  const ts = (type === "connected" ? connectedAt : disconnectedAt) ?? epochMs(fields.ts) ?? receivedAt;
  // A disconnected payload repeats its session's connected_at (docs/brokers.md §4.3), so the
  // session length needs no state. A negative span is clock trouble, not a duration.
  const span = connectedAt && disconnectedAt ? (disconnectedAt.getTime() - connectedAt.getTime()) / 1000 : null;
  return blankEvent({
    ts,
    receivedAt,
    type,
    raw,
    node,
    clientId,
    ...peer(fields),
    cleanStart: bool(fields.clean_start),
    keepalive: uint16(fields.keepalive),
    // normaliseReason maps EMQX 4's `takeovered` and MQTT 5's `session_taken_over` to `takenover`
    reason: type === "disconnected" ? normaliseReason(str(fields.reason)) : null,
    sessionSeconds: span !== null && span >= 0 ? span : null,
  });
}

/** Bundled addition: `{clientid, dropped, ts}` when a slow subscriber's queue overflowed. */
function messagesDropped(node: string, payload: Uint8Array, receivedAt: Date): ConnectionEvent {
  const { raw, fields } = jsonObject(payload);
  return blankEvent({
    ts: epochMs(fields.ts) ?? receivedAt,
    receivedAt,
    type: "messages_dropped",
    raw,
    node,
    clientId: requiredClientId(fields),
  });
}

/**
 * Bundled addition: a connection refused before any session began. The ClientID may be unknown
 * (garbage CONNECT), hence null rather than an error; `reason_detail` is informational and stays in raw.
 */
function connectFailed(node: string, payload: Uint8Array, receivedAt: Date): ConnectionEvent {
  const { raw, fields } = jsonObject(payload);
  return blankEvent({
    ts: epochMs(fields.ts) ?? receivedAt,
    receivedAt,
    type: "connect_failed",
    raw,
    node,
    clientId: str(fields.clientid),
    reason: normaliseReason(str(fields.reason)),
    ...peer(fields),
  });
}
