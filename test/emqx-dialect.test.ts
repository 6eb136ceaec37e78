import { describe, expect, it } from "vitest";
import { EMQX_SYS_LINES } from "./helpers/fixtures";
import { createEmqxDialect } from "../lib/collector/emqx";
import type { DialectOutput } from "../lib/collector/types";

const NODE = "emqx@10.0.0.11";
const T0 = new Date("2026-11-23T10:00:00Z");
const utf8 = (s: string) => new TextEncoder().encode(s);
const at = (secondsAfterT0: number) => new Date(T0.getTime() + secondsAfterT0 * 1000);

function fixtureLine(topicSuffix: string, nth = 0): { topic: string; payload: string } {
  const lines = EMQX_SYS_LINES.filter((l) => l.topic.endsWith(topicSuffix));
  if (!lines[nth]) throw new Error(`fixture has no line ${nth} ending ${topicSuffix}`);
  return lines[nth];
}

function parseFixture(topicSuffix: string, nth = 0, receivedAt = T0): DialectOutput {
  const { topic, payload } = fixtureLine(topicSuffix, nth);
  return createEmqxDialect().parse(topic, utf8(payload), receivedAt);
}

function clientTopic(clientTopicLevel: string, event: string): string {
  return `$SYS/brokers/${NODE}/clients/${clientTopicLevel}/${event}`;
}

function connectedPayload(fields: Record<string, unknown>): string {
  return JSON.stringify({
    clientid: "c1",
    username: "u",
    ipaddress: "192.0.2.1",
    sockport: 1883,
    protocol: "mqtt",
    proto_name: "MQTT",
    proto_ver: 4,
    connected_at: 1795340000000,
    keepalive: 60,
    clean_start: true,
    expiry_interval: 0,
    ts: 1795340000000,
    ...fields,
  });
}

