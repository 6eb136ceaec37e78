import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createRabbitMqDialect, EVENT_TOPIC_PREFIX } from "@/lib/collector/rabbitmq";
import { readRabbitMqLogLine } from "@/lib/collector/rabbitmq-log";
import { RabbitMqSessionJoiner } from "@/lib/collector/rabbitmq-sessions";
import { LOG_TOPIC, METRICS_TOPIC, type ConnectionEvent } from "@/lib/collector/types";

const fixture = (name: string) => readFileSync(new URL(`./fixtures/rabbitmq-3.10/${name}`, import.meta.url), "utf8");
const encode = (text: string) => new TextEncoder().encode(text);
const receivedAt = new Date("2026-11-30T23:45:00Z");

function join(lines: string[]): ConnectionEvent[] {
  const joiner = new RabbitMqSessionJoiner();
  const events: ConnectionEvent[] = [];
  for (const raw of lines) {
    const record = readRabbitMqLogLine(raw);
    if (!record) continue;
    const event = joiner.read(record, { receivedAt, raw });
    if (event) events.push(event);
  }
  return events;
}

describe("RabbitMQ MQTT log lines", () => {
  it("reads the prefix (time, level, pid) and the accepting line's ClientID and peer", () => {
    const record = readRabbitMqLogLine(fixture("mqtt-log.txt").split("\n")[0]);
    expect(record).toEqual({
      ts: new Date("2026-11-30T23:41:17.349Z"),
      level: "info",
      pid: "<0.835.0>",
      line: { kind: "accepting", peer: { address: "127.0.0.1", port: 48630 }, clientId: "rmqp-00000" },
    });
  });

  it("joins a clean close, an abrupt close and a refused login to their connections", () => {
    const events = join(fixture("mqtt-log.txt").split("\n"));
    expect(events.map((e) => [e.type, e.clientId, e.reason, e.address, e.port, e.username])).toEqual([
      ["connected", "rmqp-00000", null, "127.0.0.1", 48630, null],
      ["disconnected", "rmqp-00000", "normal", "127.0.0.1", 48630, null],
      ["connected", "rmqp-00001", null, "127.0.0.1", 48660, null],
      ["disconnected", "rmqp-00001", "tcp_closed", "127.0.0.1", 48660, null],
      ["connect_failed", null, "not_authorized", "127.0.0.1", 48670, "guest"],
    ]);
    expect(events[1].sessionSeconds).toBeCloseTo(0.001, 3);
  });

  it("joins a peer-closed line by its address pair when the pid differs", () => {
    const events = join([
      "2026-11-30 23:41:18.101000+00:00 [info] <0.903.0> accepting MQTT connection <0.903.0> (10.1.1.1:5000 -> 10.0.0.1:1883, client id: c1)",
      '2026-11-30 23:41:19.101000+00:00 [info] <0.999.0> MQTT connection "10.1.1.1:5000 -> 10.0.0.1:1883" will terminate because peer closed TCP connection',
    ]);
    expect(events[1]).toMatchObject({ type: "disconnected", clientId: "c1", reason: "tcp_closed", sessionSeconds: 1 });
  });

  it("records a keepalive timeout, a duplicate-id takeover and a protocol refusal", () => {
    const events = join([
      "2026-11-30 23:41:18.000000+00:00 [info] <0.1.0> accepting MQTT connection <0.1.0> (10.1.1.1:5000 -> 10.0.0.1:1883, client id: k)",
      "2026-11-30 23:41:48.000000+00:00 [error] <0.1.0> closing MQTT connection <0.1.0> (keepalive timeout)",
      "2026-11-30 23:41:50.000000+00:00 [info] <0.2.0> accepting MQTT connection <0.2.0> (10.1.1.2:5000 -> 10.0.0.1:1883, client id: dup)",
      "2026-11-30 23:41:51.000000+00:00 [warning] <0.2.0> MQTT disconnecting client <0.2.0> with duplicate id 'dup'",
      "2026-11-30 23:41:52.000000+00:00 [error] <0.3.0> MQTT cannot accept connection 10.1.1.3:5000 -> 10.0.0.1:1883: incompatible protocol version",
    ]);
    expect(events.map((e) => [e.type, e.clientId, e.reason])).toEqual([
      ["connected", "k", null],
      ["disconnected", "k", "keepalive_timeout"],
      ["connected", "dup", null],
      ["disconnected", "dup", "takenover"],
      ["connect_failed", null, "protocol_error"],
    ]);
  });
});

describe("the rabbitmq dialect", () => {
  it("maps the Prometheus plugin's series to our metrics, alarms with a label, and reads the version", () => {
    const out = createRabbitMqDialect().parse(METRICS_TOPIC, encode(fixture("metrics-idle.txt")), receivedAt);
    const byName = Object.fromEntries(out.samples.filter((s) => !s.labels).map((s) => [s.metric, s.value]));
    expect(byName).toMatchObject({ mqtt_connections_current: 0, mqtt_queued_messages: 0, mqtt_broker_uptime_seconds: 30.544 });
    expect(byName.mqtt_memory_bytes).toBeGreaterThan(1e6);
    expect(out.samples.filter((s) => s.metric === "mqtt_broker_alarm").map((s) => s.labels)).toEqual([
      { alarm: "memory" },
      { alarm: "disk" },
      { alarm: "file_descriptors" },
    ]);
    expect(out.version).toBe("3.10.8");
    expect(out.heartbeat).toBeDefined();
    expect(out.unparsed).toEqual([]);
  });

  it("keeps an unknown MQTT log line as unparsed and ignores the node's other log lines", () => {
    const dialect = createRabbitMqDialect();
    const mqtt = dialect.parse(LOG_TOPIC, encode("2026-11-30 23:41:18.000000+00:00 [info] <0.1.0> MQTT something new"), receivedAt);
    expect(mqtt.unparsed).toHaveLength(1);
    const other = dialect.parse(LOG_TOPIC, encode("2026-11-30 23:41:18.000000+00:00 [info] <0.1.0> Server startup complete"), receivedAt);
    expect(other).toEqual({ samples: [], events: [], unparsed: [] });
  });

  it("uses event-exchange connections and auth failures only while no MQTT log line has arrived", () => {
    const dialect = createRabbitMqDialect();
    const created = JSON.stringify({ protocol: "{'MQTT',\"3.1.1\"}", peer_host: "{127,0,0,1}", peer_port: 40000, user: "guest" });
    const before = dialect.parse(`${EVENT_TOPIC_PREFIX}connection.created`, encode(created), receivedAt);
    expect(before.events[0]).toMatchObject({ type: "connected", address: "127.0.0.1", port: 40000, clientId: null });
    const failed = dialect.parse(`${EVENT_TOPIC_PREFIX}user.authentication.failure`, encode(JSON.stringify({ name: "bob" })), receivedAt);
    expect(failed.events[0]).toMatchObject({ type: "connect_failed", reason: "not_authorized", username: "bob" });
    dialect.parse(LOG_TOPIC, encode(fixture("mqtt-log.txt").split("\n")[0]), receivedAt);
    expect(dialect.parse(`${EVENT_TOPIC_PREFIX}connection.created`, encode(created), receivedAt).events).toEqual([]);
  });
});
