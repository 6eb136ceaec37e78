import { createHash } from "node:crypto";

/**
 * The `$SYS` layout of the bundled broker: EMQX 5's (docs/brokers.md §4),
 * so one parser shape serves both, plus a few documented additions EMQX lacks.
 * The broker publishes with these; `lib/collector/bundled.ts` reads them.
 *
 *   $SYS/brokers                                   comma-joined node names (retained)
 *   $SYS/brokers/{node}/version                    "aedes <version> (brokerwatch bundled)"
 *   $SYS/brokers/{node}/sysdescr                   "brokerwatch bundled broker"
 *   $SYS/brokers/{node}/uptime                     milliseconds, integer (as EMQX 5)
 *   $SYS/brokers/{node}/stats/<name>/count         gauges (see BUNDLED_STATS)
 *   $SYS/brokers/{node}/metrics/<a>/<b>            cumulative counters (see BUNDLED_METRICS)
 *   $SYS/brokers/{node}/clients/{id}/connected     JSON, EMQX fields
 *   $SYS/brokers/{node}/clients/{id}/disconnected  JSON, EMQX fields + reason, reason_detail
 *   $SYS/brokers/{node}/clients/{id}/messages_dropped  JSON {clientid, dropped, ts}: a slow
 *                                                  subscriber's queue overflowed (once per episode)
 *   $SYS/brokers/{node}/connect_failed             JSON: a connection refused before any session
 *                                                  began (bad credentials, garbage CONNECT); the
 *                                                  ClientID may be unknown, so it is not in the topic
 */
export const BUNDLED_STATS = {
  "connections/count": "connections currently connected",
  "sessions/count": "sessions held: connected plus disconnected persistent (clean start 0) sessions",
  "subscriptions/count": "subscriptions, including those of disconnected persistent sessions",
  "retained/count": "retained messages",
  "retained/bytes": "bytes of topics and payloads the retained messages take (not a count, despite the name)",
  "queued/count":
    "QoS 1/2 messages stored for persistent sessions and not yet acknowledged: queued for an offline client or in flight to a slow one",
  "memory/heap_used": "bytes of JS heap the broker process uses (not a count, despite the folder)",
} as const;

export const BUNDLED_METRICS = {
  "messages/received": "PUBLISH packets received from clients",
  "messages/sent": "PUBLISH packets delivered to clients",
  "messages/dropped": "messages dropped because a subscriber's send buffer was over its limit",
  "bytes/received": "bytes read from client sockets",
  "bytes/sent": "bytes written to client sockets",
  "messages/retained_refused":
    "retained messages not kept because the store was at BUNDLED_MAX_RETAINED_MESSAGES or BUNDLED_MAX_RETAINED_BYTES (still delivered live)",
} as const;

/** Characters a ClientID may hold that cannot stand in a topic level (or are our escape char). */
const TOPIC_UNSAFE = /[%/+#\u0000]/g;
/** Keep topics well under MQTT's 65,535-byte limit: a 64 KiB ClientID is legal. */
const MAX_ID_BYTES_IN_TOPIC = 512;

/**
 * A ClientID as it appears in a topic level: `% / + #` and NUL percent-encoded; an id longer
 * than 512 bytes is cut and suffixed with `~` and 12 hex digits of its SHA-1. The payload
 * always carries the exact ClientID, so readers take the id from there.
 */
export function clientIdTopicLevel(clientId: string): string {
  const encoded = clientId.replace(
    TOPIC_UNSAFE,
    (c) => "%" + c.charCodeAt(0).toString(16).padStart(2, "0").toUpperCase(),
  );
  if (Buffer.byteLength(encoded) <= MAX_ID_BYTES_IN_TOPIC) return encoded;
  const digest = createHash("sha1").update(clientId).digest("hex").slice(0, 12);
  let cut = encoded.slice(0, 400);
  while (Buffer.byteLength(cut) > 400) cut = cut.slice(0, -1);
  return `${cut}~${digest}`;
}

export function bundledTopic(node: string, suffix: string): string {
  return `$SYS/brokers/${node}/${suffix}`;
}

/** Payload of connected / disconnected, EMQX 5's field names. */
export interface BundledClientPayload {
  clientid: string;
  username: string | null;
  ipaddress: string | null;
  /** listener port, as EMQX */
  sockport: number | null;
  /** the client's own TCP port (bundled addition) */
  peerport: number | null;
  proto_name: "MQTT";
  proto_ver: 3 | 4 | 5;
  keepalive: number;
  clean_start: boolean;
  connected_at: number;
  ts: number;
  disconnected_at?: number;
  reason?: string;
  /** what the broker saw, e.g. the parser error (bundled addition) */
  reason_detail?: string | null;
}

export interface BundledConnectFailedPayload {
  clientid: string | null;
  username: string | null;
  ipaddress: string | null;
  sockport: number | null;
  peerport: number | null;
  proto_ver: number | null;
  reason: string;
  reason_detail: string | null;
  ts: number;
}

export interface BundledDroppedPayload {
  clientid: string;
  dropped: number;
  ts: number;
}
