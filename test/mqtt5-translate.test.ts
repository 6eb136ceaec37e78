import net from "node:net";
import { once } from "node:events";
import { afterEach, describe, expect, it } from "vitest";
import { Aedes, type AedesOptions, type Client } from "aedes";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import mqttPacket, { type Packet } from "mqtt-packet";
import { translateMqtt5, type TranslatedConnection } from "@/broker/mqtt5";

/** Every test: Aedes on a random port behind translateMqtt5, torn down in afterEach. */
interface TestBroker {
  aedes: Aedes;
  port: number;
  connections: TranslatedConnection[];
  /** bytes the client sent / Aedes was given, per connection (same index as `connections`) */
  received: Buffer[][];
  delivered: Buffer[][];
}

const cleanups: (() => Promise<void>)[] = [];

/** Aedes keeps connected clients by id in `clients` (aedes.js), which its .d.ts leaves out. */
const clients = (aedes: Aedes) => (aedes as unknown as { clients: Record<string, Client | undefined> }).clients;

/** `events.once` for mqtt.js' typed emitter, which isn't a Node EventEmitter to the type checker. */
function onceMqtt<T>(client: MqttClient, event: "connect" | "error" | "close"): Promise<T> {
  return new Promise((resolve) => client.once(event, (arg?: unknown) => resolve(arg as T)));
}

afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function startBroker(opts: AedesOptions = {}): Promise<TestBroker> {
  const aedes = await Aedes.createBroker(opts);
  const sockets = new Set<net.Socket>();
  const connections: TranslatedConnection[] = [];
  const received: Buffer[][] = [];
  const delivered: Buffer[][] = [];
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    const inBytes: Buffer[] = [];
    const outBytes: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => inBytes.push(chunk));
    const translated = translateMqtt5(socket);
    // Spy on what reaches Aedes, to check passthrough is byte for byte.
    const push = translated.stream.push.bind(translated.stream);
    translated.stream.push = (chunk: unknown) => {
      if (Buffer.isBuffer(chunk)) outBytes.push(chunk);
      return push(chunk);
    };
    connections.push(translated);
    received.push(inBytes);
    delivered.push(outBytes);
    aedes.handle(translated.stream);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  cleanups.push(async () => {
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { aedes, port: (server.address() as net.AddressInfo).port, connections, received, delivered };
}

async function connect(port: number, opts: IClientOptions): Promise<MqttClient> {
  const client = mqtt.connect({ host: "127.0.0.1", port, reconnectPeriod: 0, connectTimeout: 3000, ...opts });
  cleanups.push(() => new Promise<void>((resolve) => client.end(true, {}, () => resolve())));
  await new Promise<void>((resolve, reject) => {
    client.once("connect", () => resolve());
    client.once("error", reject);
  });
  return client;
}

/**
 * A broker, a v3.1.1 watcher subscribed to wills/#, and a v5 client whose will is
 * `wills/<clientId>` carrying `payload`.
 */
async function withWatchedWill(clientId: string, payload: string, qos: 0 | 1 = 0) {
  const b = await startBroker();
  const watcher = await connect(b.port, { protocolVersion: 4, clientId: "watcher" });
  await watcher.subscribeAsync("wills/#");
  const client = await connect(b.port, {
    protocolVersion: 5,
    clientId,
    will: { topic: `wills/${clientId}`, payload: Buffer.from(payload), qos, retain: false },
  });
  return { b, watcher, client };
}

function nextMessage(client: MqttClient, topic: string): Promise<{ payload: string; qos: number; packet: Packet }> {
  return new Promise((resolve) => {
    const onMessage = (t: string, payload: Buffer, packet: mqttPacket.IPublishPacket) => {
      if (t !== topic) return;
      client.off("message", onMessage);
      resolve({ payload: payload.toString(), qos: packet.qos, packet });
    };
    client.on("message", onMessage);
  });
}

/** Resolves false if nothing arrives on `topic` within `ms`. */
function noMessage(client: MqttClient, topic: string, ms: number): Promise<boolean> {
  return Promise.race([
    nextMessage(client, topic).then(() => false),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(true), ms)),
  ]);
}

/**
 * A broker that records its client errors, and a hand-driven v5 client that has sent CONNECT
 * as `clientId` and read the CONNACK.
 */
async function connectedRawV5(clientId: string) {
  const b = await startBroker();
  const errors: Error[] = [];
  b.aedes.on("clientError", (_c, err) => errors.push(err));
  const raw = await rawV5(b.port);
  raw.send(v5Connect(clientId));
  const connack = await raw.next("connack");
  return { b, errors, raw, connack };
}

