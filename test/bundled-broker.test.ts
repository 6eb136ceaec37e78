import { afterAll, beforeAll, describe, expect, it } from "vitest";
import mqtt, { type MqttClient } from "mqtt";
import { startBundledBroker, type BundledBroker } from "@/broker/index";
import { clientIdTopicLevel } from "@/lib/bundled-layout";
import { connectPacket, rawConnect, rawSession } from "./helpers/raw-mqtt";
import { waitFor } from "./helpers/ports";

/**
 * The bundled broker reports every client's lifecycle with the reason that really happened,
 * provoked here for real over raw sockets, and its stats in the EMQX 5 `$SYS` layout.
 */
interface SysMessage {
  topic: string;
  payload: string;
  json: Record<string, unknown> | null;
}

async function monitor(broker: BundledBroker): Promise<{ client: MqttClient; messages: SysMessage[] }> {
  const messages: SysMessage[] = [];
  const client = mqtt.connect(broker.url, {
    clientId: "test-monitor",
    username: broker.monitorCredentials.username,
    password: broker.monitorCredentials.password,
    reconnectPeriod: 0,
  });
  client.on("message", (topic, payload) => {
    const text = payload.toString();
    let json: Record<string, unknown> | null = null;
    try {
      json = JSON.parse(text);
    } catch {
      // stats are plain numbers
    }
    messages.push({ topic, payload: text, json });
  });
  await new Promise<void>((resolve, reject) => {
    client.once("connect", () =>
      client.subscribe("$SYS/brokers/#", { qos: 1 }, (err) => (err ? reject(err) : resolve())),
    );
    client.once("error", reject);
  });
  return { client, messages };
}

function lifecycle(messages: SysMessage[], clientId: string, kind: string): SysMessage | undefined {
  return messages.find((m) => m.topic.endsWith(`/${kind}`) && m.json?.clientid === clientId);
}

