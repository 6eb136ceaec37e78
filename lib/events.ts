/**
 * Connection-event vocabulary of docs/contract.md §4: the lists are declared once in
 * db/vocabulary.ts (the drizzle columns need them as values) and reused from here by the zod
 * schemas of the API and every dialect parser; the broker-word aliases live here.
 */
import { DISCONNECT_REASONS, type DisconnectReason } from "@/db/vocabulary";

export { DISCONNECT_REASONS, EVENT_TYPES, type DisconnectReason, type EventType } from "@/db/vocabulary";

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