/** A broker and a bare TCP socket to it; `errored` is the first connectionError Aedes reports. */
async function plainSocket() {
  const b = await startBroker();
  const errored = new Promise<Error>((resolve) => b.aedes.on("connectionError", (_c, err) => resolve(err)));
  const socket = net.connect(b.port, "127.0.0.1");
  cleanups.push(async () => void socket.destroy());
  socket.on("error", () => {});
  await once(socket, "connect");
  return { b, errored, socket };
}

/** A hand-driven v5 client, for packets mqtt.js won't send. */
async function rawV5(port: number) {
  const socket = net.connect(port, "127.0.0.1");
  await once(socket, "connect");
  cleanups.push(async () => void socket.destroy());
  const parser = mqttPacket.parser({ protocolVersion: 5 });
  const packets: Packet[] = [];
  const waiters: (() => void)[] = [];
  parser.on("packet", (p) => {
    packets.push(p);
    for (const w of waiters.splice(0)) w();
  });
  const parseErrors: Error[] = [];
  parser.on("error", (err: Error) => parseErrors.push(err));
  socket.on("data", (d: Buffer) => parser.parse(d));
  const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  socket.on("error", () => {});
  return {
    socket,
    closed,
    parseErrors,
    send(p: Packet) {
      socket.write(mqttPacket.generate(p, { protocolVersion: 5 }));
    },
    async next<C extends Packet["cmd"]>(cmd: C): Promise<Extract<Packet, { cmd: C }>> {
      for (;;) {
        const i = packets.findIndex((p) => p.cmd === cmd);
        if (i >= 0) return packets.splice(i, 1)[0] as Extract<Packet, { cmd: C }>;
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    },
  };
}

const v5Connect = (
  clientId: string,
  properties?: mqttPacket.IConnectPacket["properties"],
): mqttPacket.IConnectPacket => ({
  cmd: "connect",
  protocolId: "MQTT",
  protocolVersion: 5,
  clientId,
  clean: true,
  keepalive: 30,
  properties,
});

describe("translateMqtt5 — MQTT 5 clients", () => {
  it("connects, subscribes, publishes and receives at QoS 0/1/2, unsubscribes", async () => {
    const b = await startBroker();
    const client = await connect(b.port, { protocolVersion: 5, clientId: "v5-client" });
    expect(b.connections[0].protocolVersion).toBe(5);
    expect(b.connections[0].stream.mode).toBe("translating");
    expect(clients(b.aedes)["v5-client"]).toBeDefined();

    const granted = await client.subscribeAsync({ "t/0": { qos: 0 }, "t/1": { qos: 1 }, "t/2": { qos: 2 } });
    expect(granted.map((g) => g.qos)).toEqual([0, 1, 2]);

    for (const qos of [0, 1, 2] as const) {
      const got = nextMessage(client, `t/${qos}`);
      await client.publishAsync(`t/${qos}`, `hello ${qos}`, { qos });
      await expect(got).resolves.toMatchObject({ payload: `hello ${qos}`, qos });
    }
    // subscription QoS caps delivery: published at 2 on a QoS 1 subscription
    const capped = nextMessage(client, "t/1");
    await client.publishAsync("t/1", "capped", { qos: 2 });
    await expect(capped).resolves.toMatchObject({ payload: "capped", qos: 1 });

    const unsubacks: mqttPacket.IUnsubackPacket[] = [];
    client.on("packetreceive", (p) => p.cmd === "unsuback" && unsubacks.push(p));
    await client.unsubscribeAsync(["t/0", "t/1"]);
    expect(unsubacks[0]?.granted).toEqual([0, 0]);
    const gone = noMessage(client, "t/1", 200);
    await client.publishAsync("t/1", "gone", { qos: 1 });
    expect(await gone).toBe(true);
  });

  it("announces its limits and assigns a client id for an empty one", async () => {
    const b = await startBroker();
    const client = mqtt.connect({
      host: "127.0.0.1",
      port: b.port,
      protocolVersion: 5,
      clientId: "",
      reconnectPeriod: 0,
    });
    cleanups.push(() => new Promise<void>((resolve) => client.end(true, {}, () => resolve())));
    const connack = await onceMqtt<mqttPacket.IConnackPacket>(client, "connect");
    const assigned = connack.properties?.assignedClientIdentifier;
    expect(assigned).toMatch(/^aedes_/);
    expect(clients(b.aedes)[assigned!]).toBeDefined();
    expect(connack.properties).toMatchObject({
      topicAliasMaximum: 10,
      receiveMaximum: 1000,
      sharedSubscriptionAvailable: false,
      subscriptionIdentifiersAvailable: false,
    });
    // cleanStart=1: the session ends with the connection, as the client asked (no override)
    expect(connack.properties?.sessionExpiryInterval).toBeUndefined();

    // cleanStart=0 with the default expiry 0: Aedes keeps the session forever, and says so
    const persistent = mqtt.connect({
      host: "127.0.0.1",
      port: b.port,
      protocolVersion: 5,
      clientId: "keeper",
      clean: false,
      reconnectPeriod: 0,
    });
    cleanups.push(() => new Promise<void>((resolve) => persistent.end(true, {}, () => resolve())));
    const connack2 = await onceMqtt<mqttPacket.IConnackPacket>(persistent, "connect");
    expect(connack2.properties?.sessionExpiryInterval).toBe(0xffffffff);
    expect(b.connections[1].stream.connectProperties).toEqual({});
  });

  it("passes a password without user name to authenticate() as user name ''", async () => {
    const seen: unknown[] = [];
    const b = await startBroker({
      authenticate: (_client, username, password, done) => {
        seen.push(username, password?.toString());
        done(null, true);
      },
    });
    const raw = await rawV5(b.port);
    // By hand: mqtt-packet's encoder refuses a password without user name even for v5.
    const body = Buffer.concat([
      Buffer.from([0x00, 0x04, ...Buffer.from("MQTT"), 0x05, 0x42 /* password, clean start */, 0x00, 0x1e, 0x00]),
      Buffer.from([0x00, 0x07, ...Buffer.from("pw-only")]),
      Buffer.from([0x00, 0x06, ...Buffer.from("secret")]),
    ]);
    raw.socket.write(Buffer.concat([Buffer.from([0x10, body.length]), body]));
    expect((await raw.next("connack")).reasonCode).toBe(0);
    expect(seen).toEqual(["", "secret"]);
  });

  it("resolves topic aliases", async () => {
    const b = await startBroker();
    const listener = await connect(b.port, { protocolVersion: 4, clientId: "listener" });
    await listener.subscribeAsync("alias/#", { qos: 1 });
    const client = await connect(b.port, { protocolVersion: 5, clientId: "aliaser" });
    const sent: mqttPacket.IPublishPacket[] = [];
    client.on("packetsend", (p) => p.cmd === "publish" && sent.push(p));

    const first = nextMessage(listener, "alias/t");
    await client.publishAsync("alias/t", "one", { qos: 1, properties: { topicAlias: 3 } });
    await expect(first).resolves.toMatchObject({ payload: "one" });

    const second = nextMessage(listener, "alias/t");
    await client.publishAsync("", "two", { qos: 1, properties: { topicAlias: 3 } });
    await expect(second).resolves.toMatchObject({ payload: "two" });
    expect(sent[1]).toMatchObject({ topic: "", properties: { topicAlias: 3 } });
  });

  it("disconnects cleanly: clientDisconnect fires and the will is not published", async () => {
    const { b, watcher, client } = await withWatchedWill("leaver", "gone");
    const disconnected = new Promise<Client>((resolve) => b.aedes.on("clientDisconnect", resolve));
    const noWill = noMessage(watcher, "wills/leaver", 300);
    await client.endAsync();
    expect((await disconnected).id).toBe("leaver");
    expect(await noWill).toBe(true);
    expect(b.connections[1].stream.disconnectReasonCode).toBe(0);
  });

  it("publishes the will of a v5 client whose socket drops", async () => {
    const { watcher, client } = await withWatchedWill("dropper", "dropped", 1);
    const will = nextMessage(watcher, "wills/dropper");
    client.stream.destroy();
    await expect(will).resolves.toMatchObject({ payload: "dropped" });
  });

  it("publishes the will on DISCONNECT 0x04 (disconnect with will message)", async () => {
    const { b, watcher, client } = await withWatchedWill("willful", "on purpose");
    const will = nextMessage(watcher, "wills/willful");
    client.end(false, { reasonCode: 0x04 });
    await expect(will).resolves.toMatchObject({ payload: "on purpose" });
    expect(b.connections[1].stream.disconnectReasonCode).toBe(0x04);
  });

  it("maps a refusing CONNACK to v5 reason code 0x87", async () => {
    const b = await startBroker({
      authenticate: (_client, username, _password, done) => {
        if (username === "good") return done(null, true);
        const err = Object.assign(new Error("not authorized"), { returnCode: 5 as const });
        done(err, false);
      },
    });
    const client = mqtt.connect({
      host: "127.0.0.1",
      port: b.port,
      protocolVersion: 5,
      clientId: "intruder",
      username: "bad",
      password: "x",
      reconnectPeriod: 0,
    });
    cleanups.push(() => new Promise<void>((resolve) => client.end(true, {}, () => resolve())));
    const err = await onceMqtt<Error & { code?: number }>(client, "error");
    expect(err.code).toBe(135);
    expect(b.connections[0].protocolVersion).toBe(5);

    const good = await connect(b.port, { protocolVersion: 5, clientId: "friend", username: "good", password: "x" });
    expect(good.connected).toBe(true);
  });

  it("drops PUBLISHes above the client's Maximum Packet Size and acks them to Aedes", async () => {
    const b = await startBroker();
    const client = await connect(b.port, {
      protocolVersion: 5,
      clientId: "small",
      properties: { maximumPacketSize: 200 },
    });
    await client.subscribeAsync("big/#", { qos: 2 });
    const publisher = await connect(b.port, { protocolVersion: 4, clientId: "pub" });
    // Aedes emits 'ack' on each PUBACK/PUBCOMP (aedes/lib/handlers/puback.js); the two
    // dropped messages must be acked by the translator, or Aedes would wait forever.
    let acks = 0;
    b.aedes.on("ack", (_packet, c) => {
      if (c?.id === "small") acks++;
    });
    const got = nextMessage(client, "big/small");
    const huge = "x".repeat(1000);
    await publisher.publishAsync("big/huge1", huge, { qos: 1 });
    await publisher.publishAsync("big/huge2", huge, { qos: 2 });
    await publisher.publishAsync("big/small", "fits", { qos: 1 });
    await expect(got).resolves.toMatchObject({ payload: "fits" });
    await new Promise((r) => setTimeout(r, 50));
    expect(b.connections[0].stream.oversizePublishesDropped).toBe(2);
    expect(acks).toBe(3);
  });
});

describe("translateMqtt5 — backpressure", () => {
  it("leaves a slow v5 subscriber's backlog in the socket buffer and passes 'drain' on to Aedes", async () => {
    const b = await startBroker();
    const slow = await connect(b.port, { protocolVersion: 5, clientId: "slow" });
    await slow.subscribeAsync("flood/#", { qos: 0 });
    let received = 0;
    slow.on("message", () => received++);
    (slow.stream as net.Socket).pause();

    const stream = b.connections[0].stream;
    let refused = 0;
    const write = stream.write.bind(stream);
    stream.write = ((...args: Parameters<typeof write>) => {
      const ok = write(...args);
      if (!ok) refused++;
      return ok;
    }) as typeof stream.write;

    const publisher = await connect(b.port, { protocolVersion: 4, clientId: "flooder" });
    const payload = Buffer.alloc(64 * 1024, 1);
    // More messages than mqemitter's default concurrency (100, aedes.js): if Aedes never got its
    // 'drain' back, its delivery callbacks would never run and the flood would stall.
    for (let i = 0; i < 200; i++) publisher.publish("flood/x", payload, { qos: 0 });
    for (let i = 0; i < 100 && stream.socket.writableLength < 2 * 1024 * 1024; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    // The broker's slow-consumer check reads socket.writableLength (broker/index.ts).
    expect(stream.socket.writableLength).toBeGreaterThan(2 * 1024 * 1024);
    expect(stream.writableLength).toBeLessThan(256 * 1024);
    expect(stream.pendingWriteBytes).toBe(stream.writableLength + stream.socket.writableLength);
    expect(refused).toBeGreaterThan(0); // Aedes was told to wait

    (slow.stream as net.Socket).resume();
    for (let i = 0; i < 200 && received < 200; i++) await new Promise((r) => setTimeout(r, 20));
    expect(received).toBe(200);
  });
});

describe("translateMqtt5 — protocol errors in translation mode", () => {
  it("closes with DISCONNECT 0x94 on an unknown topic alias", async () => {
    const { b, errors, raw, connack } = await connectedRawV5("raw-alias");
    expect(connack.reasonCode).toBe(0);
    raw.send({
      cmd: "publish",
      topic: "",
      payload: Buffer.from("?"),
      qos: 0,
      dup: false,
      retain: false,
      properties: { topicAlias: 5 },
    });
    expect((await raw.next("disconnect")).reasonCode).toBe(0x94);
    await raw.closed;
    await new Promise((r) => setTimeout(r, 20));
    expect(errors[0]?.message).toMatch(/^Invalid topic alias 5/);
  });

  it("answers AUTH with DISCONNECT 0x82 and an authentication method with CONNACK 0x8C", async () => {
    const b = await startBroker();
    const raw = await rawV5(b.port);
    raw.send(v5Connect("raw-auth"));
    await raw.next("connack");
    raw.send({ cmd: "auth", reasonCode: 0x19, properties: { authenticationMethod: "SCRAM-SHA-1" } });
    expect((await raw.next("disconnect")).reasonCode).toBe(0x82);
    await raw.closed;

    const failures: Error[] = [];
    b.aedes.on("connectionError", (_c, err) => failures.push(err));
    const raw2 = await rawV5(b.port);
    raw2.send(v5Connect("raw-auth2", { authenticationMethod: "SCRAM-SHA-1" }));
    expect((await raw2.next("connack")).reasonCode).toBe(0x8c);
    await raw2.closed;
    await new Promise((r) => setTimeout(r, 20));
    expect(failures[0]?.message).toMatch(/^Not supported: MQTT 5 enhanced authentication/);
    expect(clients(b.aedes)["raw-auth2"]).toBeUndefined();
  });

  it("refuses shared subscriptions with DISCONNECT 0x9E and destroys on malformed packets", async () => {
    const b = await startBroker();
    const raw = await rawV5(b.port);
    raw.send(v5Connect("raw-share"));
    await raw.next("connack");
    raw.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "$share/g/t", qos: 0 }] });
    expect((await raw.next("disconnect")).reasonCode).toBe(0x9e);
    await raw.closed;

    const raw2 = await rawV5(b.port);
    raw2.send(v5Connect("raw-malformed"));
    await raw2.next("connack");
    raw2.socket.write(Buffer.from([0x30, 0x01, 0x00])); // PUBLISH whose topic cannot be parsed
    expect((await raw2.next("disconnect")).reasonCode).toBe(0x81);
    await raw2.closed;
    expect(b.connections[1].stream.destroyed).toBe(true);
  });
});

