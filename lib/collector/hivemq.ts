import type { DisconnectReason } from "../events";
import type { MetricName } from "../metrics";
import { pushScrapedMetrics, scrapedSamples } from "./prometheus";
import { CounterRates } from "./rates";
import { blankEvent, emptyOutput, LOG_TOPIC, METRICS_TOPIC, type Dialect, type DialectOutput } from "./types";

/**
 * The HiveMQ 4 / Community Edition dialect (docs/brokers.md, HiveMQ). HiveMQ has no `$SYS`: metrics
 * come from its Prometheus extension (`com_hivemq_*`, scraped by the scrape collector and handed
 * here on METRICS_TOPIC), client lifecycle from `event.log` lines shipped to
 * `POST /api/brokers/{name}/log` (LOG_TOPIC). No HiveMQ runs in our tests: the fixtures under
 * test/fixtures/hivemq-4/ are written from the documented formats.
 *
 * STATEFUL: open sessions by ClientID (bounded), so a disconnect gets its session's address,
 * clean start and length, and a refusal without a session becomes `connect_failed`; counter values
 * for rates.
 */

/** Gauges of HiveMQMetrics.java, with dots turned into underscores by the Prometheus extension. */
const GAUGES: Readonly<Record<string, MetricName>> = {
  com_hivemq_networking_connections_current: "mqtt_connections_current",
  com_hivemq_sessions_overall_current: "mqtt_sessions",
  com_hivemq_subscriptions_overall_current: "mqtt_subscriptions",
  com_hivemq_messages_retained_current: "mqtt_retained_messages",
  com_hivemq_messages_dropped_count: "mqtt_messages_dropped_total",
};

/** Dropwizard meters, exported as cumulative `_total` counters: per-second rates from successive scrapes. */
const RATE_COUNTERS: Readonly<Record<string, MetricName>> = {
  com_hivemq_messages_incoming_publish_rate_total: "mqtt_messages_received_per_second",
  com_hivemq_messages_outgoing_publish_rate_total: "mqtt_messages_sent_per_second",
};

export const HIVEMQ_METRICS: readonly MetricName[] = [...Object.values(GAUGES), ...Object.values(RATE_COUNTERS)];

/**
 * Reason texts of `was disconnected. reason: …` mapped to our vocabulary (HiveMQ's knowledge base,
 * docs/brokers.md). Matched as substrings, case-insensitively; anything else is `unknown`.
 */
const REASON_TEXTS: readonly [string, DisconnectReason][] = [
  ["idle for too long", "keepalive_timeout"],
  ["another client connected with the same clientid", "takenover"],
  ["too many concurrent publish", "protocol_error"],
  ["authentication failed", "not_authorized"],
  ["not authorized", "not_authorized"],
  ["too large", "packet_too_large"],
  ["malformed", "malformed_packet"],
  ["protocol", "protocol_error"],
  ["shut down", "kicked"],
  ["shutting down", "kicked"],
  ["administrative", "kicked"],
  ["extension", "kicked"],
];

/** Reasons that, for a ClientID without an open session, mean the connection never became one. */
const REFUSALS: ReadonlySet<DisconnectReason> = new Set<DisconnectReason>([
  "not_authorized",
  "protocol_error",
  "malformed_packet",
  "packet_too_large",
]);

export function hivemqReason(text: string): DisconnectReason {
  const lower = text.toLowerCase();
  for (const [needle, reason] of REASON_TEXTS) if (lower.includes(needle)) return reason;
  return "unknown";
}

/**
 * logback's default `%d` is `yyyy-MM-dd HH:mm:ss,SSS` in the JVM's zone, which the line does not
 * state: read as UTC (run HiveMQ with -Duser.timezone=UTC, or use an ISO 8601 pattern with an
 * offset, which is read as written). Level and logger name, when the pattern has them, are skipped.
 */
