import type { MetricName } from "../metrics";
import { pushScrapedMetrics, scrapedSamples, sumOf } from "./prometheus";
import { readRabbitMqLogLine } from "./rabbitmq-log";
import { RabbitMqSessionJoiner } from "./rabbitmq-sessions";
import { CounterRates } from "./rates";
import { blankEvent, emptyOutput, LOG_TOPIC, METRICS_TOPIC, type Dialect, type DialectOutput } from "./types";

/**
 * RabbitMQ 3.10 with its MQTT plugin (docs/brokers.md, RabbitMQ). The plugin has no `$SYS`, so the
 * scrape collector (scrape.ts) reads three sources and hands each here under its own topic:
 * - METRICS_TOPIC: the `rabbitmq_prometheus` exposition;
 * - LOG_TOPIC: a log line, consumed from `amq.rabbitmq.log` (`log.exchange = true`) or shipped to
 *   `POST /api/brokers/{name}/log` — client lifecycle with ClientIDs and reasons;
 * - EVENT_TOPIC_PREFIX + routing key: a message of `amq.rabbitmq.event`, its headers as JSON.
 *   These carry no ClientID and no close reason, so the log is the primary source; the events fill
 *   in connections and refused logins only while no MQTT log line has arrived (log exchange off).
 *
 * STATEFUL: the session joiner (rabbitmq-sessions.ts), counter values for rates, whether the log
 * is flowing, the last uptime (a smaller one means the node restarted: pids start over).
 */

export const EVENT_TOPIC_PREFIX = "event/";

const GAUGES: Readonly<Record<string, MetricName>> = {
  // every client connection of the node, whatever the protocol (the endpoint does not split them)
  rabbitmq_connections: "mqtt_connections_current",
  // MQTT subscriptions are queues (`mqtt-subscription-<ClientID>qos<N>`): ready + unacknowledged
  rabbitmq_queue_messages: "mqtt_queued_messages",
  rabbitmq_process_resident_memory_bytes: "mqtt_memory_bytes",
  rabbitmq_erlang_uptime_seconds: "mqtt_broker_uptime_seconds",
};

const RATE_COUNTERS: Readonly<Record<string, MetricName>> = {
  rabbitmq_global_messages_received_total: "mqtt_messages_received_per_second",
  rabbitmq_global_messages_delivered_total: "mqtt_messages_sent_per_second",
};

/** Resource alarms (`rabbitmq_alarms_*`), 1 while raised: publishers are blocked until it clears. */
const ALARMS: Readonly<Record<string, string>> = {
  rabbitmq_alarms_memory_used_watermark: "memory",
  rabbitmq_alarms_free_disk_space_watermark: "disk",
  rabbitmq_alarms_file_descriptor_limit: "file_descriptors",
};

export const RABBITMQ_METRICS: readonly MetricName[] = [
  ...Object.values(GAUGES),
  ...Object.values(RATE_COUNTERS),
  "mqtt_broker_alarm",
];

const lossyUtf8 = new TextDecoder("utf-8");

export function createRabbitMqDialect(): Dialect {
  return new RabbitMqDialect();
}

class RabbitMqDialect implements Dialect {
  readonly name = "rabbitmq";
  readonly subscriptions: string[] = [];
  private readonly sessions = new RabbitMqSessionJoiner();
  private readonly rates = new CounterRates();
  private logSeen = false;
  private lastUptime: number | null = null;

  parse(topic: string, payload: Uint8Array, receivedAt: Date): DialectOutput {
    const out = emptyOutput();
    const raw = lossyUtf8.decode(payload);
    try {
      if (topic === METRICS_TOPIC) this.readMetrics(raw, receivedAt, out);
      else if (topic === LOG_TOPIC) this.readLog(raw, receivedAt, out);
      else if (topic.startsWith(EVENT_TOPIC_PREFIX)) this.readEvent(topic.slice(EVENT_TOPIC_PREFIX.length), raw, receivedAt, out);
      else out.unparsed.push({ receivedAt, topic, raw, error: "the rabbitmq dialect reads log lines, events and metrics" });
    } catch (err) {
      out.unparsed.push({ receivedAt, topic, raw: raw.slice(0, 4096), error: `parser error: ${String(err)}` });
    }
    return out;
  }

