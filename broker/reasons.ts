import type { DisconnectReason } from "@/lib/events";

/**
 * Why Aedes ended a connection, in our vocabulary. Aedes' `clientDisconnect` carries no
 * reason (docs/brokers.md §3.2), so the broker correlates it with the
 * error that came just before: keepalive, parser errors from mqtt-packet, CONNACK codes.
 */
export function reasonForAedesError(err: Error & { code?: string; errorCode?: number }): DisconnectReason {
  // CONNACK return codes set by aedes/lib/handlers/connect.js: 4 bad user name or password, 5 not authorized
  if (err.errorCode === 4 || err.errorCode === 5) return "not_authorized";
  if (err.errorCode === 1 || err.errorCode === 2 || err.errorCode === 6) return "protocol_error";
  if (err.code === "ECONNRESET" || err.code === "EPIPE") return "tcp_closed";
  if (err.code) return "socket_error";
  const message = err.message ?? "";
  if (message === "keep alive timeout") return "keepalive_timeout";
  if (message === "drain timeout") return "socket_error";
  if (message === "Client queue limit reached") return "internal_error";
  if (message === "connection closed") return "tcp_closed";
  // mqtt-packet parser: bytes that don't decode at all are malformed; well-formed bytes that
  // break a protocol rule (wrong protocol name/level, reserved flags) are protocol errors.
  if (
    /^(Cannot parse|Malformed|Packet too short|Invalid variable byte integer|Unknown property|Invalid length)/.test(
      message,
    )
  ) {
    return "malformed_packet";
  }
  if (
    /^(Invalid|Connect flag|Will (QoS|Retain)|Packet must not|Not supported|unacceptable protocol|identifier rejected|connect did not arrive)/i.test(
      message,
    )
  ) {
    return "protocol_error";
  }
  return "unknown";
}
