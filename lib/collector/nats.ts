import type { DisconnectReason } from "../events";
import type { MetricName } from "../metrics";
import { CounterRates } from "./rates";
import { blankEvent, emptyOutput, type ConnectionEvent, type Dialect, type DialectOutput } from "./types";

/**
 * NATS server 2.9+ with its MQTT listener (docs/brokers.md, NATS). It has no `$SYS` over MQTT and
 * no Prometheus endpoint; the sources of scrape.ts read it two ways and hand each answer here
 * under its own topic:
 * - its HTTP monitoring port (`monitorUrl`): `/healthz` (liveness), `/varz` and `/jsz` (metrics),
 *   `/connz?state=open|closed` (ClientID events, with reasons from the closed-connection ring);
 * - where a system user is configured (`natsUrl`), the system account's pushed
 *   `$SYS.ACCOUNT.<acc>.CONNECT` / `DISCONNECT`, `$SYS.SERVER.<id>.CLIENT.AUTH.ERR` and `SHUTDOWN`.
 *
 * Both name a connection by (server_id, cid); an event is produced once whichever source tells it
 * first, and its `raw` is the same canonical record whichever source it was, so two watchers (or a
 * backfill after a reconnect) land on the same identity.
 *
 * Never stored or logged: the `jwt` field of any payload, which carries the MQTT password on
 * nats-server 2.9–2.12.5 (CVE-2026-33216). The canonical record leaves it (and every other field
 * not named below) out.
 *
 * STATEFUL, pure: the server_id (a new one is a restart: cids start over), the connections an
 * event was produced for (open / ended, bounded), counter values for rates.
 */

export const NATS_HEALTHZ = "nats/healthz";
export const NATS_VARZ = "nats/varz";
export const NATS_JSZ = "nats/jsz";
export const NATS_CONNZ_OPEN = "nats/connz/open";
export const NATS_CONNZ_CLOSED = "nats/connz/closed";
/** the system-account subjects the system source subscribes to */
export const NATS_SYSTEM_SUBJECTS = [
  "$SYS.ACCOUNT.*.CONNECT",
  "$SYS.ACCOUNT.*.DISCONNECT",
  "$SYS.SERVER.*.CLIENT.AUTH.ERR",
  "$SYS.SERVER.*.SHUTDOWN",
] as const;

export const NATS_METRICS: readonly MetricName[] = [
  "mqtt_broker_uptime_seconds",
  "mqtt_connections_current",
  "mqtt_connections_max",
  "mqtt_memory_bytes",
  "mqtt_messages_received_per_second",
  "mqtt_bytes_received_per_second",
  "mqtt_slow_consumers_total",
  "mqtt_sessions",
  "mqtt_retained_messages",
  "mqtt_queued_messages",
];

/** What NATS's close reason means in our words, and what it cannot tell apart (docs/brokers.md, NATS). */
interface ReasonMapping {
  reason: DisconnectReason;
  /** the connection never got a session: connect_failed rather than disconnected */
  refused?: boolean;
  /** said in the event where NATS's word covers more than one cause */
  note?: string;
}

/** A part of NATS_CLIENT_CLOSED_NOTE with no character JSON escapes: found as it is in a stored raw record. */
export const NATS_CLIENT_CLOSED_MARK = "both for an MQTT DISCONNECT and for a socket closed without one";
export const NATS_CLIENT_CLOSED_NOTE =
  'NATS reports "Client Closed" both for an MQTT DISCONNECT and for a socket closed without one (a crashed client): normal or tcp_closed, it cannot tell which';
export const NATS_READ_ERROR_NOTE =
  'NATS reports "Read Error" both for a keepalive timeout (no packet within 1.5 × keepalive) and for a reset connection: it cannot tell which';
const TAKEOVER_NOTE =
  "taken over by a newer connection with the same ClientID; NATS does not say whether the session was kept, so discarded is never reported";
const JAILED_NOTE =
  "refused: NATS closes a connection that reuses a ClientID within a second of a takeover (flapping), while the connection that took over stays";