  private readMetrics(text: string, receivedAt: Date, out: DialectOutput): void {
    const samples = scrapedSamples(text, receivedAt, out);
    if (!samples) return;
    const uptime = sumOf(samples, "rabbitmq_erlang_uptime_seconds");
    if (uptime !== null) {
      if (this.lastUptime !== null && uptime < this.lastUptime) {
        this.sessions.reset();
        this.rates.reset();
      }
      this.lastUptime = uptime;
    }
    pushScrapedMetrics(samples, { gauges: GAUGES, rateCounters: RATE_COUNTERS }, this.rates, receivedAt, out);
    for (const [name, alarm] of Object.entries(ALARMS)) {
      const value = sumOf(samples, name);
      if (value !== null) out.samples.push({ metric: "mqtt_broker_alarm", node: null, value, ts: receivedAt, labels: { alarm } });
    }
    const build = samples.find((s) => s.name === "rabbitmq_build_info" && s.labels.rabbitmq_version);
    if (build) out.version = build.labels.rabbitmq_version;
    out.heartbeat = { node: null, uptimeSeconds: uptime ?? 0 };
  }

  private readLog(raw: string, receivedAt: Date, out: DialectOutput): void {
    const record = readRabbitMqLogLine(raw);
    if (!record) {
      // The log exchange carries every line of the node; only the MQTT ones are ours to keep.
      if (/\bMQTT\b/.test(raw)) out.unparsed.push({ receivedAt, topic: LOG_TOPIC, raw, error: "unrecognised MQTT log line" });
      return;
    }
    this.logSeen = true;
    const event = this.sessions.read(record, { receivedAt, raw });
    if (event) out.events.push(event);
  }

  private readEvent(routingKey: string, raw: string, receivedAt: Date, out: DialectOutput): void {
    if (this.logSeen) return;
    let headers: Record<string, unknown>;
    try {
      headers = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      out.unparsed.push({ receivedAt, topic: EVENT_TOPIC_PREFIX + routingKey, raw, error: "event headers are not JSON" });
      return;
    }
    const ts = typeof headers.timestamp_in_ms === "number" ? new Date(headers.timestamp_in_ms) : receivedAt;
    if (routingKey === "user.authentication.failure") {
      out.events.push(
        blankEvent({
          ts,
          receivedAt,
          raw,
          type: "connect_failed",
          reason: "not_authorized",
          username: typeof headers.name === "string" ? headers.name : null,
        }),
      );
      return;
    }
    if (routingKey !== "connection.created" && routingKey !== "connection.closed") return;
    if (!JSON.stringify(headers.protocol ?? "").includes("MQTT")) return;
    const port = typeof headers.peer_port === "number" ? headers.peer_port : null;
    out.events.push(
      blankEvent({
        ts,
        receivedAt,
        raw,
        type: routingKey === "connection.created" ? "connected" : "disconnected",
        reason: routingKey === "connection.closed" ? "unknown" : null,
        address: readPeerHost(headers.peer_host),
        port,
        username: typeof headers.user === "string" ? headers.user : null,
      }),
    );
  }
}

/** `peer_host` is an Erlang address tuple; amqplib hands it over as an array or a string. */
function readPeerHost(value: unknown): string | null {
  if (typeof value === "string") return value.replace(/^\{(\d+),(\d+),(\d+),(\d+)\}$/, "$1.$2.$3.$4");
  if (Array.isArray(value) && value.length === 4 && value.every((n) => typeof n === "number")) return value.join(".");
  return null;
}