describe("bundled broker", () => {
  let broker: BundledBroker;
  let watch: Awaited<ReturnType<typeof monitor>>;

  beforeAll(async () => {
    broker = await startBundledBroker({
      port: 0,
      node: "bundled@test",
      sysIntervalSeconds: 0.2,
      users: new Map([["device", "s3cret"]]),
      maxPendingBytesPerClient: 256 * 1024,
    });
    watch = await monitor(broker);
  });

  afterAll(async () => {
    watch?.client.end(true);
    await broker?.close();
  });

  it("publishes uptime, version and every stat in the EMQX 5 layout within 2 s", async () => {
    const prefix = "$SYS/brokers/bundled@test/";
    const wanted = [
      "uptime",
      "version",
      "stats/connections/count",
      "stats/sessions/count",
      "stats/subscriptions/count",
      "stats/retained/count",
      "stats/queued/count",
      "metrics/messages/received",
      "metrics/messages/sent",
      "metrics/messages/dropped",
      "metrics/bytes/received",
      "metrics/bytes/sent",
    ];
    await waitFor(
      "all $SYS topics",
      () => wanted.every((t) => watch.messages.some((m) => m.topic === prefix + t)),
      30_000,
    );
    expect(watch.messages.find((m) => m.topic === prefix + "version")?.payload).toMatch(/^aedes \d+\.\d+\.\d+/);
    for (const t of wanted.filter((t) => t !== "version")) {
      const value = watch.messages.findLast((m) => m.topic === prefix + t)!.payload;
      expect(Number.isFinite(Number(value)), `${t} = ${value}`).toBe(true);
    }
  });

  it("reports a clean DISCONNECT as normal, with the session's address, username, protocol and keepalive", async () => {
    const c = await rawSession(broker.port, {
      clientId: "clean-1",
      username: "device",
      password: "s3cret",
      keepalive: 42,
    });
    c.send({ cmd: "disconnect" });
    await c.closed;
    const ev = await waitFor("disconnected clean-1", () => lifecycle(watch.messages, "clean-1", "disconnected"));
    expect(ev.json).toMatchObject({
      clientid: "clean-1",
      username: "device",
      ipaddress: expect.stringMatching(/127\.0\.0\.1/),
      peerport: c.localPort,
      sockport: broker.port,
      proto_ver: 4,
      keepalive: 42,
      clean_start: true,
      reason: "normal",
    });
    expect(lifecycle(watch.messages, "clean-1", "connected")).toBeDefined();
  });

  it("accepts an MQTT 5 client and reports protocol 5", async () => {
    const client = mqtt.connect(`mqtt://127.0.0.1:${broker.port}`, {
      clientId: "v5-client",
      protocolVersion: 5,
      username: "device",
      password: "s3cret",
      reconnectPeriod: 0,
    });
    await new Promise<void>((resolve, reject) => {
      client.once("connect", () => resolve());
      client.once("error", reject);
    });
    await new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
    const ev = await waitFor("disconnected v5-client", () => lifecycle(watch.messages, "v5-client", "disconnected"));
    expect(ev.json).toMatchObject({ proto_ver: 5, reason: "normal" });
  });

  it("reports a socket closed without DISCONNECT as tcp_closed", async () => {
    const c = await rawSession(broker.port, { clientId: "vanish-1", username: "device", password: "s3cret" });
    c.destroy();
    const ev = await waitFor("disconnected vanish-1", () => lifecycle(watch.messages, "vanish-1", "disconnected"));
    expect(ev.json?.reason).toBe("tcp_closed");
  });

  it("reports a client that stops pinging as keepalive_timeout", async () => {
    const c = await rawSession(broker.port, { clientId: "ka-1", username: "device", password: "s3cret", keepalive: 1 });
    // Aedes allows 1.5 × keepalive before it gives up on the client.
    const ev = await waitFor("disconnected ka-1", () => lifecycle(watch.messages, "ka-1", "disconnected"), 30_000);
    expect(ev.json?.reason).toBe("keepalive_timeout");
    c.destroy();
  });

  it.each([
    ["takeover", 0, "dup-0", false, "takenover"],
    ["discard", 1, "dup-1", true, "discarded"],
  ])(
    "records a %s when the same ClientID reconnects with clean start %i",
    async (_what, _flag, clientId, clean, reason) => {
      const session = () => rawSession(broker.port, { clientId, clean, username: "device", password: "s3cret" });
      const first = await session();
      const second = await session();
      const ev = await waitFor(`disconnected ${clientId}`, () => lifecycle(watch.messages, clientId, "disconnected"));
      expect(ev.json).toMatchObject({ reason, peerport: first.localPort });
      await first.closed;
      second.destroy();
    },
  );

  it("refuses a wrong password before any session begins and reports connect_failed not_authorized", async () => {
    const c = await rawSession(broker.port, { clientId: "intruder", username: "device", password: "wrong" });
    expect((c.connack as { returnCode?: number }).returnCode).toBe(4);
    const ev = await waitFor("connect_failed intruder", () =>
      watch.messages.find((m) => m.topic.endsWith("/connect_failed") && m.json?.clientid === "intruder"),
    );
    expect(ev.json).toMatchObject({ reason: "not_authorized", username: "device", peerport: c.localPort });
    expect(lifecycle(watch.messages, "intruder", "connected")).toBeUndefined();
  });

  it("reports a garbage CONNECT (wrong protocol name) as connect_failed protocol_error", async () => {
    const c = await rawConnect(broker.port);
    // fixed header CONNECT, remaining length 12, protocol name "MQTX", level 4, flags 2, keepalive 60, empty id
    c.sendBytes(Buffer.from([0x10, 12, 0, 4, 0x4d, 0x51, 0x54, 0x58, 4, 2, 0, 60, 0, 0]));
    await c.closed;
    const ev = await waitFor("connect_failed protocol_error", () =>
      watch.messages.find((m) => m.topic.endsWith("/connect_failed") && m.json?.peerport === c.localPort),
    );
    expect(ev.json).toMatchObject({ reason: "protocol_error", clientid: null });
  });

  it("reports a CONNECT whose fields don't decode as connect_failed malformed_packet", async () => {
    const c = await rawConnect(broker.port);
    // remaining length 3 but the protocol name claims 4 bytes
    c.sendBytes(Buffer.from([0x10, 3, 0, 4, 0x4d]));
    await c.closed;
    const ev = await waitFor("connect_failed malformed", () =>
      watch.messages.find((m) => m.topic.endsWith("/connect_failed") && m.json?.peerport === c.localPort),
    );
    expect(ev.json).toMatchObject({ reason: "malformed_packet" });
  });

  it("reports a second CONNECT on a live session as protocol_error", async () => {
    const c = await rawSession(broker.port, { clientId: "twice", username: "device", password: "s3cret" });
    c.send(connectPacket({ clientId: "twice", username: "device", password: "s3cret" }));
    await c.closed;
    const ev = await waitFor("disconnected twice", () => lifecycle(watch.messages, "twice", "disconnected"));
    expect(ev.json?.reason).toBe("protocol_error");
  });

  it("reports an undecodable packet inside a session as malformed_packet", async () => {
    const c = await rawSession(broker.port, { clientId: "garbled", username: "device", password: "s3cret" });
    // SUBSCRIBE with a payload that ends inside the topic length
    c.sendBytes(Buffer.from([0x82, 3, 0, 1, 0]));
    await c.closed;
    const ev = await waitFor("disconnected garbled", () => lifecycle(watch.messages, "garbled", "disconnected"));
    expect(ev.json?.reason).toBe("malformed_packet");
  });

  it("keeps hostile ClientIDs exact in the payload and safe in the topic", async () => {
    const hostile = `a/b+c#d %2F "q" (p) ünï 🚀`;
    const c = await rawSession(broker.port, { clientId: hostile, username: "device", password: "s3cret" });
    c.send({ cmd: "disconnect" });
    const ev = await waitFor("hostile disconnected", () => lifecycle(watch.messages, hostile, "disconnected"));
    expect(ev.topic).toBe(`$SYS/brokers/bundled@test/clients/${clientIdTopicLevel(hostile)}/disconnected`);
    expect(ev.topic.split("/")).toHaveLength(6);
  });

  it("counts messages queued for an offline persistent session", async () => {
    const sub = await rawSession(broker.port, {
      clientId: "sleeper",
      clean: false,
      username: "device",
      password: "s3cret",
    });
    sub.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "fleet/sleeper", qos: 1 }] });
    await sub.waitFor("suback");
    sub.send({ cmd: "disconnect" });
    await sub.closed;
    const pub = await rawSession(broker.port, { clientId: "waker", username: "device", password: "s3cret" });
    for (let i = 1; i <= 3; i++) {
      pub.send({ cmd: "publish", topic: "fleet/sleeper", payload: Buffer.from(`m${i}`), qos: 1, messageId: i });
    }
    await waitFor("3 pubacks", () => pub.received.filter((p) => p.cmd === "puback").length === 3);
    await waitFor(
      "queued/count = 3",
      () => watch.messages.findLast((m) => m.topic === "$SYS/brokers/bundled@test/stats/queued/count")?.payload === "3",
    );
    pub.destroy();
  });

  it("drops QoS 0 messages for a subscriber that stops reading, and says so once", async () => {
    const slow = await rawSession(broker.port, { clientId: "slow-sub", username: "device", password: "s3cret" });
    slow.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "flood", qos: 0 }] });
    await slow.waitFor("suback");
    slow.socket.pause();
    const pub = await rawSession(broker.port, { clientId: "flooder", username: "device", password: "s3cret" });
    const payload = Buffer.alloc(512 * 1024, 1);
    for (let i = 0; i < 40; i++) pub.send({ cmd: "publish", topic: "flood", payload, qos: 0 });
    const ev = await waitFor(
      "messages_dropped",
      () => lifecycle(watch.messages, "slow-sub", "messages_dropped"),
      30_000,
    );
    expect(ev.json).toMatchObject({ clientid: "slow-sub" });
    await waitFor(
      "dropped counter",
      () =>
        Number(
          watch.messages.findLast((m) => m.topic === "$SYS/brokers/bundled@test/metrics/messages/dropped")?.payload,
        ) > 0,
    );
    expect(watch.messages.filter((m) => m.topic.endsWith("/messages_dropped"))).toHaveLength(1);
    slow.destroy();
    pub.destroy();
  });
});