const SHUTDOWN_NOTE = "the server shut down; NATS sends no DISCONNECT for the connections it closes then, so this end is inferred from its SHUTDOWN message";

/** Reasons of `ClosedState.String()` (nats-server server/monitor.go), mapped as docs/brokers.md says. */
const REASONS: Readonly<Record<string, ReasonMapping>> = {
  "Client Closed": { reason: "tcp_closed", note: NATS_CLIENT_CLOSED_NOTE },
  "Read Error": { reason: "socket_error", note: NATS_READ_ERROR_NOTE },
  "Write Error": { reason: "socket_error" },
  "Slow Consumer (Pending Bytes)": { reason: "socket_error", note: "cut as a slow consumer: it did not read fast enough (pending bytes over max_pending)" },
  "Slow Consumer (Write Deadline)": { reason: "socket_error", note: "cut as a slow consumer: a write to it took longer than write_deadline" },
  "TLS Handshake Failure": { reason: "socket_error", refused: true },
  "Duplicate Client ID": { reason: "takenover", note: TAKEOVER_NOTE },
  "Authentication Failure": { reason: "not_authorized", refused: true },
  "Authentication Timeout": { reason: "protocol_error", refused: true, note: "no CONNECT within auth_timeout" },
  "Authentication Expired": { reason: "not_authorized" },
  "Credentials Revoked": { reason: "not_authorized" },
  "Missing Account": { reason: "not_authorized", refused: true },
  "Protocol Violation": { reason: "protocol_error" },
  "Maximum Connections Exceeded": { reason: "max_connections", refused: true },
  "Maximum Account Connections Exceeded": { reason: "max_connections", refused: true },
  "Maximum Payload Exceeded": { reason: "packet_too_large" },
  "Server Shutdown": { reason: "kicked" },
  Kicked: { reason: "kicked" },
  "Stale Connection": { reason: "keepalive_timeout" },
};

export function natsReason(reason: string | null | undefined): ReasonMapping {
  return (reason && REASONS[reason]) || { reason: "unknown" };
}

/** One client connection as either source names it. */
interface NatsConnection {
  serverId: string;
  cid: number;
  /** "mqtt", "nats", "websocket"; null when the source does not say */
  type: string | null;
  clientId: string | null;
  account: string | null;
  user: string | null;
  ip: string | null;
  port: number | null;
  start: string | null;
  stop: string | null;
  reason: string | null;
}

interface OpenConnection {
  clientId: string | null;
  start: Date | null;
}

const MAX_REMEMBERED = 200_000;
const lossyUtf8 = new TextDecoder("utf-8");

export function createNatsDialect(): Dialect {
  return new NatsDialect();
}

class NatsDialect implements Dialect {
  readonly name = "nats";
  readonly subscriptions: string[] = [];
  private serverId: string | null = null;
  private readonly open = new Map<number, OpenConnection>();
  private readonly ended = new Set<number>();
  private readonly rates = new CounterRates();
  private uptimeSeconds = 0;

