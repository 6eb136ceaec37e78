import type { DisconnectReason } from "../events";

/**
 * Reads one line RabbitMQ 3.10's MQTT plugin logs (published on `amq.rabbitmq.log` with
 * `log.exchange = true`, or shipped from its log file). STATELESS: the same text always gives the
 * same record. The format strings are those of `rabbit_mqtt_reader` 3.10 (docs/brokers.md, RabbitMQ):
 *
 *   accepting MQTT connection ~p (~s, client id: ~s)            pid, "peer -> local", ClientID
 *   closing MQTT connection ~p (~s)                              after a DISCONNECT
 *   closing MQTT connection ~p (keepalive timeout)
 *   closing MQTT connection ~p (login timeout)                   no CONNECT in time
 *   MQTT connection ~p will terminate because peer closed TCP connection    ~p of "peer -> local"
 *   MQTT login failed for user '~s', …                           (rabbit_mqtt_processor)
 *   MQTT connection ~s is closing due to an authentication failure
 *   MQTT connection ~s is closing due to an authorization failure
 *   MQTT cannot accept connection ~s: incompatible protocol version | client uses an invalid ID
 *   MQTT protocol error on connection ~s: ~p
 *   MQTT detected a framing error on connection ~s: ~p | MQTT cannot parse a frame on connection '~s', …
 *   MQTT detected network error on ~s: ~p
 *   MQTT disconnecting client ~p with duplicate id '~s'          the older of two same-ClientID connections
 *   MQTT disconnecting client ~p with client ID '~s', reason: ~s  closed by the server (management, shutdown)
 *
 * Every line starts `<date> <time>+<offset> [level] <pid> `; the pid is the connection's reader
 * process, the same on every line about one connection, which is what joins them.
 */

export interface Peer {
  address: string;
  port: number;
}

export type RabbitMqLine =
  | { kind: "accepting"; peer: Peer | null; clientId: string }
  | { kind: "closed"; peer: Peer | null; reason: DisconnectReason }
  | { kind: "refused"; peer: Peer | null; reason: DisconnectReason }
  | { kind: "login_failed"; username: string }
  | { kind: "kicked"; clientId: string; reason: DisconnectReason };

export interface RabbitMqLogRecord {
  ts: Date | null;
  level: string | null;
  /** the logging process, `<0.835.0>` */
  pid: string | null;
  line: RabbitMqLine;
}

const PREFIX = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(\.\d{1,9})?([+-]\d{2}:\d{2}|Z)? \[(\w{1,16})\] (<\d{1,10}\.\d{1,10}\.\d{1,10}>) /;

/** `127.0.0.1:48630 -> 127.0.0.1:47027` → the peer; IPv6 addresses are printed without brackets. */
export function readConnectionName(name: string): Peer | null {
  const arrow = name.indexOf(" -> ");
  if (arrow < 0) return null;
  const peer = name.slice(0, arrow);
  const colon = peer.lastIndexOf(":");
  if (colon <= 0) return null;
  const port = Number(peer.slice(colon + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535 || !/^\d{1,5}$/.test(peer.slice(colon + 1))) return null;
  return { address: peer.slice(0, colon), port };
}

export function readRabbitMqLogLine(text: string): RabbitMqLogRecord | null {
  const trimmed = text.replace(/\r?\n$/, "");
  const prefix = PREFIX.exec(trimmed);
  let ts: Date | null = null;
  let body = trimmed;
  if (prefix) {
    const frac = (prefix[3] ?? ".0").slice(1).padEnd(3, "0").slice(0, 3);
    const date = new Date(`${prefix[1]}T${prefix[2]}.${frac}${prefix[4] ?? "Z"}`);
    ts = Number.isNaN(date.getTime()) ? null : date;
    body = trimmed.slice(prefix[0].length);
  }
  const line = readBody(body);
  return line && { ts, level: prefix?.[5] ?? null, pid: prefix?.[6] ?? null, line };
}

/** What follows `~s` in the connection-level lines that name the connection. */
const REFUSALS: readonly [string, string, DisconnectReason][] = [
  ["MQTT connection ", " is closing due to an authentication failure", "not_authorized"],
  ["MQTT connection ", " is closing due to an authorization failure", "not_authorized"],
  ["MQTT cannot accept connection ", ": incompatible protocol version", "protocol_error"],
  ["MQTT cannot accept connection ", ": client uses an invalid ID", "protocol_error"],
];

function readBody(body: string): RabbitMqLine | null {
  if (body.startsWith("accepting MQTT connection ")) {
    const open = body.indexOf(" (");
    const idAt = body.lastIndexOf(", client id: ");
    if (open < 0 || idAt < open || !body.endsWith(")")) return null;
    return {
      kind: "accepting",
      peer: readConnectionName(body.slice(open + 2, idAt)),
      clientId: body.slice(idAt + ", client id: ".length, -1),
    };
  }
  if (body.startsWith("closing MQTT connection ")) {
    const open = body.indexOf(" (");
    if (open < 0 || !body.endsWith(")")) return null;
    const inner = body.slice(open + 2, -1);
    if (inner === "keepalive timeout") return { kind: "closed", peer: null, reason: "keepalive_timeout" };
    if (inner === "login timeout") return { kind: "refused", peer: null, reason: "protocol_error" };
    return { kind: "closed", peer: readConnectionName(inner), reason: "normal" };
  }
  const peerClosed = /^MQTT connection "([^"]{1,300})" will terminate because peer closed TCP connection$/.exec(body);
  if (peerClosed) return { kind: "closed", peer: readConnectionName(peerClosed[1]), reason: "tcp_closed" };
  const login = /^MQTT login failed for user '([^']{0,1000})'/.exec(body);
  if (login) return { kind: "login_failed", username: login[1] };
  for (const [start, end, reason] of REFUSALS) {
    if (body.startsWith(start) && body.endsWith(end)) {
      return { kind: "refused", peer: readConnectionName(body.slice(start.length, -end.length)), reason };
    }
  }
  const onConnection = /^MQTT (protocol error|detected a framing error) on connection (.{1,300}?): /.exec(body);
  if (onConnection) {
    const reason = onConnection[1] === "protocol error" ? "protocol_error" : "malformed_packet";
    return { kind: "closed", peer: readConnectionName(onConnection[2]), reason };
  }
  const frame = /^MQTT cannot parse a frame on connection '([^']{1,300})'/.exec(body);
  if (frame) return { kind: "closed", peer: readConnectionName(frame[1]), reason: "malformed_packet" };
  const network = /^MQTT detected network error on (.{1,300}?): /.exec(body);
  if (network) return { kind: "closed", peer: readConnectionName(network[1]), reason: "socket_error" };
  const duplicate = /^MQTT disconnecting client \S{1,300} with duplicate id '(.*)'$/.exec(body);
  if (duplicate) return { kind: "kicked", clientId: duplicate[1], reason: "takenover" };
  const kicked = /^MQTT disconnecting client \S{1,300} with client ID '(.*)', reason: /.exec(body);
  if (kicked) return { kind: "kicked", clientId: kicked[1], reason: "kicked" };
  return null;
}