describe("EMQX dialect: every line of the EMQX 5 fixture", () => {
  it("accounts for the whole fixture without an unparsed record, in order", () => {
    const dialect = createEmqxDialect();
    const outputs = EMQX_SYS_LINES.map((l, i) => dialect.parse(l.topic, utf8(l.payload), at(i)));
    expect(outputs.flatMap((o) => o.unparsed)).toEqual([]);

    const summary = outputs.flatMap((o) =>
      o.events.map((e) => [e.type, e.clientId, e.reason, e.sessionSeconds] as const),
    );
    expect(summary).toEqual([
      ["connected", "truck-0042", null, null],
      ["disconnected", "truck-0042", "keepalive_timeout", 95],
      ["connected", "meter-17", null, null],
      ["connected", "meter-17", null, null],
      ["disconnected", "meter-17", "takenover", 60],
      ["disconnected", "meter-17", "takenover", 1],
      ["connected", "gw-3", null, null],
      ["disconnected", "gw-3", "normal", 0.5],
      ["connected", "gw-4", null, null],
      ["disconnected", "gw-4", "tcp_closed", 6],
      ["disconnected", "gw-5", "kicked", 6.1],
      ["disconnected", "gw-6", "takenover", 6.2],
      ["disconnected", "gw-7", "not_authorized", 6.3],
    ]);

    const values = Object.fromEntries(outputs.flatMap((o) => o.samples).map((s) => [s.metric, s.value]));
    expect(values).toEqual({
      mqtt_broker_uptime_seconds: 11525,
      mqtt_connections_current: 48211,
      mqtt_sessions: 61230,
      mqtt_subscriptions: 120455,
      mqtt_retained_messages: 812,
      mqtt_messages_dropped_total: 1204,
      // the rates need a second value of each counter; one observation gives none
    });
    expect(outputs.flatMap((o) => o.samples).every((s) => s.node === NODE)).toBe(true);
  });

  it("reads the cluster member list from the retained $SYS/brokers", () => {
    expect(parseFixture("$SYS/brokers").nodes).toEqual(["emqx@10.0.0.11", "emqx@10.0.0.12", "emqx@10.0.0.13"]);
  });

  it("reports the broker version", () => {
    expect(parseFixture("/version")).toEqual({ samples: [], events: [], unparsed: [], version: "5.8.6" });
  });

  it("reads EMQX 4's human uptime '3 hours, 12 minutes, 5 seconds' as a heartbeat", () => {
    const out = parseFixture("/uptime");
    expect(out.heartbeat).toEqual({ node: NODE, uptimeSeconds: 3 * 3600 + 12 * 60 + 5 });
    expect(out.samples).toEqual([{ metric: "mqtt_broker_uptime_seconds", node: NODE, value: 11525, ts: T0 }]);
  });

  it("reads EMQX 5's uptime in integer milliseconds, and weeks and days in the human form", () => {
    const dialect = createEmqxDialect();
    const topic = `$SYS/brokers/${NODE}/uptime`;
    expect(dialect.parse(topic, utf8("11525250"), T0).heartbeat?.uptimeSeconds).toBe(11525.25);
    expect(dialect.parse(topic, utf8("1 week, 2 days, 1 hour, 1 minute, 1 second"), T0).heartbeat?.uptimeSeconds).toBe(
      604800 + 2 * 86400 + 3661,
    );
    expect(dialect.parse(topic, utf8("uptime unknown"), T0).unparsed[0].error).toMatch(/uptime/);
  });

  it("records truck-0042's keepalive timeout with the 95 s its session lasted", () => {
    const connected = parseFixture("truck-0042/connected").events[0];
    const disconnected = parseFixture("truck-0042/disconnected").events[0];
    const common = {
      node: NODE,
      clientId: "truck-0042",
      address: "203.0.113.7",
      port: null,
      username: "fleet",
      protocolVersion: 4,
      cleanStart: true,
      keepalive: 60,
      receivedAt: T0,
    };
    expect(connected).toEqual({
      ...common,
      type: "connected",
      ts: new Date(1795340000000),
      reason: null,
      sessionSeconds: null,
      raw: fixtureLine("truck-0042/connected").payload,
    });
    expect(disconnected).toEqual({
      ...common,
      type: "disconnected",
      ts: new Date(1795340095000),
      reason: "keepalive_timeout",
      sessionSeconds: 95,
      raw: fixtureLine("truck-0042/disconnected").payload,
    });
  });

  it("normalises EMQX 4's takeovered to takenover (meter-17 taken over twice)", () => {
    const first = parseFixture("meter-17/disconnected", 0).events[0];
    const second = parseFixture("meter-17/disconnected", 1).events[0];
    expect([first.reason, first.address, first.sessionSeconds, first.ts]).toEqual([
      "takenover",
      "198.51.100.20",
      60,
      new Date(1795340061000),
    ]);
    expect([second.reason, second.address, second.sessionSeconds]).toEqual(["takenover", "198.51.100.21", 1]);
    expect([first.username, first.protocolVersion, first.cleanStart, first.keepalive]).toEqual([null, 5, false, 30]);
  });

  it("normalises MQTT 5's session_taken_over (gw-6) to takenover", () => {
    expect(parseFixture("gw-6/disconnected").events[0].reason).toBe("takenover");
  });

  it.each([
    ["gw-3", "normal"],
    ["gw-4", "tcp_closed"],
    ["gw-5", "kicked"],
    ["gw-7", "not_authorized"],
  ])("keeps EMQX's own reason word for %s (%s)", (clientId, reason) => {
    const [event] = parseFixture(`${clientId}/disconnected`).events;
    expect([event.clientId, event.reason, event.node]).toEqual([clientId, reason, NODE]);
  });

  it("leaves port null: EMQX's sockport is the listener's port, not the client's", () => {
    const event = parseFixture("gw-3/connected").events[0];
    expect(event.port).toBeNull();
  });

  it("maps the four stats gauges with the node they came from", () => {
    const cases = [
      ["stats/connections/count", "mqtt_connections_current", 48211],
      ["stats/sessions/count", "mqtt_sessions", 61230],
      ["stats/subscriptions/count", "mqtt_subscriptions", 120455],
      ["stats/retained/count", "mqtt_retained_messages", 812],
    ] as const;
    for (const [suffix, metric, value] of cases) {
      expect(parseFixture(suffix).samples).toEqual([{ metric, node: NODE, value, ts: T0 }]);
    }
  });

  it("does not mistake connections/max, a high-watermark, for capacity", () => {
    expect(parseFixture("stats/connections/max")).toEqual({ samples: [], events: [], unparsed: [] });
  });

  it.each([
    "stats/live_connections/count",
    "stats/topics/count",
    "alarms/activate",
    "metrics/delivery/dropped/queue_full",
  ])("ignores %s without calling it unparsed", (suffix) => {
    expect(parseFixture(suffix)).toEqual({ samples: [], events: [], unparsed: [] });
  });

  it.each([
    "sysdescr",
    "datetime",
    "sysmon/long_gc",
    "alarms/deactivate",
    "clients/c1/subscribed",
    "clients/c1/unsubscribed",
  ])("ignores EMQX's %s topic", (suffix) => {
    const out = createEmqxDialect().parse(`$SYS/brokers/${NODE}/${suffix}`, utf8("{}"), T0);
    expect(out).toEqual({ samples: [], events: [], unparsed: [] });
  });

  it("leaves mqtt_queued_messages absent for EMQX rather than zero", () => {
    const dialect = createEmqxDialect();
    const metrics = EMQX_SYS_LINES.flatMap((l, i) =>
      dialect.parse(l.topic, utf8(l.payload), at(i)).samples.map((s) => s.metric),
    );
    expect(metrics).not.toContain("mqtt_queued_messages");
    expect(metrics).not.toContain("mqtt_connections_max");
  });

  it("exports messages/dropped as the cumulative total", () => {
    expect(parseFixture("metrics/messages/dropped").samples).toEqual([
      { metric: "mqtt_messages_dropped_total", node: NODE, value: 1204, ts: T0 },
    ]);
  });

  it("turns two successive counter values 10 s apart into per-second rates", () => {
    const dialect = createEmqxDialect();
    const counters = [
      ["messages/received", "mqtt_messages_received_per_second", 981234411, 981236411, 200],
      ["messages/sent", "mqtt_messages_sent_per_second", 1288821002, 1288822002, 100],
      ["bytes/received", "mqtt_bytes_received_per_second", 88123004112, 88123504112, 50000],
      ["bytes/sent", "mqtt_bytes_sent_per_second", 120044221331, 120044231331, 1000],
    ] as const;
    for (const [suffix, metric, first, second, rate] of counters) {
      const topic = `$SYS/brokers/${NODE}/metrics/${suffix}`;
      expect(dialect.parse(topic, utf8(String(first)), at(0)).samples).toEqual([]);
      expect(dialect.parse(topic, utf8(String(second)), at(10)).samples).toEqual([
        { metric, node: NODE, value: rate, ts: at(10) },
      ]);
    }
  });

  it("keeps each cluster node's counters apart", () => {
    const dialect = createEmqxDialect();
    const topic = (node: string) => `$SYS/brokers/${node}/metrics/messages/received`;
    dialect.parse(topic("emqx@10.0.0.11"), utf8("1000"), at(0));
    dialect.parse(topic("emqx@10.0.0.12"), utf8("5000000"), at(0));
    const out = dialect.parse(topic("emqx@10.0.0.11"), utf8("1100"), at(10));
    expect(out.samples).toEqual([
      { metric: "mqtt_messages_received_per_second", node: "emqx@10.0.0.11", value: 10, ts: at(10) },
    ]);
  });

  it("gives no negative rate when a restarted node's counter starts again from zero", () => {
    const dialect = createEmqxDialect();
    const topic = `$SYS/brokers/${NODE}/metrics/messages/received`;
    dialect.parse(topic, utf8("981234411"), at(0));
    const afterRestart = dialect.parse(topic, utf8("300"), at(60)).samples;
    expect(afterRestart).toEqual([{ metric: "mqtt_messages_received_per_second", node: NODE, value: 5, ts: at(60) }]);
  });

  it("parses gateway clients' connected and disconnected like MQTT clients", () => {
    const dialect = createEmqxDialect();
    const gw = `$SYS/brokers/${NODE}/gateway/mqttsn/clients/sensor-9`;
    const connected = dialect.parse(
      `${gw}/connected`,
      utf8(connectedPayload({ clientid: "sensor-9", protocol: "mqttsn", proto_ver: "1.2", keepalive: 300 })),
      T0,
    ).events[0];
    const disconnected = dialect.parse(
      `${gw}/disconnected`,
      utf8(connectedPayload({ clientid: "sensor-9", reason: "sock_closed", disconnected_at: 1795340030000 })),
      T0,
    ).events[0];
    expect([connected.type, connected.clientId, connected.protocolVersion, connected.keepalive]).toEqual([
      "connected",
      "sensor-9",
      null,
      300,
    ]);
    expect([disconnected.type, disconnected.reason, disconnected.sessionSeconds]).toEqual([
      "disconnected",
      "tcp_closed",
      30,
    ]);
  });
});

