import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createHivemqDialect, hivemqReason, readHivemqEventLine } from "@/lib/collector/hivemq";
import { LOG_TOPIC, METRICS_TOPIC, type DialectOutput } from "@/lib/collector/types";

const fixture = (name: string) => readFileSync(new URL(`./fixtures/hivemq-4/${name}`, import.meta.url), "utf8");
const encode = (text: string) => new TextEncoder().encode(text);

function feedLog(): DialectOutput[] {
  const dialect = createHivemqDialect();
  const receivedAt = new Date("2026-11-30T12:00:00Z");
  return fixture("event.log")
    .split("\n")
    .filter((l) => l.trim())
    .map((line) => dialect.parse(LOG_TOPIC, encode(line), receivedAt));
}

describe("HiveMQ event.log", () => {
  it("reads the connected line with clean start and session expiry, and the logback timestamp as UTC", () => {
    const read = readHivemqEventLine(
      "2026-11-30 10:00:00,001 INFO  - Client ID: a, IP: b, Clean Start: false, Session Expiry: 3600 connected.",
    );
    expect(read).toEqual({
      ts: new Date("2026-11-30T10:00:00.001Z"),
      line: { kind: "connected", clientId: "a", ip: "b", cleanStart: false, sessionExpiry: 3600 },
    });
  });

  it("keeps a ClientID that itself contains ', IP: ' whole", () => {
    const read = readHivemqEventLine("Client ID: odd, IP: x, IP: 10.0.0.1 disconnected ungracefully.");
    expect(read?.line).toEqual({ kind: "ungraceful", clientId: "odd, IP: x", ip: "10.0.0.1" });
  });

  it("turns the fixture into connection events with our reasons, session lengths and refusals", () => {
    const outputs = feedLog();
    const events = outputs.flatMap((o) => o.events);
    const summary = events.map((e) => [e.type, e.clientId, e.reason, e.address]);
    expect(summary).toEqual([
      ["connected", "sensor-1", null, "10.0.0.11"],
      ["disconnected", "sensor-1", "normal", "10.0.0.11"],
      ["connected", "sensor-2", null, "10.0.0.12"],
      ["disconnected", "sensor-2", "keepalive_timeout", "10.0.0.12"],
      ["connected", "sensor-3", null, "10.0.0.13"],
      ["disconnected", "sensor-3", "takenover", "10.0.0.13"],
      ["connected", "sensor-3", null, "10.0.0.14"],
      ["disconnected", "sensor-3", "tcp_closed", "10.0.0.14"],
      ["connected", "sensor-4", null, "10.0.0.15"],
      ["disconnected", "sensor-4", "normal", "10.0.0.15"],
      // UNKNOWN: the connection closed before any CONNECT (a load balancer's health check)
      ["connect_failed", null, "tcp_closed", "10.0.0.200"],
      ["connect_failed", "intruder", "not_authorized", "10.0.0.66"],
      ["connected", "sensor-5", null, "10.0.0.16"],
      ["disconnected", "sensor-5", "protocol_error", "10.0.0.16"],
    ]);
    expect(events[1].sessionSeconds).toBeCloseTo(5.249, 3);
    expect(events[1].ts).toEqual(new Date("2026-11-30T10:00:05.250Z"));
    expect(events[3].cleanStart).toBe(false);
    const unparsed = outputs.flatMap((o) => o.unparsed);
    expect(unparsed).toHaveLength(1);
    expect(unparsed[0].raw).toContain("Prometheus Monitoring Extension");
  });

  it("maps the knowledge base's reason texts", () => {
    expect(hivemqReason("Client was idle for too long")).toBe("keepalive_timeout");
    expect(hivemqReason("Another client connected with the same clientId")).toBe("takenover");
    expect(hivemqReason("Sent too many concurrent PUBLISH messages")).toBe("protocol_error");
    expect(hivemqReason("something new")).toBe("unknown");
  });
});

describe("HiveMQ Prometheus extension", () => {
  it("maps com_hivemq_* gauges and turns meters into per-second rates between scrapes", () => {
    const dialect = createHivemqDialect();
    const t0 = new Date("2026-11-30T10:00:00Z");
    const t1 = new Date("2026-11-30T10:00:10Z");
    const first = dialect.parse(METRICS_TOPIC, encode(fixture("metrics-1.txt")), t0);
    const second = dialect.parse(METRICS_TOPIC, encode(fixture("metrics-2.txt")), t1);
    const values = (o: DialectOutput) => Object.fromEntries(o.samples.map((s) => [s.metric, s.value]));
    expect(values(first)).toEqual({
      mqtt_connections_current: 1523,
      mqtt_sessions: 2040,
      mqtt_subscriptions: 4512,
      mqtt_retained_messages: 87,
      mqtt_messages_dropped_total: 3,
    });
    expect(values(second)).toMatchObject({
      mqtt_connections_current: 1530,
      mqtt_messages_received_per_second: 100,
      mqtt_messages_sent_per_second: 250,
    });
    expect(first.heartbeat).toBeDefined();
  });

  it("records a body that is not the exposition format as unparsed, without a sample or heartbeat", () => {
    const out = createHivemqDialect().parse(METRICS_TOPIC, encode('a{b="c" 1\n'), new Date());
    expect(out.samples).toEqual([]);
    expect(out.heartbeat).toBeUndefined();
    expect(out.unparsed[0].error).toMatch(/Prometheus text format/);
  });
});