  parse(topic: string, payload: Uint8Array, receivedAt: Date): DialectOutput {
    const out = emptyOutput();
    const text = lossyUtf8.decode(payload);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      out.unparsed.push({ receivedAt, topic, raw: withoutJwtText(text), error: "not JSON" });
      return out;
    }
    if (!isObject(body)) {
      out.unparsed.push({ receivedAt, topic, raw: withoutJwtText(text), error: "not a JSON object" });
      return out;
    }
    try {
      if (topic === NATS_HEALTHZ) this.readHealthz(body, receivedAt, out);
      else if (topic === NATS_VARZ) this.readVarz(body, receivedAt, out);
      else if (topic === NATS_JSZ) this.readJsz(body, receivedAt, out);
      else if (topic === NATS_CONNZ_OPEN || topic === NATS_CONNZ_CLOSED) this.readConnz(body, receivedAt, out);
      else if (topic.startsWith("$SYS.")) this.readSystemEvent(topic, body, receivedAt, out);
      else out.unparsed.push({ receivedAt, topic, raw: redacted(body), error: "the nats dialect reads the monitoring port and system-account events" });
    } catch (err) {
      out.unparsed.push({ receivedAt, topic, raw: redacted(body).slice(0, 4096), error: `parser error: ${String(err)}` });
    }
    return out;
  }

  private readHealthz(body: Record<string, unknown>, receivedAt: Date, out: DialectOutput): void {
    if (body.status === "ok") out.heartbeat = { node: null, uptimeSeconds: this.uptimeSeconds };
    else
      out.unparsed.push({
        receivedAt,
        topic: NATS_HEALTHZ,
        raw: redacted(body),
        error: `/healthz says ${String(body.status)}${typeof body.error === "string" ? `: ${body.error}` : ""}`,
      });
  }

  private readVarz(v: Record<string, unknown>, receivedAt: Date, out: DialectOutput): void {
    this.noteServer(str(v.server_id));
    if (typeof v.version === "string") out.version = v.version;
    const gauge = (metric: MetricName, value: unknown) => {
      if (typeof value === "number" && Number.isFinite(value)) out.samples.push({ metric, node: null, value, ts: receivedAt });
    };
    const start = date(v.start);
    const now = date(v.now) ?? receivedAt;
    if (start) {
      this.uptimeSeconds = Math.max(0, (now.getTime() - start.getTime()) / 1000);
      gauge("mqtt_broker_uptime_seconds", this.uptimeSeconds);
    }
    // every client connection of the server: MQTT, NATS (brokerwatch's own system-account one
    // included) and websocket alike; /varz does not split them
    gauge("mqtt_connections_current", v.connections);
    gauge("mqtt_connections_max", v.max_connections);
    gauge("mqtt_memory_bytes", v.mem);
    gauge("mqtt_slow_consumers_total", v.slow_consumers);
    // in_msgs/in_bytes count MQTT PUBLISHes (as NATS messages); out_* leave out deliveries to MQTT
    // subscribers entirely, so no sent rate is derived from them (docs/brokers.md, NATS)
    for (const [field, metric] of [
      ["in_msgs", "mqtt_messages_received_per_second"],
      ["in_bytes", "mqtt_bytes_received_per_second"],
    ] as const) {
      const value = v[field];
      if (typeof value !== "number") continue;
      const rate = this.rates.observe(field, value, now);
      if (rate !== null) gauge(metric, rate);
    }
  }

  private readJsz(j: Record<string, unknown>, receivedAt: Date, out: DialectOutput): void {
    // MQTT's state lives in per-account JetStream streams: one message per session held, per
    // retained topic, per QoS 1 message not yet acknowledged by every interested subscription
    const totals = { $MQTT_sess: 0, $MQTT_rmsgs: 0, $MQTT_msgs: 0 } as Record<string, number>;
    const accounts = Array.isArray(j.account_details) ? j.account_details : [];
    for (const account of accounts) {
      const streams = isObject(account) && Array.isArray(account.stream_detail) ? account.stream_detail : [];
      for (const stream of streams) {
        if (!isObject(stream) || typeof stream.name !== "string" || !(stream.name in totals)) continue;
        const messages = isObject(stream.state) ? stream.state.messages : undefined;
        if (typeof messages === "number") totals[stream.name] += messages;
      }
    }
    out.samples.push(
      { metric: "mqtt_sessions", node: null, value: totals.$MQTT_sess, ts: receivedAt },
      { metric: "mqtt_retained_messages", node: null, value: totals.$MQTT_rmsgs, ts: receivedAt },
      { metric: "mqtt_queued_messages", node: null, value: totals.$MQTT_msgs, ts: receivedAt },
    );
  }

  private readConnz(c: Record<string, unknown>, receivedAt: Date, out: DialectOutput): void {
    const serverId = str(c.server_id);
    if (!serverId || !Array.isArray(c.connections)) {
      out.unparsed.push({ receivedAt, topic: NATS_CONNZ_OPEN, raw: redacted(c).slice(0, 4096), error: "a /connz answer without server_id or connections" });
      return;
    }
    this.noteServer(serverId);
    // oldest first, so a connection's start comes before its end
    const entries = c.connections.filter(isObject).map((e) => fromConnz(serverId, e));
    const at = (e: NatsConnection) => date(e.stop ?? e.start)?.getTime() ?? 0;
    entries.sort((a, b) => at(a) - at(b) || a.cid - b.cid);
    for (const conn of entries) this.read(conn, receivedAt, out);
  }

  private readSystemEvent(subject: string, body: Record<string, unknown>, receivedAt: Date, out: DialectOutput): void {
    const parts = subject.split(".");
    const last = parts[parts.length - 1];
    if (subject.endsWith(".SHUTDOWN")) {
      this.readShutdown(body, receivedAt, out);
      return;
    }
    const client = isObject(body.client) ? body.client : null;
    const server = isObject(body.server) ? body.server : null;
    const serverId = str(server?.id);
    if (!client || !serverId || typeof client.id !== "number") {
      out.unparsed.push({ receivedAt, topic: subject, raw: redacted(body).slice(0, 4096), error: "a system event without server.id or client.id" });
      return;
    }
    this.noteServer(serverId);
    const ended = last === "DISCONNECT" || last === "ERR";
    this.read(
      {
        serverId,
        cid: client.id,
        type: str(client.client_type),
        clientId: str(client.client_id),
        account: str(client.acc),
        user: str(client.user),
        ip: str(client.host),
        port: null,
        start: str(client.start),
        stop: ended ? (str(client.stop) ?? str(body.timestamp)) : null,
        reason: ended ? str(body.reason) : null,
      },
      receivedAt,
      out,
    );
  }

  /** No DISCONNECT follows a shutdown: every connection still open ended with it. */
  private readShutdown(body: Record<string, unknown>, receivedAt: Date, out: DialectOutput): void {
    const serverId = str(body.id);
    if (serverId && this.serverId && serverId !== this.serverId) return;
    const stop = str(body.time) ?? receivedAt.toISOString();
    for (const [cid, open] of this.open) {
      const conn: NatsConnection = {
        serverId: this.serverId ?? serverId ?? "",
        cid,
        type: "mqtt",
        clientId: open.clientId,
        account: null,
        user: null,
        ip: null,
        port: null,
        start: open.start?.toISOString() ?? null,
        stop,
        reason: "Server Shutdown",
      };
      this.read(conn, receivedAt, out, SHUTDOWN_NOTE);
    }
  }

  private read(conn: NatsConnection, receivedAt: Date, out: DialectOutput, noteOverride?: string): void {
    if (conn.type !== null && conn.type !== "mqtt") return;
    if (this.ended.has(conn.cid)) return;
    const start = date(conn.start);
    const base = {
      receivedAt,
      clientId: conn.clientId,
      address: conn.ip,
      port: conn.port,
      username: conn.user,
      // nats-server 2.9–2.10 accept MQTT 3.1.1 only
      protocolVersion: conn.clientId ? (4 as const) : null,
    };
    if (conn.stop === null) {
      if (this.open.has(conn.cid)) return;
      this.remember(conn.cid, { clientId: conn.clientId, start });
      out.events.push(blankEvent({ ...base, ts: start ?? receivedAt, type: "connected", raw: canonical(conn) }));
      return;
    }
    const stop = date(conn.stop) ?? receivedAt;
    const mapping = natsReason(conn.reason);
    let refused = mapping.refused === true || (mapping.reason === "protocol_error" && !conn.clientId);
    let note = noteOverride ?? mapping.note;
    if (mapping.reason === "takenover" && conn.clientId) {
      // The connection that took over is the newer one. An older one with this ClientID still open
      // means this is the newcomer NATS refused for flapping (docs/brokers.md, NATS).
      for (const [cid, open] of this.open) {
        if (cid < conn.cid && cid !== conn.cid && open.clientId === conn.clientId) {
          refused = true;
          note = JAILED_NOTE;
          break;
        }
      }
    }
    const wasOpen = this.open.get(conn.cid);
    this.open.delete(conn.cid);
    this.ended.add(conn.cid);
    if (this.ended.size > MAX_REMEMBERED) this.ended.delete(this.ended.values().next().value!);
    if (refused) {
      out.events.push(
        blankEvent({ ...base, ts: stop, type: "connect_failed", reason: mapping.reason, raw: canonical(conn, note) }),
      );
      return;
    }
    if (!wasOpen) {
      // its start was never seen (it opened and closed between two polls, or before we watched)
      out.events.push(blankEvent({ ...base, ts: start ?? stop, type: "connected", raw: canonical({ ...conn, stop: null, reason: null }) }));
    }
    const began = start ?? wasOpen?.start ?? null;
    out.events.push(
      blankEvent({
        ...base,
        ts: stop,
        type: "disconnected",
        reason: mapping.reason,
        sessionSeconds: began ? Math.max(0, (stop.getTime() - began.getTime()) / 1000) : null,
        raw: canonical(conn, note),
      }),
    );
  }

  private remember(cid: number, open: OpenConnection): void {
    if (this.open.size >= MAX_REMEMBERED) this.open.delete(this.open.keys().next().value!);
    this.open.set(cid, open);
  }

  /** A new server_id is a new server process: its cids start over, and its counters. */
  private noteServer(serverId: string | null): void {
    if (!serverId || serverId === this.serverId) return;
    if (this.serverId !== null) {
      this.open.clear();
      this.ended.clear();
      this.rates.reset();
    }
    this.serverId = serverId;
  }
}

