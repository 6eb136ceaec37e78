import { describe, expect, it } from "vitest";
import { EMQX_SYS_LINES } from "./helpers/fixtures";
import { createAutoDialect } from "../lib/collector/auto";
import { createEmqxDialect } from "../lib/collector/emqx";
import { createDialect } from "../lib/collector/index";

const T0 = new Date("2026-11-23T10:00:00Z");
const utf8 = (s: string) => new TextEncoder().encode(s);
const later = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

const EMQX_NODE = "emqx@10.0.0.11";
const BUNDLED_NODE = "brokerwatch@127.0.0.1";

describe("auto dialect: telling the broker apart", () => {
  it("starts undecided", () => {
    const auto = createAutoDialect();
    expect(auto.detected).toBeNull();
    expect(auto.subscriptions).toEqual(["$SYS/#"]);
  });

  it.each([
    ["bundled", "its retained Aedes version", BUNDLED_NODE, "version", "aedes 1.2.0 (brokerwatch bundled)"],
    ["bundled", "its sysdescr", BUNDLED_NODE, "sysdescr", "brokerwatch bundled broker"],
    ["emqx", "a version that is not Aedes'", EMQX_NODE, "version", "5.8.6"],
    ["emqx", "its sysdescr, which EMQX publishes too", EMQX_NODE, "sysdescr", "EMQX"],
  ])("detects %s from %s", (dialect, _what, node, topic, payload) => {
    const auto = createAutoDialect();
    const out = auto.parse(`$SYS/brokers/${node}/${topic}`, utf8(payload), T0);
    expect(auto.detected).toBe(dialect);
    expect(auto.name).toBe(dialect);
    if (topic === "version") expect(out.version).toBe(payload);
  });

  it.each([
    "stats/connections/max",
    "stats/topics/count",
    "metrics/delivery/dropped/queue_full",
    "alarms/activate",
    "datetime",
  ])("detects EMQX from %s, which the bundled broker never publishes", (suffix) => {
    const auto = createAutoDialect();
    auto.parse(`$SYS/brokers/${EMQX_NODE}/${suffix}`, utf8("1"), T0);
    expect(auto.detected).toBe("emqx");
  });

  it("detects Mosquitto from its $SYS/broker/ tree", () => {
    const auto = createAutoDialect();
    const out = auto.parse("$SYS/broker/version", utf8("mosquitto version 2.0.11"), T0);
    expect(auto.detected).toBe("mosquitto");
    expect(auto.name).toBe("mosquitto");
    expect(out.unparsed).toEqual([]);
  });

  it("does not decide on an empty version", () => {
    const auto = createAutoDialect();
    auto.parse(`$SYS/brokers/${EMQX_NODE}/version`, utf8("  "), T0);
    expect(auto.detected).toBeNull();
  });

  it("keeps its first verdict when a later message would say otherwise", () => {
    const auto = createAutoDialect();
    auto.parse(`$SYS/brokers/${EMQX_NODE}/version`, utf8("5.8.6"), T0);
    auto.parse(`$SYS/brokers/${EMQX_NODE}/version`, utf8("aedes 1.2.0 (brokerwatch bundled)"), T0);
    expect(auto.detected).toBe("emqx");
  });
});

describe("auto dialect: losing nothing before it knows", () => {
  it.each([
    ["$SYS/brokers", "emqx@10.0.0.11,emqx@10.0.0.12"],
    [`$SYS/brokers/${EMQX_NODE}/uptime`, "60000"],
    [`$SYS/brokers/${EMQX_NODE}/stats/connections/count`, "5"],
    [`$SYS/brokers/${EMQX_NODE}/clients/c1/connected`, '{"clientid": "c1", "connected_at": 1795340000000}'],
  ])("stays undecided on %s, which both brokers publish", (topic, payload) => {
    const auto = createAutoDialect();
    auto.parse(topic, utf8(payload), T0);
    expect(auto.detected).toBeNull();
  });

  it("parses EMQX events that arrive before the version instead of dropping them", () => {
    const auto = createAutoDialect();
    const connected = EMQX_SYS_LINES.find((l) => l.topic.endsWith("truck-0042/connected"))!;
    const out = auto.parse(connected.topic, utf8(connected.payload), T0);
    expect(auto.detected).toBeNull();
    expect(out.events.map((e) => [e.type, e.clientId, e.node])).toEqual([["connected", "truck-0042", EMQX_NODE]]);
  });

  it("reads the bundled broker's connect_failed while undecided, as the bundled parser is a superset", () => {
    const auto = createAutoDialect();
    const payload = '{"clientid": null, "reason": "not_authorized", "ts": 1795340000000}';
    const out = auto.parse(`$SYS/brokers/${BUNDLED_NODE}/connect_failed`, utf8(payload), T0);
    expect(out.events.map((e) => [e.type, e.reason])).toEqual([["connect_failed", "not_authorized"]]);
  });

  it("keeps counter history when the undecided parser turns out to be the bundled broker's", () => {
    const auto = createAutoDialect();
    const received = `$SYS/brokers/${BUNDLED_NODE}/metrics/messages/received`;
    auto.parse(received, utf8("1000"), T0);
    auto.parse(`$SYS/brokers/${BUNDLED_NODE}/version`, utf8("aedes 1.2.0 (brokerwatch bundled)"), T0);
    expect(auto.parse(received, utf8("1500"), later(10)).samples).toEqual([
      { metric: "mqtt_messages_received_per_second", node: BUNDLED_NODE, value: 50, ts: later(10) },
    ]);
  });

  it("hands every message to EMQX's parser once it knows: bundled-only topics become unparsed", () => {
    const auto = createAutoDialect();
    auto.parse(`$SYS/brokers/${EMQX_NODE}/version`, utf8("5.8.6"), T0);
    const out = auto.parse(`$SYS/brokers/${EMQX_NODE}/connect_failed`, utf8('{"reason": "not_authorized"}'), T0);
    expect(out.events).toEqual([]);
    expect(out.unparsed).toHaveLength(1);
  });

  it("gives the EMQX dialect's output for the whole EMQX fixture", () => {
    const auto = createAutoDialect();
    const emqx = createEmqxDialect();
    for (const [i, line] of EMQX_SYS_LINES.entries()) {
      const payload = utf8(line.payload);
      expect(auto.parse(line.topic, payload, later(i))).toEqual(emqx.parse(line.topic, payload, later(i)));
    }
    expect(auto.detected).toBe("emqx");
  });
});

describe("createDialect", () => {
  it.each(["mosquitto", "emqx", "bundled"] as const)("builds the %s dialect by its config name", (name) => {
    expect(createDialect(name).name).toBe(name);
  });

  it("builds an undecided auto dialect subscribed to the whole $SYS tree", () => {
    const dialect = createDialect("auto");
    expect("detected" in dialect && dialect.detected).toBeNull();
    expect(dialect.subscriptions).toEqual(["$SYS/#"]);
  });
});
