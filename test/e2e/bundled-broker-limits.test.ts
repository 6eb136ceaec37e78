import { afterAll, beforeAll, describe, expect, it } from "vitest";
import mqtt from "mqtt";
import { startBundledBroker, type BundledBroker } from "@/broker/index";

/**
 * A device cannot grow the bundled broker's retained store without bound, and no client learns the
 * broker's `$SYS` values by subscribing to a wildcard (MQTT 3.1.1 §4.7.2).
 */
function connect(broker: BundledBroker, opts: mqtt.IClientOptions = {}) {
  return mqtt.connectAsync(broker.url, { reconnectPeriod: 0, ...opts });
}

describe("bundled broker: wildcards never match $ topics, retained or live", () => {
  let broker: BundledBroker;
  beforeAll(async () => {
    broker = await startBundledBroker({ port: 0, node: "bundled@wild", sysIntervalSeconds: 0.2 });
  });
  afterAll(async () => {
    await broker?.close();
  });

  for (const protocolVersion of [4, 5] as const) {
    it(`an anonymous MQTT ${protocolVersion === 4 ? "3.1.1" : "5"} client subscribing # and +/# receives no retained or live $SYS value`, async () => {
      const device = await connect(broker, { protocolVersion, clientId: `device-v${protocolVersion}` });
      // published after the broker's own retained $SYS values, so it is streamed after them
      await device.publishAsync(`app/retained-v${protocolVersion}`, "last", { retain: true, qos: 1 });
      const monitor = await connect(broker, { ...broker.monitorCredentials, clientId: `monitor-v${protocolVersion}` });
      const spy = await connect(broker, { protocolVersion, clientId: `spy-v${protocolVersion}` });
      const received: string[] = [];
      spy.on("message", (topic) => received.push(topic));
      try {
        const granted = await spy.subscribeAsync(["#", "+/#", "+/brokers/+/uptime"], { qos: 0 });
        expect(granted.map((g) => g.qos)).toEqual([0, 0, 0]);
        await expect.poll(() => received.includes(`app/retained-v${protocolVersion}`), { timeout: 5000 }).toBe(true);

        // live: the broker publishes its stats (every 0.2 s); once the monitor saw one, a marker follows
        let uptimes = 0;
        monitor.on("message", () => uptimes++);
        await monitor.subscribeAsync("$SYS/brokers/+/uptime");
        await expect.poll(() => uptimes >= 2, { timeout: 5000 }).toBe(true);
        await device.publishAsync(`app/live-v${protocolVersion}`, "marker", { qos: 1 });
        await expect.poll(() => received.includes(`app/live-v${protocolVersion}`), { timeout: 5000 }).toBe(true);

        expect(received.filter((t) => t.startsWith("$"))).toEqual([]);
      } finally {
        await Promise.all([spy.endAsync(), monitor.endAsync(), device.endAsync()]);
      }
    });
  }

  it("still gives the monitor the retained $SYS values it subscribes to by name", async () => {
    const monitor = await connect(broker, { ...broker.monitorCredentials, clientId: "monitor-retained" });
    const seen: string[] = [];
    monitor.on("message", (topic, _payload, packet) => packet.retain && seen.push(topic));
    try {
      await monitor.subscribeAsync("$SYS/brokers/+/version");
      await expect.poll(() => seen, { timeout: 5000 }).toContain("$SYS/brokers/bundled@wild/version");
    } finally {
      await monitor.endAsync();
    }
  });
});

