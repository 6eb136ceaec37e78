import { afterAll, beforeAll, expect, it } from "vitest";
import mqtt from "mqtt";
import { appJson, startApp, type RunningApp } from "../helpers/app";
import { writeConfigFile } from "../helpers/fixtures";
import { passwordFile, PASSWORD_SYS_AND_LOG, startMosquitto, type RunningMosquitto } from "../helpers/mosquitto";
import { waitFor } from "../helpers/ports";
import { rawConnect, rawSession } from "../helpers/raw-mqtt";
import { describeIf, needs } from "../helpers/require";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy";

/**
 * The Mosquitto dialect against the real `mosquitto` binary: every event type and reason that
 * Mosquitto can produce, provoked for real (raw MQTT where a client library would hide the case),
 * asserted through the HTTP API as an operator would ask for it.
 */
const TOKEN = "test-token-collector";
/** the device user of both brokers' password files */
const DEVICE = { username: "device", password: "dev-pw" };

type ApiEvent = { type: string; reason: string | null; clientId: string | null } & Record<string, unknown>;

describeIf(needs({ mosquitto: true }), "collector on a real Mosquitto", () => {
  let plantA: RunningMosquitto;
  let plantB: RunningMosquitto;
  let proxy: TcpProxy;
  let app: RunningApp;

  const api = <T>(pathAndQuery: string) => appJson<T>(app, TOKEN, pathAndQuery);

  function clientEvents(clientId: string, broker = "plant-a"): Promise<ApiEvent[]> {
    return api<{ events: ApiEvent[] }>(`/api/clients/${encodeURIComponent(clientId)}/events?broker=${broker}`).then(
      (r) => r.events,
    );
  }

  async function eventually(clientId: string, match: (events: ApiEvent[]) => ApiEvent | undefined, broker?: string) {
    return waitFor(`event for ${clientId}`, async () => match(await clientEvents(clientId, broker)), 15_000, 200);
  }

  beforeAll(async () => {
    const pw = await passwordFile({ monitor: "mon-pw", device: "dev-pw" });
    [plantA, plantB] = await Promise.all([
      startMosquitto(PASSWORD_SYS_AND_LOG, { "pw.txt": pw }),
      // a small queue so a slow subscriber overflows it quickly
      startMosquitto([...PASSWORD_SYS_AND_LOG, "max_queued_messages 5", "max_inflight_messages 2"], { "pw.txt": pw }),
    ]);
    proxy = await startTcpProxy(plantA.port);
    const config = await writeConfigFile([
      "brokers:",
      "  - name: plant-a",
      "    url: ${PLANT_A_URL}",
      "    dialect: mosquitto",
      "    username: monitor",
      "    password: ${MONITOR_PASSWORD}",
      "    maxConnections: 50",
      "  - name: plant-b",
      `    url: ${plantB.url}`,
      "    dialect: auto",
      "    username: monitor",
      "    password: ${MONITOR_PASSWORD}",
    ]);
    app = await startApp({
      env: {
        BROKERWATCH_CONFIG: config,
        BROKERWATCH_API_TOKEN: TOKEN,
        PLANT_A_URL: proxy.url,
        MONITOR_PASSWORD: "mon-pw",
        BUNDLED_BROKER: "off",
      },
    });
    await waitFor(
      "both brokers up",
      async () => {
        const { brokers } = await api<{ brokers: { name: string; status: string }[] }>("/api/brokers");
        return brokers.filter((b) => b.status === "up").length === 2;
      },
      20_000,
      200,
    );
  });

  afterAll(async () => {
    await app?.stop();
    await proxy?.close();
    await plantA?.stop();
    await plantB?.stop();
  });

  it("lists the broker as up with normalised metrics and its configured capacity, never a password", async () => {
    // `up` comes with the first heartbeat, which can be the retained `$SYS` tree from before the
    // monitor connected (0 clients); Mosquitto republishes it every sys_interval (1 s here).
    const brokers = await waitFor(
      "plant-a counting the monitor's own connection",
      async () => {
        const list = (await api<{ brokers: Record<string, unknown>[] }>("/api/brokers")).brokers;
        const metrics = list.find((b) => b.name === "plant-a")?.metrics as Record<string, number> | undefined;
        return (metrics?.mqtt_connections_current ?? 0) >= 1 && list;
      },
      10_000,
      200,
    );
    const a = brokers.find((b) => b.name === "plant-a")!;
    expect(a).toMatchObject({ status: "up", dialect: "mosquitto", detectedDialect: "mosquitto", version: "2.0.11" });
    const metrics = a.metrics as Record<string, number>;
    expect(metrics.mqtt_connections_current).toBeGreaterThanOrEqual(1);
    expect(metrics.mqtt_broker_uptime_seconds).toBeGreaterThanOrEqual(0);
    expect(metrics.mqtt_connections_max).toBe(50);
    expect(JSON.stringify(brokers)).not.toContain("mon-pw");
    // plant-b was configured as auto: the dialect was detected from its $SYS tree
    expect(brokers.find((b) => b.name === "plant-b")).toMatchObject({ status: "up", detectedDialect: "mosquitto" });
  });

  it("records a clean disconnect of an MQTT 3.1.1 client with its session's address, username and duration", async () => {
    const client = await mqtt.connectAsync(plantA.url, { clientId: "meter-311", ...DEVICE, keepalive: 30 });
    await new Promise((r) => setTimeout(r, 300));
    await new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
    const ev = await eventually("meter-311", (es) => es.find((e) => e.type === "disconnected"));
    expect(ev).toMatchObject({
      reason: "normal",
      broker: "plant-a",
      address: "127.0.0.1",
      username: "device",
      protocolVersion: 4,
      keepalive: 30,
      cleanStart: true,
    });
    expect(ev.port).toEqual(expect.any(Number));
    expect(ev.sessionSeconds as number).toBeGreaterThanOrEqual(0);
    expect((await clientEvents("meter-311")).map((e) => e.type)).toEqual(["disconnected", "connected"]);
  });

  it("records an MQTT 5 client's protocol version", async () => {
    const client = await mqtt.connectAsync(plantA.url, { clientId: "meter-v5", ...DEVICE, protocolVersion: 5 });
    await new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
    const ev = await eventually("meter-v5", (es) => es.find((e) => e.type === "disconnected"));
    expect(ev).toMatchObject({ reason: "normal", protocolVersion: 5 });
  });

  it("records a device that drops its socket as tcp_closed", async () => {
    const c = await rawSession(plantA.port, { clientId: "vanishing", ...DEVICE });
    c.destroy();
    const ev = await eventually("vanishing", (es) => es.find((e) => e.type === "disconnected"));
    expect(ev.reason).toBe("tcp_closed");
  });

  it("records a device that stops pinging as keepalive_timeout", async () => {
    const c = await rawSession(plantA.port, {
      clientId: "sleepy",
      ...DEVICE,
      keepalive: 1,
    });
    const ev = await eventually("sleepy", (es) => es.find((e) => e.type === "disconnected"));
    expect(ev).toMatchObject({ reason: "keepalive_timeout", keepalive: 1 });
    c.destroy();
  });

  it("records a takeover when the same ClientID reconnects with clean start 0", async () => {
    const first = await rawSession(plantA.port, {
      clientId: "twin-0",
      clean: false,
      ...DEVICE,
    });
    const second = await rawSession(plantA.port, {
      clientId: "twin-0",
      clean: false,
      ...DEVICE,
    });
    const ev = await eventually("twin-0", (es) => es.find((e) => e.type === "disconnected"));
    // the old session's disconnect, with the old session's port
    expect(ev).toMatchObject({ reason: "takenover", port: first.localPort, cleanStart: false });
    await waitFor(
      "two connects",
      async () => (await clientEvents("twin-0")).filter((e) => e.type === "connected").length === 2,
    );
    first.destroy();
    second.send({ cmd: "disconnect" });
  });

  it("records a discard when the same ClientID reconnects with clean start 1", async () => {
    const first = await rawSession(plantA.port, { clientId: "twin-1", ...DEVICE });
    const second = await rawSession(plantA.port, { clientId: "twin-1", ...DEVICE });
    const ev = await eventually("twin-1", (es) => es.find((e) => e.type === "disconnected"));
    expect(ev).toMatchObject({ reason: "discarded", port: first.localPort });
    first.destroy();
    second.send({ cmd: "disconnect" });
  });

  it("records a wrong password as connect_failed not_authorized, with no session before it", async () => {
    const c = await rawSession(plantA.port, { clientId: "intruder", username: "device", password: "guess" });
    expect((c.connack as { returnCode?: number }).returnCode).toBe(5);
    // Mosquitto 2.0.11 logs `Client <unknown> disconnected, not authorised.` (see the fixture
    // log-with-auth.txt): the ClientID is unknown, the socket's address and port are not.
    const ev = await waitFor(
      "connect_failed not_authorized",
      async () => {
        const { events } = await api<{ events: ApiEvent[] }>(
          "/api/events?broker=plant-a&type=connect_failed&reason=not_authorized",
        );
        return events.find((e) => e.port === c.localPort);
      },
      15_000,
      200,
    );
    expect(ev).toMatchObject({ address: "127.0.0.1", clientId: null });
  });

  it("records a garbage CONNECT as connect_failed protocol_error from an unknown client", async () => {
    const c = await rawConnect(plantA.port);
    const localPort = c.localPort;
    // a CONNECT whose protocol name is "MQTX"
    c.sendBytes(Buffer.from([0x10, 12, 0, 4, 0x4d, 0x51, 0x54, 0x58, 4, 2, 0, 60, 0, 0]));
    await c.closed;
    const ev = await waitFor(
      "connect_failed protocol_error",
      async () => {
        const { events } = await api<{ events: ApiEvent[] }>(
          "/api/events?broker=plant-a&type=connect_failed&reason=protocol_error",
        );
        return events.find((e) => e.port === localPort);
      },
      15_000,
      200,
    );
    expect(ev).toMatchObject({ clientId: null, address: "127.0.0.1" });
  });

  it("records messages dropped for a subscriber too slow to keep up", async () => {
    const slow = await rawSession(plantB.port, { clientId: "slow-consumer", ...DEVICE });
    slow.send({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "telemetry/#", qos: 1 }] });
    await slow.waitFor("suback");
    // never PUBACK: 2 in flight, 5 queued, then Mosquitto drops
    const pub = await rawSession(plantB.port, { clientId: "firehose", ...DEVICE });
    for (let i = 1; i <= 30; i++) {
      pub.send({ cmd: "publish", topic: "telemetry/x", payload: Buffer.from(`m${i}`), qos: 1, messageId: i });
    }
    const ev = await eventually("slow-consumer", (es) => es.find((e) => e.type === "messages_dropped"), "plant-b");
    expect(ev.broker).toBe("plant-b");
    slow.destroy();
    pub.destroy();
  });

  it("loses nothing across a 5 s collector disconnect (persistent session)", async () => {
    proxy.cut();
    const brokerDown = waitFor(
      "plant-a down",
      async () => {
        const { brokers } = await api<{ brokers: { name: string; status: string }[] }>("/api/brokers");
        return brokers.find((b) => b.name === "plant-a")?.status === "down";
      },
      10_000,
      100,
    );
    // While the collector can't see the broker, a device comes and goes.
    const c = await rawSession(plantA.port, { clientId: "while-away", ...DEVICE });
    c.send({ cmd: "disconnect" });
    await c.closed;
    await brokerDown;
    await new Promise((r) => setTimeout(r, 5000));
    proxy.resume();
    const events = await waitFor(
      "both events of while-away",
      async () => {
        const es = await clientEvents("while-away");
        return es.length >= 2 ? es : undefined;
      },
      30_000,
      250,
    );
    expect(events.map((e) => `${e.type}:${e.reason}`)).toEqual(["disconnected:normal", "connected:null"]);
    const gaps = await api<{ gaps: { startedAt: string; endedAt: string | null }[] }>(
      "/api/brokers/plant-a/gaps?from=10m",
    );
    expect(gaps.gaps.length).toBeGreaterThanOrEqual(1);
    expect(gaps.gaps[0].endedAt).not.toBeNull();
  });
});
