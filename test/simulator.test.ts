import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import mqtt, { type MqttClient } from "mqtt";
import { startBundledBroker, type BundledBroker } from "@/broker/index";
import { createBundledDialect } from "@/lib/collector/bundled";
import type { ConnectionEvent } from "@/lib/collector/types";
import { startFleet, type Fleet } from "@/lib/simulator/fleet";
import { expandClientId, parseScenario, planDevices, ScenarioError } from "@/lib/simulator/scenario";

/**
 * The fleet simulator against the bundled broker, watched the way brokerwatch watches it (the
 * bundled dialect over the monitor's `$SYS` subscription): every failure mode of the scenario shows
 * up as the event the diagnosis expects, with the reason the broker gave.
 */
const SCENARIO = `
connectRate: 500
groups:
  - name: meters
    clientId: "meter-{n:06}"
    start: 421
    count: 20
    username: fleet
    password: right
    telemetry: { every: 200ms, topic: "meters/{clientId}/reading" }
  - name: flaky
    clientId: gw-hamburg-07
    behaviour: flapping
    username: fleet
    password: right
    up: [300ms, 600ms]
    down: [100ms, 200ms]
  - name: twins
    clientId: pump-7
    behaviour: shared-client-id
    username: fleet
    password: right
  - name: sleepy
    clientId: sensor-{n:03}
    behaviour: keepalive-timeout
    keepalive: 1
    username: fleet
    password: right
  - name: misconfigured
    clientId: meter-old-001
    behaviour: bad-credentials
    username: fleet
    password: wrong
    every: 1s
  - name: nat
    clientId: cam-lobby-1
    behaviour: idle-timeout
    username: fleet
    password: right
    every: 1s
`;

describe("fleet simulator on the bundled broker", () => {
  let broker: BundledBroker;
  let monitor: MqttClient;
  let fleet: Fleet;
  const events: ConnectionEvent[] = [];

  beforeAll(async () => {
    // with users configured the broker refuses anonymous clients and bad passwords, as a real one does
    broker = await startBundledBroker({ port: 0, node: "bundled@sim", users: new Map([["fleet", "right"]]) });
    const dialect = createBundledDialect();
    monitor = mqtt.connect(broker.url, {
      clientId: "sim-test-monitor",
      username: broker.monitorCredentials.username,
      password: broker.monitorCredentials.password,
      reconnectPeriod: 0,
    });
    monitor.on("message", (topic, payload) => events.push(...dialect.parse(topic, payload, new Date()).events));
    await new Promise<void>((resolve, reject) => {
      monitor.once("connect", () => monitor.subscribe(dialect.subscriptions, { qos: 1 }, (err) => (err ? reject(err) : resolve())));
      monitor.once("error", reject);
    });
    fleet = startFleet(parseScenario(SCENARIO), { url: broker.url });
  });

  afterAll(async () => {
    await fleet?.stop();
    monitor?.end(true);
    await broker?.close();
  });

  const of = (clientId: string, type: string) => events.filter((e) => e.clientId === clientId && e.type === type);

  it("connects the steady meters and keeps them connected", async () => {
    await expect.poll(() => new Set(of("meter-000440", "connected").map((e) => e.clientId)).size).toBe(1);
    await expect.poll(() => fleet.stats().messages).toBeGreaterThan(20);
    expect(of("meter-000421", "disconnected")).toEqual([]);
  });

  it("two devices with one ClientID take the session from each other", async () => {
    await expect
      .poll(() => of("pump-7", "disconnected").filter((e) => e.reason === "discarded" || e.reason === "takenover").length)
      .toBeGreaterThanOrEqual(2);
    // alternating source ports: two devices, not one reconnecting
    const ports = new Set(of("pump-7", "connected").map((e) => e.port));
    expect(ports.size).toBeGreaterThanOrEqual(2);
  });

  it("a device that never pings is dropped for its keepalive", async () => {
    await expect.poll(() => of("sensor-001", "disconnected").map((e) => e.reason)).toContain("keepalive_timeout");
  });

  it("a flapping device connects again and again", async () => {
    await expect.poll(() => of("gw-hamburg-07", "connected").length).toBeGreaterThanOrEqual(3);
  });

  it("a wrong password is refused as not authorised", async () => {
    await expect
      .poll(() => events.filter((e) => e.type === "connect_failed" && e.reason === "not_authorized").length)
      .toBeGreaterThanOrEqual(1);
    await expect.poll(() => fleet.stats().authFailures).toBeGreaterThanOrEqual(1);
  });

  it("a NAT cuts an idle device's socket at its fixed interval", async () => {
    await expect.poll(() => of("cam-lobby-1", "disconnected").length).toBeGreaterThanOrEqual(2);
    expect(fleet.stats().idleCuts).toBeGreaterThanOrEqual(2);
  });

  it("a storm drops every connected device at once and they come back", async () => {
    await expect.poll(() => fleet.stats().connected).toBeGreaterThanOrEqual(20);
    const before = events.filter((e) => e.type === "disconnected" && e.clientId?.startsWith("meter-0")).length;
    fleet.storm(0.5);
    await expect
      .poll(() => events.filter((e) => e.type === "disconnected" && e.clientId?.startsWith("meter-0")).length - before)
      .toBeGreaterThanOrEqual(20);
    await expect.poll(() => fleet.stats().connected).toBeGreaterThanOrEqual(20);
  });
});

describe("scenario files", () => {
  it("names ClientIDs by the pattern, padded", () => {
    expect(expandClientId("meter-{n:06}", 421)).toBe("meter-000421");
    expect(expandClientId("pump-{n}", 7)).toBe("pump-7");
    expect(expandClientId("gw-berlin-03", 1)).toBe("gw-berlin-03");
  });

  it("the default fleet parses and plans a few hundred devices with every failure mode", () => {
    const text = readFileSync(path.join(import.meta.dirname, "..", "scripts", "scenarios", "fleet.yaml"), "utf8");
    const scenario = parseScenario(text);
    const plan = planDevices(scenario);
    expect(plan.length).toBeGreaterThan(250);
    expect(new Set(scenario.groups.map((g) => g.behaviour))).toEqual(
      new Set(["steady", "flapping", "shared-client-id", "keepalive-timeout", "bad-credentials", "idle-timeout", "slow-subscriber"]),
    );
    // every group shows up among the first devices started
    expect(new Set(plan.slice(0, scenario.groups.length).map((d) => d.group.name)).size).toBe(scenario.groups.length);
  });

  it.each([
    ["not YAML", "groups: [", /not valid YAML/],
    ["no groups", "groups: []", /groups/],
    ["unknown behaviour", "groups: [{name: a, clientId: a, behaviour: explode}]", /behaviour/],
    ["bad duration", "groups: [{name: a, clientId: a, telemetry: {every: soon}}]", /not a duration/],
    ["idle-timeout without every", "groups: [{name: a, clientId: a, behaviour: idle-timeout}]", /needs every/],
    ["unknown key", "groups: [{name: a, clientId: a, colour: red}]", /colour|unrecognized/i],
    ["duplicate group", "groups: [{name: a, clientId: a}, {name: a, clientId: b}]", /two groups/],
  ])("refuses %s with a clear message", (_, text, message) => {
    expect(() => parseScenario(text)).toThrow(ScenarioError);
    expect(() => parseScenario(text)).toThrow(message);
  });
});