describe("translateMqtt5 — Aedes output it cannot parse", () => {
  it("sends DISCONNECT 0x83, closes, and reports the error to Aedes without throwing", async () => {
    const { b, errors, raw } = await connectedRawV5("victim-of-aedes");
    // Pretend Aedes wrote garbage (a PUBLISH header with QoS 3).
    b.connections[0].stream.write(Buffer.from([0x36, 0x00]));
    expect((await raw.next("disconnect")).reasonCode).toBe(0x83);
    await raw.closed;
    await new Promise((r) => setTimeout(r, 20));
    expect(errors[0]?.message).toMatch(/^Cannot parse Aedes output/);
  });
});

describe("translateMqtt5 — passthrough", () => {
  for (const [version, protocolId] of [
    [4, "MQTT"],
    [3, "MQIsdp"],
  ] as const) {
    it(`passes a v${version === 4 ? "3.1.1" : "3.1"} client through byte for byte`, async () => {
      const b = await startBroker();
      const client = await connect(b.port, { protocolVersion: version, protocolId, clientId: `old-${version}` });
      expect(b.connections[0].protocolVersion).toBe(version);
      expect(b.connections[0].stream.mode).toBe("passthrough");
      expect(clients(b.aedes)[`old-${version}`]?.version).toBe(version);
      await client.subscribeAsync("p/#", { qos: 1 });
      const got = nextMessage(client, "p/x");
      await client.publishAsync("p/x", "plain", { qos: 1 });
      await expect(got).resolves.toMatchObject({ payload: "plain", qos: 1 });
      expect(Buffer.concat(b.delivered[0]).equals(Buffer.concat(b.received[0]))).toBe(true);
      // same Buffer objects, not copies
      expect(b.delivered[0][0]).toBe(b.received[0][0]);
    });
  }

  it("hands garbage to Aedes, which reports its own connectionError", async () => {
    const { b, errored, socket } = await plainSocket();
    socket.write(Buffer.from("GET / HTTP/1.1\r\n\r\n"));
    const err = await errored;
    expect(err.message).toMatch(/^Invalid header flag bits/);
    expect(b.connections[0].stream.mode).toBe("passthrough");
    expect(b.connections[0].protocolVersion).toBeNull();
    await once(socket, "close");
  });

  it("hands a complete CONNECT too short for its own protocol name to Aedes at once", async () => {
    const { b, errored, socket } = await plainSocket();
    // remaining length 3, but the protocol name claims 4 bytes: no level byte will ever come
    socket.write(Buffer.from([0x10, 3, 0, 4, 0x4d]));
    expect((await errored).message).toBe("Cannot parse protocolId");
    expect(b.connections[0].stream.mode).toBe("passthrough");
  });

  it("sniffs a CONNECT split across many small chunks", async () => {
    const b = await startBroker();
    const raw = await rawV5(b.port);
    const bytes = mqttPacket.generate(
      { ...v5Connect("split"), will: { topic: "w", payload: Buffer.from("x"), qos: 0, retain: false } },
      { protocolVersion: 5 },
    );
    for (const byte of bytes) {
      raw.socket.write(Buffer.from([byte]));
      await new Promise((r) => setImmediate(r));
    }
    expect((await raw.next("connack")).reasonCode).toBe(0);
    expect(b.connections[0].stream.mode).toBe("translating");

    // and a CONNECT sharing its segment with the next packet: both get translated
    const raw3 = await rawV5(b.port);
    raw3.socket.write(
      Buffer.concat([
        mqttPacket.generate(v5Connect("together"), { protocolVersion: 5 }),
        mqttPacket.generate(
          { cmd: "subscribe", messageId: 7, subscriptions: [{ topic: "x/#", qos: 1 }] },
          { protocolVersion: 5 },
        ),
      ]),
    );
    expect((await raw3.next("suback")).granted).toEqual([1]);

    const v4 = await rawV5(b.port); // raw socket, v4 bytes split mid-header
    const v4bytes = mqttPacket.generate({
      cmd: "connect",
      protocolId: "MQTT",
      protocolVersion: 4,
      clientId: "v4split",
      clean: true,
      keepalive: 30,
    });
    v4.socket.write(v4bytes.subarray(0, 3));
    await new Promise((r) => setTimeout(r, 20));
    expect(b.connections[2].stream.mode).toBe("sniffing");
    v4.socket.write(v4bytes.subarray(3));
    await new Promise((r) => setTimeout(r, 20));
    expect(b.connections[2].stream.mode).toBe("passthrough");
    expect(b.connections[2].protocolVersion).toBe(4);
    expect(clients(b.aedes)["v4split"]).toBeDefined();
  });

  it("gives up sniffing after 1 MiB without a complete first packet", async () => {
    const { b, socket } = await plainSocket();
    // A level-5 CONNECT announcing 2 MiB, of which 1.25 MiB arrive.
    const head = Buffer.from([0x10, 0x80, 0x80, 0x80, 0x01, 0x00, 0x04, ...Buffer.from("MQTT"), 0x05]);
    socket.write(Buffer.concat([head, Buffer.alloc(1.25 * 1024 * 1024)]));
    for (let i = 0; i < 100 && b.connections[0]?.stream.mode !== "passthrough"; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(b.connections[0].stream.mode).toBe("passthrough");
    expect(b.connections[0].protocolVersion).toBe(5);
    expect(Buffer.concat(b.delivered[0]).equals(Buffer.concat(b.received[0]))).toBe(true);
  });

  it("hands a partial first packet and the FIN to Aedes", async () => {
    const { b, socket } = await plainSocket();
    socket.end(Buffer.from([0x10, 0x20, 0x00]));
    await once(socket, "close");
    const stream = b.connections[0].stream;
    for (let i = 0; i < 50 && !stream.destroyed; i++) await new Promise((r) => setTimeout(r, 20));
    expect(stream.mode).toBe("passthrough");
    expect(stream.destroyed).toBe(true);
    expect(Buffer.concat(b.delivered[0])).toEqual(Buffer.from([0x10, 0x20, 0x00]));
  });

  it("destroys the socket when the stream is destroyed, and vice versa", async () => {
    const b = await startBroker();
    const client = await connect(b.port, { protocolVersion: 5, clientId: "victim" });
    const closed = onceMqtt(client, "close");
    b.connections[0].stream.destroy();
    await closed;

    await connect(b.port, { protocolVersion: 4, clientId: "victim2" });
    const conn = b.connections[1];
    expect(conn.stream.remoteAddress).toBe("127.0.0.1");
    expect(conn.stream.remotePort).toBe(conn.stream.socket.remotePort);
    expect(conn.stream.localPort).toBe(b.port);
    const streamClosed = once(conn.stream, "close");
    conn.stream.socket.destroy();
    await streamClosed;
  });
});