const TIMESTAMP = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:[,.](\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?\s+/;

export type HivemqLine =
  | { kind: "connected"; clientId: string; ip: string; cleanStart: boolean; sessionExpiry: number }
  | { kind: "graceful"; clientId: string; ip: string; clientReason: string | null }
  | { kind: "ungraceful"; clientId: string; ip: string }
  | { kind: "disconnected"; clientId: string; ip: string; reasonText: string };

/** One `event.log` line: its time (null when it has none we can read) and what it says, or null. STATELESS. */
export function readHivemqEventLine(text: string): { ts: Date | null; line: HivemqLine } | null {
  let rest = text.trim();
  let ts: Date | null = null;
  const stamp = TIMESTAMP.exec(rest);
  if (stamp) {
    const ms = (stamp[3] ?? "0").padEnd(3, "0").slice(0, 3);
    const zone = stamp[4] ? (stamp[4] === "Z" ? "Z" : stamp[4].replace(/^([+-]\d{2})(\d{2})$/, "$1:$2")) : "Z";
    const date = new Date(`${stamp[1]}T${stamp[2]}.${ms}${zone}`);
    ts = Number.isNaN(date.getTime()) ? null : date;
    rest = rest.slice(stamp[0].length);
  }
  const start = rest.indexOf("Client ID: ");
  if (start < 0) return null;
  const line = readBody(rest.slice(start + "Client ID: ".length));
  return line && { ts, line };
}

function readBody(body: string): HivemqLine | null {
  // The ClientID may itself contain ", IP: ": the last one before the fixed tail is the separator.
  const connected = / connected\.$/.test(body) ? /, Clean Start: (true|false), Session Expiry: (\d{1,20}) connected\.$/.exec(body) : null;
  if (connected) {
    const head = splitIp(body.slice(0, connected.index));
    return head && {
      kind: "connected",
      ...head,
      cleanStart: connected[1] === "true",
      sessionExpiry: Number(connected[2]),
    };
  }
  const graceful = body.lastIndexOf(" disconnected gracefully.");
  if (graceful >= 0) {
    const head = splitIp(body.slice(0, graceful));
    const after = body.slice(graceful + " disconnected gracefully.".length).trim();
    const given = after.startsWith("Reason given by client: ") ? after.slice("Reason given by client: ".length) : null;
    return head && { kind: "graceful", ...head, clientReason: given };
  }
  if (body.endsWith(" disconnected ungracefully.")) {
    const head = splitIp(body.slice(0, -" disconnected ungracefully.".length));
    return head && { kind: "ungraceful", ...head };
  }
  const was = body.lastIndexOf(" was disconnected. reason: ");
  if (was >= 0) {
    const head = splitIp(body.slice(0, was));
    const reasonText = body.slice(was + " was disconnected. reason: ".length).replace(/\.$/, "");
    return head && { kind: "disconnected", ...head, reasonText };
  }
  return null;
}

function splitIp(head: string): { clientId: string; ip: string } | null {
  const sep = head.lastIndexOf(", IP: ");
  if (sep < 0) return null;
  const ip = head.slice(sep + ", IP: ".length);
  return /^\S+$/.test(ip) ? { clientId: head.slice(0, sep), ip } : null;
}

interface OpenSession {
  connectedAt: Date;
  address: string;
  cleanStart: boolean;
}

const DEFAULT_MAX_OPEN_SESSIONS = 200_000;
const lossyUtf8 = new TextDecoder("utf-8");

export function createHivemqDialect(maxOpenSessions = DEFAULT_MAX_OPEN_SESSIONS): Dialect {
  return new HivemqDialect(maxOpenSessions);
}

class HivemqDialect implements Dialect {
  readonly name = "hivemq";
  readonly subscriptions: string[] = [];
  private readonly sessions = new Map<string, OpenSession>();
  private readonly rates = new CounterRates();

  constructor(private readonly maxOpenSessions: number) {}

  parse(topic: string, payload: Uint8Array, receivedAt: Date): DialectOutput {
    const out = emptyOutput();
    const raw = lossyUtf8.decode(payload);
    if (topic === METRICS_TOPIC) this.readMetrics(raw, receivedAt, out);
    else if (topic === LOG_TOPIC) this.readLog(raw, receivedAt, out);
    else out.unparsed.push({ receivedAt, topic, raw, error: "the hivemq dialect reads only log lines and metrics" });
    return out;
  }

  private readMetrics(text: string, receivedAt: Date, out: DialectOutput): void {
    const samples = scrapedSamples(text, receivedAt, out);
    if (!samples) return;
    pushScrapedMetrics(samples, { gauges: GAUGES, rateCounters: RATE_COUNTERS }, this.rates, receivedAt, out);
    out.heartbeat = { node: null, uptimeSeconds: 0 };
  }

  private readLog(raw: string, receivedAt: Date, out: DialectOutput): void {
    const read = readHivemqEventLine(raw);
    if (!read) {
      out.unparsed.push({ receivedAt, topic: LOG_TOPIC, raw, error: "not a HiveMQ event.log client line" });
      return;
    }
    const { line } = read;
    const ts = read.ts ?? receivedAt;
    // `UNKNOWN`: the connection ended before a CONNECT named it, usually a load balancer's health check
    const clientId = line.clientId === "UNKNOWN" ? null : line.clientId;
    const base = { ts, receivedAt, raw, clientId, address: line.ip };
    if (line.kind === "connected") {
      if (clientId !== null) {
        this.sessions.delete(clientId);
        if (this.sessions.size >= this.maxOpenSessions) this.sessions.delete(this.sessions.keys().next().value!);
        this.sessions.set(clientId, { connectedAt: ts, address: line.ip, cleanStart: line.cleanStart });
      }
      out.events.push(blankEvent({ ...base, type: "connected", cleanStart: line.cleanStart }));
      return;
    }
    const reason: DisconnectReason =
      line.kind === "graceful" ? "normal" : line.kind === "ungraceful" ? "tcp_closed" : hivemqReason(line.reasonText);
    const session = clientId !== null ? this.sessions.get(clientId) : undefined;
    if (clientId !== null) this.sessions.delete(clientId);
    if (!session && (clientId === null || REFUSALS.has(reason))) {
      out.events.push(blankEvent({ ...base, type: "connect_failed", reason }));
      return;
    }
    out.events.push(
      blankEvent({
        ...base,
        type: "disconnected",
        reason,
        cleanStart: session?.cleanStart ?? null,
        sessionSeconds: session ? Math.max(0, (ts.getTime() - session.connectedAt.getTime()) / 1000) : null,
      }),
    );
  }
}
