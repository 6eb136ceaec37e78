import { describe, expect, it } from "vitest";
import { BUILTIN_RULES } from "@/lib/alerts/builtin";
import { evaluate, parseExpr, type Series } from "@/lib/alerts/promql";
import { computeCapacity } from "@/lib/capacity";

const NOW = Date.parse("2026-12-01T12:00:00Z");
const MIN = 60_000;

/** One point a minute over the last hour, from `start` growing by `perMinute`. */
function ramp(start: number, perMinute: number): { t: number; v: number }[] {
  return Array.from({ length: 61 }, (_, i) => ({ t: NOW - (60 - i) * MIN, v: start + perMinute * i }));
}

describe("computeCapacity", () => {
  it("projects when a growing broker reaches maxConnections, by least squares over the last hour", () => {
    // 4000 → 4600 over the hour (10/min): at 4600 now, 400 to go at 10/min → 40 minutes
    const c = computeCapacity({ now: NOW, dialect: "emqx", maxConnections: 5000, connections: [ramp(4000, 10)], messageRates: [] });
    expect(c.connectionsMax).toBe(5000);
    expect(c.headroomRatio).toBeCloseTo(0.08, 10);
    expect(Date.parse(c.saturationAt!) - NOW).toBeCloseTo(40 * MIN, -2);
    expect(c.connectionsPerSecondTrend).toBeCloseTo(10 / 60, 10);
    expect(c.basis).toMatch(/least-squares line through the last hour/);
  });

  it("adds the per-node lines of a cluster broker", () => {
    const c = computeCapacity({
      now: NOW,
      dialect: "emqx",
      maxConnections: 5000,
      connections: [ramp(2000, 5), ramp(2000, 5)],
      messageRates: [],
    });
    expect(Date.parse(c.saturationAt!) - NOW).toBeCloseTo(40 * MIN, -2);
  });

  it("has no saturation time for a flat or shrinking broker, and no headroom without maxConnections", () => {
    expect(computeCapacity({ now: NOW, dialect: "mosquitto", maxConnections: 100, connections: [ramp(50, 0)], messageRates: [] }).saturationAt).toBeNull();
    expect(computeCapacity({ now: NOW, dialect: "mosquitto", maxConnections: 100, connections: [ramp(90, -1)], messageRates: [] }).saturationAt).toBeNull();
    const none = computeCapacity({ now: NOW, dialect: "mosquitto", maxConnections: null, connections: [ramp(50, 1)], messageRates: [] });
    expect(none).toMatchObject({ connectionsMax: null, headroomRatio: null, saturationAt: null });
    expect(none.basis).toMatch(/no maxConnections/);
  });

  it("says now when the broker is already at or over its capacity", () => {
    const c = computeCapacity({ now: NOW, dialect: "mosquitto", maxConnections: 100, connections: [ramp(100, 0)], messageRates: [] });
    expect(c.saturationAt).toBe(new Date(NOW).toISOString());
    expect(c.headroomRatio).toBe(0);
  });

  it("for Mosquitto: busiest minute of received + sent, and the single-thread ceiling from the CPU share of one core", () => {
    const received = [
      { t: NOW - 10 * MIN + 1000, v: 800 },
      { t: NOW - 10 * MIN + 31_000, v: 1200 },
      { t: NOW - 5 * MIN, v: 100 },
    ];
    const sent = [{ t: NOW - 10 * MIN + 2000, v: 500 }];
    const known = computeCapacity({ now: NOW, dialect: "mosquitto", maxConnections: null, connections: [], messageRates: [received, sent], cpuShareOfOneCore: 0.25 });
    // busiest minute: avg(800, 1200) + 500 = 1500 msg/s at a quarter of a core → 6000 msg/s
    expect(known.busiestMinuteMessagesPerSecond).toBe(1500);
    expect(known.messagesPerSecondCeiling).toBe(6000);
    const unknown = computeCapacity({ now: NOW, dialect: "mosquitto", maxConnections: null, connections: [], messageRates: [received, sent] });
    expect(unknown.messagesPerSecondCeiling).toBeNull();
    expect(unknown.basis).toMatch(/publishes no CPU figure/);
    expect(computeCapacity({ now: NOW, dialect: "emqx", maxConnections: null, connections: [], messageRates: [received] }).messagesPerSecondCeiling).toBeNull();
  });
});

describe("MQTT_Connection_Saturation_Predicted", () => {
  const rule = BUILTIN_RULES.find((r) => r.name === "MQTT_Connection_Saturation_Predicted")!;

  function run(connections: { t: number; v: number }[], max: number) {
    const parsed = parseExpr(rule.expr);
    const data: Series[][] = parsed.selectors.map((s) =>
      s.metric === "mqtt_connections_current"
        ? [{ labels: { __name__: s.metric, broker: "plant-a" }, points: connections }]
        : [{ labels: { __name__: s.metric, broker: "plant-a" }, points: [{ t: NOW - 5000, v: max }] }],
    );
    return evaluate(parsed, data, NOW);
  }

  it("fires for connections projected to reach maxConnections within 4 hours, with the projection as value", () => {
    // 4600 now, +10/min → 4600 + 2400 = 7000 in 4 h ≥ 5000
    const r = run(ramp(4000, 10), 5000);
    expect(r.kind === "vector" && r.samples.map((s) => [s.labels.broker, Math.round(s.value)])).toEqual([["plant-a", 7000]]);
    expect(rule.forSeconds).toBe(900);
    expect(rule.labels.severity).toBe("warning");
  });

  it("stays quiet when the projection stays under the capacity", () => {
    // 4000 → 4060 over the hour: 4060 + 240 = 4300 in 4 h < 5000
    const r = run(ramp(4000, 1), 5000);
    expect(r.kind === "vector" && r.samples).toEqual([]);
  });
});
