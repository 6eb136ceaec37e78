/**
 * Connection-event vocabulary of docs/contract.md §4: declared once, reused by the
 * drizzle columns, the zod schemas of the API and every dialect parser.
 */
export const EVENT_TYPES = ["connected", "disconnected", "connect_failed", "messages_dropped"] as const;
export type EventType = (typeof EVENT_TYPES)[number];

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

export function isDisconnectReason(value: string): value is DisconnectReason {
  return (DISCONNECT_REASONS as readonly string[]).includes(value);
}

/**
 * Maps a broker's own reason word to our vocabulary. EMQX's words are ours; EMQX 4's
 * `takeovered` and MQTT 5's `session_taken_over` (0x8E) mean `takenover`
 * (docs/brokers.md §4.7, "Disconnect reasons").
 */
const REASON_ALIASES: Record<string, DisconnectReason> = {
  takeovered: "takenover",
  session_taken_over: "takenover",
  sock_closed: "tcp_closed",
  ssl_closed: "tcp_closed",
  closed: "tcp_closed",
  idle_timeout: "protocol_error",
  administrative_action: "kicked",
  banned: "kicked",
  server_shutting_down: "kicked",
  emsgsize: "packet_too_large",
  too_large: "packet_too_large",
  frame_too_large: "packet_too_large",
  bad_username_or_password: "not_authorized",
  auth_expired: "not_authorized",
  implementation_specific_error: "internal_error",
  unspecified_error: "unknown",
  server_busy: "max_connections",
  quota_exceeded: "max_connections",
  connection_rate_exceeded: "max_connections",
  receive_maximum_exceeded: "protocol_error",
  topic_alias_invalid: "protocol_error",
  normal_disconnection: "normal",
};

export function normaliseReason(raw: string | null | undefined): DisconnectReason {
  if (!raw) return "unknown";
  const word = raw.trim().toLowerCase();
  if (isDisconnectReason(word)) return word;
  return REASON_ALIASES[word] ?? "unknown";
}

/** MQTT protocol level as docs/contract.md §4 spells it: 3.1 → 3, 3.1.1 → 4, 5 → 5. */
export type ProtocolVersion = 3 | 4 | 5;