describe("EMQX dialect: hostile ClientIDs", () => {
  const ids = {
    quotes: `he said "hi" \\ 'bye'`,
    unicode: "温度センサー-🚚-\u200b",
    max: "x".repeat(65_535),
    slashes: "plant/line-3/press",
    eventLike: "evil/disconnected",
  };

  it.each(Object.entries(ids))("takes the %s ClientID from the payload, not the topic", (_, id) => {
    const out = createEmqxDialect().parse(clientTopic(id, "connected"), utf8(connectedPayload({ clientid: id })), T0);
    expect(out.unparsed).toEqual([]);
    expect(out.events.map((e) => [e.type, e.clientId, e.node])).toEqual([["connected", id, NODE]]);
  });

  it("reads the event kind from the last level when the ClientID adds topic levels", () => {
    // `evil/disconnected` connecting publishes …/clients/evil/disconnected/connected
    const out = createEmqxDialect().parse(
      clientTopic(ids.eventLike, "connected"),
      utf8(connectedPayload({ clientid: ids.eventLike })),
      T0,
    );
    expect(out.events[0].type).toBe("connected");
  });

  it("takes the node from the level after brokers/ even when the ClientID holds `brokers/`", () => {
    const id = "$SYS/brokers/other@node/clients/x";
    const out = createEmqxDialect().parse(
      clientTopic(id, "disconnected"),
      utf8(connectedPayload({ clientid: id })),
      T0,
    );
    expect(out.events.map((e) => [e.node, e.clientId])).toEqual([[NODE, id]]);
  });
});

