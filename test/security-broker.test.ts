import { afterAll, beforeAll, describe, expect, it } from "vitest";
import mqtt from "mqtt";
import { startBundledBroker, type BundledBroker } from "@/broker/index";
import { rawConnect, rawSession } from "./helpers/raw-mqtt";

/**
 * The bundled broker does not tell any connected client who else is connected, and a client
 * cannot make it buffer an arbitrarily large packet.
 */
async function connect(broker: BundledBroker, opts: mqtt.IClientOptions = {}) {
  return mqtt.connectAsync(broker.url, { reconnectPeriod: 0, ...opts });
}

/** Subscribe and resolve with the granted QoS per filter (128 = refused). */
async function subscribe(client: mqtt.MqttClient, filters: string[]): Promise<number[]> {
  try {
    const granted = await client.subscribeAsync(filters, { qos: 0 });
    return granted.map((g) => g.qos);
  } catch (err) {
    // mqtt.js rejects when any filter is refused; the SUBACK still says which
    const suback = (err as { packet?: { granted?: number[] } }).packet;
    if (!suback?.granted) throw err;
    return suback.granted;
  }
}

describe("bundled broker: $SYS only for the monitor and configured users", () => {
  let open: BundledBroker;
  let secured: BundledBroker;

  beforeAll(async () => {
    [open, secured] = await Promise.all([
      startBundledBroker({ port: 0, node: "bundled@open", sysIntervalSeconds: 0.2 }),
      startBundledBroker({
        port: 0,
        node: "bundled@secured",
        sysIntervalSeconds: 0.2,
        users: new Map([["ops", "ops-password"]]),
      }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([open?.close(), secured?.close()]);
  });

  for (const protocolVersion of [4, 5] as const) {
    it(`refuses an anonymous MQTT ${protocolVersion === 4 ? "3.1.1" : "5"} client's $SYS subscriptions (SUBACK 0x80) and sends it nothing`, async () => {
      const spy = await connect(open, { protocolVersion, clientId: `spy-v${protocolVersion}` });
      const received: string[] = [];
      spy.on("message", (topic) => received.push(topic));
      try {
        expect(await subscribe(spy, ["$SYS/#", "$SYS/brokers/+/clients/#", "app/#"])).toEqual([128, 128, 0]);
        // a device connects and leaves while the spy listens
        const device = await connect(open, { clientId: "device-with-a-secret-id", username: "device-user" });
        await device.endAsync();
        await new Promise((r) => setTimeout(r, 600));
        expect(received).toEqual([]);
      } finally {
        await spy.endAsync();
      }
    });
  }

  it("still lets the monitor read every client's lifecycle", async () => {
    const monitor = await connect(open, { ...open.monitorCredentials, clientId: "monitor" });
    const seen: string[] = [];
    monitor.on("message", (topic) => seen.push(topic));
    try {
      expect(await subscribe(monitor, ["$SYS/brokers/#"])).toEqual([0]);
      const device = await connect(open, { clientId: "device-seen" });
      await device.endAsync();
      await expect
        .poll(() => seen.some((t) => t.endsWith("/clients/device-seen/disconnected")), { timeout: 3000 })
        .toBe(true);
    } finally {
      await monitor.endAsync();
    }
  });

  it("lets a configured user read $SYS; a user claiming a name without a password gets nowhere", async () => {
    const ops = await connect(secured, { username: "ops", password: "ops-password" });
    try {
      expect(await subscribe(ops, ["$SYS/#"])).toEqual([0]);
      const first = await new Promise<string>((resolve) => ops.once("message", (topic) => resolve(topic)));
      expect(first.startsWith("$SYS/")).toBe(true);
    } finally {
      await ops.endAsync();
    }
    // without BUNDLED_BROKER_USERS a user name alone proves nothing
    const claimed = await connect(open, { username: "ops", password: "anything" });
    try {
      expect(await subscribe(claimed, ["$SYS/#"])).toEqual([128]);
    } finally {
      await claimed.endAsync();
    }
  });
});

describe("bundled broker: maximum packet size", () => {
  let broker: BundledBroker;

  beforeAll(async () => {
    broker = await startBundledBroker({ port: 0, node: "bundled@size", maxPacketBytes: 64 * 1024 });
  });
  afterAll(async () => {
    await broker?.close();
  });

  /** A PUBLISH fixed header announcing `length` bytes, and only the start of its body. */
  function publishHeader(length: number): Buffer {
    const bytes = [0x30];
    let n = length;
    do {
      let byte = n % 128;
      n = Math.floor(n / 128);
      if (n > 0) byte |= 0x80;
      bytes.push(byte);
    } while (n > 0);
    return Buffer.concat([Buffer.from(bytes), Buffer.from([0, 3]), Buffer.from("a/b"), Buffer.alloc(1000, 1)]);
  }

  for (const protocolVersion of [4, 5] as const) {
    it(`disconnects an MQTT ${protocolVersion === 4 ? "3.1.1" : "5"} client announcing a 250 MB PUBLISH at once, and keeps serving`, async () => {
      const client = await rawSession(broker.port, { clientId: `big-v${protocolVersion}`, protocolVersion });
      expect(client.connack).toMatchObject({ cmd: "connack" });
      const started = Date.now();
      client.sendBytes(publishHeader(250 * 1024 * 1024));
      await client.closed;
      expect(Date.now() - started).toBeLessThan(2000);

      const next = await connect(broker, { protocolVersion, clientId: `after-v${protocolVersion}` });
      expect(await subscribe(next, ["a/b"])).toEqual([0]);
      const got = new Promise<Buffer>((resolve) => next.once("message", (_t, payload) => resolve(payload)));
      await next.publishAsync("a/b", Buffer.alloc(60 * 1024, 7));
      expect((await got).length).toBe(60 * 1024);
      await next.endAsync();
    });
  }

  it("refuses an oversized first packet too (a CONNECT announcing more than the limit)", async () => {
    const client = await rawConnect(broker.port);
    client.sendBytes(Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f]));
    await client.closed;
    expect(client.received).toEqual([]);
  });

  it("accepts packets up to the limit over many of them in one stream", async () => {
    const pub = await connect(broker, { clientId: "many" });
    const sub = await connect(broker, { clientId: "many-sub" });
    await subscribe(sub, ["m/#"]);
    let count = 0;
    sub.on("message", () => count++);
    for (let i = 0; i < 50; i++) pub.publish(`m/${i}`, Buffer.alloc(i * 1000, 1));
    await expect.poll(() => count, { timeout: 5000 }).toBe(50);
    expect(pub.connected).toBe(true);
    await Promise.all([pub.endAsync(), sub.endAsync()]);
  });
});