function fromConnz(serverId: string, e: Record<string, unknown>): NatsConnection {
  return {
    serverId,
    cid: typeof e.cid === "number" ? e.cid : -1,
    type: str(e.type),
    clientId: str(e.mqtt_client),
    account: str(e.account),
    user: str(e.authorized_user),
    ip: str(e.ip),
    port: typeof e.port === "number" ? e.port : null,
    start: str(e.start),
    stop: str(e.stop),
    reason: str(e.reason),
  };
}

/**
 * The stored `raw` of a NATS event: the connection as both sources name it, in one key order, so
 * a pushed event and its /connz entry are the same event (db/ingest.ts identity). Leaves out the
 * peer port (the pushed events lack it; it is in the event's own column) and everything else,
 * `jwt` above all.
 */
function canonical(conn: NatsConnection, note?: string): string {
  const record: Record<string, unknown> = { server_id: conn.serverId, cid: conn.cid, mqtt_client: conn.clientId };
  // an account is known only once authenticated; a refused login is in $G or none
  if (conn.account && conn.account !== "$G") record.account = conn.account;
  if (conn.user) record.user = conn.user;
  if (conn.ip) record.ip = conn.ip;
  if (conn.start) record.start = conn.start;
  if (conn.stop) record.stop = conn.stop;
  if (conn.reason) record.reason = conn.reason;
  if (note) record.note = note;
  return JSON.stringify(record);
}

/** Any payload kept as unparsed, without the MQTT password NATS copies into `jwt`. */
function redacted(body: unknown): string {
  return JSON.stringify(body, (key, value) => (key === "jwt" || key === "issuer_key" ? undefined : value));
}

/** Text that is not JSON may still carry a `"jwt":"…"` pair: cut it out. */
function withoutJwtText(text: string): string {
  return text.replace(/"(jwt|issuer_key)"\s*:\s*"(?:[^"\\]|\\.)*"?/g, '"$1":"(removed)"').slice(0, 4096);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function str(value: unknown): string | null {
  return typeof value === "string" && value !== "" ? value : null;
}

function date(value: unknown): Date | null {
  if (typeof value !== "string") return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) || d.getTime() <= 0 ? null : d;
}

/** For tests and docs: what a NATS event's note says, if it has one. */
export function noteOf(event: ConnectionEvent): string | null {
  try {
    const note = (JSON.parse(event.raw) as { note?: unknown }).note;
    return typeof note === "string" ? note : null;
  } catch {
    return null;
  }
}