describe("EMQX dialect: payloads it cannot read are kept, not dropped", () => {
  const parse = (topic: string, payload: Uint8Array | string) =>
    createEmqxDialect().parse(topic, typeof payload === "string" ? utf8(payload) : payload, T0);

  it("keeps a truncated connected payload as unparsed with its raw text", () => {
    const topic = clientTopic("c1", "connected");
    const raw = connectedPayload({}).slice(0, 40);
    expect(parse(topic, raw)).toEqual({
      samples: [],
      events: [],
      unparsed: [{ receivedAt: T0, topic, raw, error: "payload is not JSON" }],
    });
  });

  it.each(["[]", "null", '"a string"', "42"])("rejects JSON %s that is not an object", (raw) => {
    expect(parse(clientTopic("c1", "disconnected"), raw).unparsed[0].error).toBe("payload is not a JSON object");
  });

  it.each([{}, { clientid: null }, { clientid: 42 }])(
    "rejects a disconnected payload without a string clientid: %j",
    (fields) => {
      const out = parse(clientTopic("c1", "disconnected"), JSON.stringify({ reason: "normal", ...fields }));
      expect(out.events).toEqual([]);
      expect(out.unparsed[0].error).toBe("payload has no string clientid");
    },
  );

  it.each(["", "12a", "-5", "1.5", "0x10", "1e3", "9".repeat(400)])("rejects the count %j", (raw) => {
    const out = parse(`$SYS/brokers/${NODE}/stats/connections/count`, raw);
    expect(out.samples).toEqual([]);
    expect(out.unparsed).toHaveLength(1);
    expect(out.unparsed[0].error).toMatch(/^not a count/);
  });

  it("keeps invalid UTF-8 lossily decoded in raw", () => {
    const bytes = new Uint8Array([0x34, 0x32, 0xff, 0xfe]);
    const out = parse(`$SYS/brokers/${NODE}/stats/sessions/count`, bytes);
    expect(out.unparsed).toEqual([
      {
        receivedAt: T0,
        topic: `$SYS/brokers/${NODE}/stats/sessions/count`,
        raw: "42\ufffd\ufffd",
        error: "payload is not valid UTF-8",
      },
    ]);
  });

  it("reads a field of the wrong type as null, never NaN, and keeps the event", () => {
    const out = parse(
      clientTopic("c1", "disconnected"),
      connectedPayload({
        proto_ver: "x",
        keepalive: -1,
        clean_start: "yes",
        username: 7,
        ipaddress: ["203.0.113.1"],
        peerport: 70000,
        connected_at: "yesterday",
        disconnected_at: 1e300,
        ts: 1795340005000,
        reason: 17,
      }),
    );
    expect(out.events).toEqual([
      expect.objectContaining({
        protocolVersion: null,
        keepalive: null,
        cleanStart: null,
        username: null,
        address: null,
        port: null,
        sessionSeconds: null,
        reason: "unknown",
        // disconnected_at is beyond Date's range, so the publish time stands in
        ts: new Date(1795340005000),
      }),
    ]);
  });

  it("falls back to the receive time when the payload carries no usable time", () => {
    const out = parse(clientTopic("c1", "connected"), '{"clientid": "c1", "connected_at": 1e400, "ts": "now"}');
    expect(out.events[0].ts).toEqual(T0);
  });

  it("gives no negative session length when disconnected_at precedes connected_at", () => {
    const out = parse(clientTopic("c1", "disconnected"), connectedPayload({ disconnected_at: 1795339999000 }));
    expect(out.events[0].sessionSeconds).toBeNull();
  });

  it("calls an empty node list or version unparsed rather than reporting nothing", () => {
    expect(parse("$SYS/brokers", " , ").unparsed[0].error).toBe("empty node list");
    expect(parse(`$SYS/brokers/${NODE}/version`, "").unparsed[0].error).toBe("empty version");
  });

  it.each([
    "$SYS/broker/uptime",
    "$SYS/brokers/",
    `$SYS/brokers/${NODE}`,
    `$SYS/brokers/${NODE}/whatever`,
    `$SYS/brokers/${NODE}/clients/c1`,
    `$SYS/brokers/${NODE}/clients/c1/teleported`,
    `$SYS/brokers/${NODE}/gateway/coap/c1/connected`,
    `$SYS/brokers/${NODE}/constructor`,
    "sensors/temp",
  ])("keeps a message on the unknown topic %s as unparsed", (topic) => {
    const out = parse(topic, "1");
    expect(out.unparsed).toHaveLength(1);
    expect(out.unparsed[0].raw).toBe("1");
  });

  it("does not read the bundled broker's additions, which EMQX never publishes", () => {
    const dialect = createEmqxDialect();
    expect(dialect.parse(`$SYS/brokers/${NODE}/connect_failed`, utf8("{}"), T0).unparsed).toHaveLength(1);
    expect(dialect.parse(clientTopic("c1", "messages_dropped"), utf8('{"clientid":"c1"}'), T0).unparsed).toHaveLength(
      1,
    );
    expect(dialect.parse(`$SYS/brokers/${NODE}/stats/queued/count`, utf8("5"), T0).samples).toEqual([]);
  });

  it("does not find prototype members in its topic tables", () => {
    const dialect = createEmqxDialect();
    for (const suffix of ["stats/constructor", "stats/__proto__", "metrics/toString", "metrics/hasOwnProperty"]) {
      expect(dialect.parse(`$SYS/brokers/${NODE}/${suffix}`, utf8("5"), T0)).toEqual({
        samples: [],
        events: [],
        unparsed: [],
      });
    }
  });
});
