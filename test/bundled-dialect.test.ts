import { describe, expect, it } from "vitest";
import {
  bundledTopic,
  clientIdTopicLevel,
  type BundledClientPayload,
  type BundledConnectFailedPayload,
  type BundledDroppedPayload,
} from "../lib/bundled-layout";
import { createBundledDialect } from "../lib/collector/bundled";
import { blankEvent } from "../lib/collector/types";

/** Payloads are built from lib/bundled-layout.ts's types, so a layout change breaks this file's types. */
const NODE = "brokerwatch@127.0.0.1";
const T0 = new Date("2026-11-23T10:00:00Z");
const utf8 = (s: string) => new TextEncoder().encode(s);
const json = (v: unknown) => utf8(JSON.stringify(v));

function session(fields: Partial<BundledClientPayload> = {}): BundledClientPayload {
  return {
    clientid: "press-7",
    username: "plant",
    ipaddress: "192.0.2.40",
    sockport: 1883,
    peerport: 51234,
    proto_name: "MQTT",
    proto_ver: 5,
    keepalive: 30,
    clean_start: false,
    connected_at: 1795340000000,
    ts: 1795340000000,
    ...fields,
  };
}

function connectFailed(fields: Partial<BundledConnectFailedPayload> = {}): BundledConnectFailedPayload {
  return {
    clientid: null,
    username: "intruder",
    ipaddress: "198.51.100.66",
    sockport: 1883,
    peerport: 40001,
    proto_ver: 4,
    reason: "bad_username_or_password",
    reason_detail: "password mismatch",
    ts: 1795340010000,
    ...fields,
  };
}

const clientTopic = (clientId: string, event: string) =>
  bundledTopic(NODE, `clients/${clientIdTopicLevel(clientId)}/${event}`);

describe("bundled dialect", () => {
  it("reports the Aedes version string and ignores sysdescr", () => {
    const dialect = createBundledDialect();
    expect(dialect.parse(bundledTopic(NODE, "version"), utf8("aedes 1.2.0 (brokerwatch bundled)"), T0).version).toBe(
      "aedes 1.2.0 (brokerwatch bundled)",
    );
    expect(dialect.parse(bundledTopic(NODE, "sysdescr"), utf8("brokerwatch bundled broker"), T0)).toEqual({
      samples: [],
      events: [],
      unparsed: [],
    });
  });

  it("reads uptime in integer milliseconds as a heartbeat", () => {
    const out = createBundledDialect().parse(bundledTopic(NODE, "uptime"), utf8("90500"), T0);
    expect(out.heartbeat).toEqual({ node: NODE, uptimeSeconds: 90.5 });
    expect(out.samples).toEqual([{ metric: "mqtt_broker_uptime_seconds", node: NODE, value: 90.5, ts: T0 }]);
  });

  it("exports the queue backlog that EMQX lacks, so the backlog rule works on the bundled broker", () => {
    const out = createBundledDialect().parse(bundledTopic(NODE, "stats/queued/count"), utf8("150000"), T0);
    expect(out.samples).toEqual([{ metric: "mqtt_queued_messages", node: NODE, value: 150000, ts: T0 }]);
  });

  it("exports heap_used as memory bytes although it sits under stats/", () => {
    const out = createBundledDialect().parse(bundledTopic(NODE, "stats/memory/heap_used"), utf8("73400320"), T0);
    expect(out.samples).toEqual([{ metric: "mqtt_memory_bytes", node: NODE, value: 73400320, ts: T0 }]);
  });

  it("still reads EMQX's gauges and counters", () => {
    const dialect = createBundledDialect();
    expect(dialect.parse(bundledTopic(NODE, "stats/connections/count"), utf8("12"), T0).samples[0]).toMatchObject({
      metric: "mqtt_connections_current",
      value: 12,
    });
    const received = bundledTopic(NODE, "metrics/messages/received");
    dialect.parse(received, utf8("100"), T0);
    const later = new Date(T0.getTime() + 5000);
    expect(dialect.parse(received, utf8("150"), later).samples).toEqual([
      { metric: "mqtt_messages_received_per_second", node: NODE, value: 10, ts: later },
    ]);
  });

  it("takes the client's own port from peerport", () => {
    const [event] = createBundledDialect().parse(clientTopic("press-7", "connected"), json(session()), T0).events;
    expect(event).toMatchObject({ type: "connected", clientId: "press-7", address: "192.0.2.40", port: 51234 });
    expect(event).toMatchObject({ protocolVersion: 5, cleanStart: false, keepalive: 30, username: "plant" });
  });

  it("normalises the reason of a disconnect and leaves reason_detail in raw", () => {
    const payload = session({
      reason: "closed",
      reason_detail: "ECONNRESET",
      disconnected_at: 1795340042000,
      ts: 1795340042000,
    });
    const [event] = createBundledDialect().parse(clientTopic("press-7", "disconnected"), json(payload), T0).events;
    expect(event).toMatchObject({ type: "disconnected", reason: "tcp_closed", sessionSeconds: 42, port: 51234 });
    expect(event.raw).toContain("ECONNRESET");
  });

  it("records a slow subscriber's dropped messages as a messages_dropped event", () => {
    const payload: BundledDroppedPayload = { clientid: "dashboard-3", dropped: 1200, ts: 1795340020000 };
    const out = createBundledDialect().parse(clientTopic("dashboard-3", "messages_dropped"), json(payload), T0);
    expect(out.events).toEqual([
      blankEvent({
        ts: new Date(1795340020000),
        receivedAt: T0,
        node: NODE,
        clientId: "dashboard-3",
        type: "messages_dropped",
        raw: JSON.stringify(payload),
      }),
    ]);
  });

  it("records a failed login with no ClientID as connect_failed not_authorized", () => {
    const out = createBundledDialect().parse(bundledTopic(NODE, "connect_failed"), json(connectFailed()), T0);
    expect(out.events).toEqual([
      blankEvent({
        ts: new Date(1795340010000),
        receivedAt: T0,
        node: NODE,
        clientId: null,
        type: "connect_failed",
        reason: "not_authorized",
        address: "198.51.100.66",
        port: 40001,
        username: "intruder",
        protocolVersion: 4,
        raw: JSON.stringify(connectFailed()),
      }),
    ]);
  });

  it("records a garbage CONNECT's odd protocol level as null", () => {
    const payload = connectFailed({ clientid: "weird", proto_ver: 77, reason: "protocol_error", username: null });
    const [event] = createBundledDialect().parse(bundledTopic(NODE, "connect_failed"), json(payload), T0).events;
    expect(event).toMatchObject({ clientId: "weird", protocolVersion: null, reason: "protocol_error", username: null });
  });

  it("keeps a connect_failed that is not JSON as unparsed", () => {
    const out = createBundledDialect().parse(bundledTopic(NODE, "connect_failed"), utf8("refused"), T0);
    expect(out.unparsed).toMatchObject([{ raw: "refused", error: "payload is not JSON" }]);
  });

  it.each([
    ["a slash", "site/a/b"],
    ["MQTT wildcards and the escape char", "100%+#"],
    ["a 64 KiB id, truncated in the topic", "z".repeat(65_535)],
  ])("takes a ClientID with %s from the payload, not the percent-encoded topic", (_, clientId) => {
    const topic = clientTopic(clientId, "connected");
    expect(topic).not.toContain(`/${clientId}/`);
    const out = createBundledDialect().parse(topic, json(session({ clientid: clientId })), T0);
    expect(out.events.map((e) => e.clientId)).toEqual([clientId]);
  });
});