describe("bundled broker: retained messages are capped by count and bytes", () => {
  let broker: BundledBroker;
  const maxRetainedMessages = 40;
  const maxRetainedBytes = 200_000;
  beforeAll(async () => {
    broker = await startBundledBroker({
      port: 0,
      node: "bundled@retained",
      sysIntervalSeconds: 0.2,
      maxRetainedMessages,
      maxRetainedBytes,
    });
  });
  afterAll(async () => {
    await broker?.close();
  });

  it("a device publishing 300 retained 10 kB messages leaves the store under both caps; the rest is delivered live, not retained", async () => {
    const listener = await connect(broker, { clientId: "listener" });
    let live = 0;
    listener.on("message", (topic) => topic.startsWith("flood/") && live++);
    await listener.subscribeAsync("flood/#", { qos: 1 });
    const device = await connect(broker, { clientId: "flooder" });
    const payload = Buffer.alloc(10_000, 0x61);
    try {
      // QoS 1: the PUBACK comes after the broker stored (or refused) the retained message
      for (let i = 0; i < 300; i++) await device.publishAsync(`flood/${i}`, payload, { retain: true, qos: 1 });
      await expect.poll(() => live, { timeout: 10_000 }).toBe(300);

      const after = broker.retained();
      expect(after.count).toBeLessThanOrEqual(maxRetainedMessages);
      expect(after.bytes).toBeLessThanOrEqual(maxRetainedBytes);
      expect(after.refused).toBe(300 - 19);

      // what the store really holds, as a new subscriber sees it
      const fresh = await connect(broker, { clientId: "fresh" });
      const retained: string[] = [];
      fresh.on("message", (topic, _p, packet) => packet.retain && retained.push(topic));
      await fresh.subscribeAsync("flood/#");
      await expect.poll(() => retained.length, { timeout: 5000 }).toBe(after.count);
      await fresh.endAsync();
      // 200,000 bytes hold 19 of them (10,000 bytes of payload and 8-9 of topic each)
      expect(after.count).toBe(19);
      expect(new Set(retained).size).toBe(19);

      // the refusals are counted where operators read the bundled broker's metrics
      const monitor = await connect(broker, { ...broker.monitorCredentials, clientId: "monitor-refused" });
      const refused: number[] = [];
      monitor.on("message", (_t, p) => refused.push(Number(p.toString())));
      await monitor.subscribeAsync("$SYS/brokers/+/metrics/messages/retained_refused");
      await expect.poll(() => refused.at(-1) ?? 0, { timeout: 5000 }).toBe(after.refused);
      await monitor.endAsync();
    } finally {
      await Promise.all([listener.endAsync(), device.endAsync()]);
    }
  });

  it("deleting a retained message (empty payload) always works and frees room for a new one", async () => {
    const device = await connect(broker, { clientId: "deleter" });
    try {
      const full = broker.retained();
      expect(full.bytes + 10_100).toBeGreaterThan(maxRetainedBytes); // the flood left it full
      await device.publishAsync("flood/new", Buffer.alloc(10_000), { retain: true, qos: 1 });
      expect(broker.retained().count).toBe(full.count);

      await device.publishAsync("flood/0", "", { retain: true, qos: 1 });
      expect(broker.retained().count).toBe(full.count - 1);
      await device.publishAsync("flood/new", Buffer.alloc(10_000), { retain: true, qos: 1 });
      expect(broker.retained().count).toBe(full.count);
      const refilled = broker.retained().bytes;
      expect(refilled).toBeLessThanOrEqual(maxRetainedBytes);

      // replacing a topic's retained message counts only the difference
      await device.publishAsync("flood/new", Buffer.alloc(5_000), { retain: true, qos: 1 });
      expect(broker.retained().bytes).toBe(refilled - 5_000);
    } finally {
      await device.endAsync();
    }
  });

  it("caps the count as well as the bytes", async () => {
    const small = await startBundledBroker({ port: 0, node: "bundled@count", maxRetainedMessages: 30 });
    const device = await connect(small, { clientId: "many-small" });
    try {
      for (let i = 0; i < 100; i++) await device.publishAsync(`small/${i}`, "x", { retain: true, qos: 1 });
      expect(small.retained().count).toBe(30);
      expect(small.retained().refused).toBeGreaterThan(0);
    } finally {
      await device.endAsync();
      await small.close();
    }
  });
});
