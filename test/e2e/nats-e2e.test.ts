import { afterAll, beforeAll, expect, it } from "vitest";
import mqtt from "mqtt";
import { getBroker, upsertBroker } from "@/db/brokers";
import { queryEvents } from "@/db/events";
import { listGaps } from "@/db/gaps";
import { claimInstanceName } from "@/db/instances";
import { fetchSeries } from "@/db/metrics";
import { DEFAULT_TIMING } from "@/lib/collector/collector";
import { CollectorManager } from "@/lib/collector/manager";
import { NATS_CLIENT_CLOSED_NOTE, NATS_READ_ERROR_NOTE } from "@/lib/collector/nats";
import { IngestWriter } from "@/lib/collector/writer";
import { brokerSecretAddress, encryptSecret } from "@/lib/crypto";
import type { EventType } from "@/lib/events";
import { freshDatabase, type TestDatabase } from "../helpers/db";
import { NATS_MQTT_USER, NATS_SYS_USER, startNats, type RunningNats } from "../helpers/nats";
import { waitFor } from "../helpers/ports";
import { rawConnect } from "../helpers/raw-mqtt";
import { describeIf, needs } from "../helpers/require";

/**
 * A real nats-server 2.9 with its MQTT listener, watched end to end: its monitoring port polled
 * (liveness, metrics, /connz) and its system account's pushed events, driven by real MQTT clients
 * through a normal disconnect, a dropped socket, a keepalive timeout, a takeover and a bad password;
 * down (with a gap) when the server stops.
 */
const SECRET = "nats-e2e-test-secret";

describeIf(needs({ nats: true }), "NATS watched end to end", () => {
  let nats: RunningNats;
  let test: TestDatabase;
  let writer: IngestWriter;
  let manager: CollectorManager;
  const logs: string[] = [];
  const mqttOptions = () => ({ ...NATS_MQTT_USER, protocolVersion: 4 as const, reconnectPeriod: 0 });

  beforeAll(async () => {
    [nats, test] = await Promise.all([startNats(), freshDatabase()]);
    await upsertBroker(test.database.db, {
      name: "nats",
      url: nats.mqttUrl,
      dialect: "nats",
      detectedDialect: "nats",
      username: NATS_SYS_USER.username,
      passwordEnc: encryptSecret(NATS_SYS_USER.password, SECRET, brokerSecretAddress(nats.mqttUrl)),
      monitorUrl: nats.monitorUrl,
      natsUrl: nats.natsUrl,
      source: "file",
    });
    await claimInstanceName(test.database.db, "test", null, "nats-e2e-token", 60_000);
    writer = new IngestWriter(test.database, { flushIntervalMs: 50, log: (l) => logs.push(l) });
    writer.start();
    manager = new CollectorManager(test.database, writer, {
      secret: SECRET,
      installationId: "test",
      instance: "test",
      timing: { ...DEFAULT_TIMING, minStaleMs: 1500, scrapeIntervalMs: 500, backoffCapMs: 1000 },
      rollupEveryMs: 500,
      log: (l) => logs.push(l),
    });
    await manager.start();
    const collector = manager.get("nats")!;
    await waitFor("nats up", () => collector.status === "up", 30_000, 100);
  }, 120_000);

  afterAll(async () => {
    await manager?.stop();
    await writer?.stop();
    await nats?.stop();
    await test?.drop();
  }, 60_000);

  async function eventsOf(clientId: string | undefined, type?: EventType) {
    const rows = await queryEvents(test.database.db, { broker: "nats", limit: 200, ...(type ? { type } : {}) });
    return rows.filter((r) => clientId === undefined || r.clientId === clientId);
  }

  async function ended(clientId: string, type: EventType = "disconnected") {
    return waitFor(`${clientId} ${type}`, async () => (await eventsOf(clientId, type))[0], 20_000, 200);
  }

  async function connected(clientId: string, extra: mqtt.IClientOptions = {}): Promise<mqtt.MqttClient> {
    const client = mqtt.connect(nats.mqttUrl, { ...mqttOptions(), clientId, ...extra });
    await new Promise<void>((resolve, reject) => {
      client.once("connect", () => resolve());
      client.once("error", reject);
    });
    return client;
  }

  it("records a normal disconnect with its ClientID, as tcp_closed saying NATS cannot tell it from a dropped socket", async () => {
    const client = await connected("nats-normal");
    await client.endAsync();
    const end = await ended("nats-normal");
    expect(end.reason).toBe("tcp_closed");
    expect(JSON.parse(end.raw).note).toBe(NATS_CLIENT_CLOSED_NOTE);
    expect(end.address).toBe("127.0.0.1");
    expect(end.sessionSeconds).toBeGreaterThanOrEqual(0);
    const all = await eventsOf("nats-normal");
    // once each, though both the system account and /connz told it
    expect(all.map((e) => e.type).sort()).toEqual(["connected", "disconnected"]);
  });

  it("records a dropped socket (reset) as socket_error", async () => {
    const client = await connected("nats-dropped");
    (client.stream as unknown as { resetAndDestroy(): void }).resetAndDestroy();
    client.end(true);
    const end = await ended("nats-dropped");
    expect(end.reason).toBe("socket_error");
    expect(JSON.parse(end.raw).note).toBe(NATS_READ_ERROR_NOTE);
  });

  it("records a keepalive timeout as socket_error, saying NATS cannot tell it from a reset", async () => {
    const raw = await rawConnect(nats.mqttPort);
    raw.send({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clientId: "nats-keepalive", keepalive: 1, clean: true, ...NATS_MQTT_USER });
    await raw.waitFor("connack");
    await raw.closed; // the server closes it after 1.5 × keepalive of silence
    const end = await ended("nats-keepalive");
    expect(end.reason).toBe("socket_error");
    expect(end.sessionSeconds).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(end.raw).note).toBe(NATS_READ_ERROR_NOTE);
  });

  it("records a takeover of the older connection as takenover", async () => {
    const first = await connected("nats-takeover", { clean: false });
    first.on("error", () => {});
    // past NATS's one-second jail for a ClientID reused right after a takeover
    await new Promise((r) => setTimeout(r, 1200));
    const second = await connected("nats-takeover", { clean: false });
    const end = await ended("nats-takeover");
    expect(end.reason).toBe("takenover");
    first.end(true);
    await second.endAsync();
  });

  it("records a bad password as connect_failed not_authorized, and never stores the password", async () => {
    const client = mqtt.connect(nats.mqttUrl, { ...mqttOptions(), clientId: "nats-badpass", password: "hunter2-wrong" });
    client.on("error", () => {});
    const failed = await ended("nats-badpass", "connect_failed");
    client.end(true);
    expect(failed.reason).toBe("not_authorized");
    expect(failed.username).toBe(NATS_MQTT_USER.username);
    const everything = JSON.stringify(await eventsOf(undefined));
    expect(everything).not.toContain("hunter2-wrong");
    expect(everything).not.toContain(NATS_MQTT_USER.password);
    expect(logs.join("\n")).not.toContain("hunter2-wrong");
  });

  it("stores the metrics of /varz and /jsz under our names", async () => {
    const persistent = await connected("nats-metrics", { clean: false });
    await persistent.publishAsync("bw/retained", "x", { qos: 1, retain: true });
    const latest = async (metric: string) => {
      const series = await fetchSeries(test.database.db, metric, 0, Date.now() + 1000);
      return series.find((s) => s.labels.broker === "nats")?.points.at(-1)?.v;
    };
    await waitFor("retained stored", async () => ((await latest("mqtt_retained_messages")) ?? 0) >= 1, 15_000, 200);
    expect(await latest("mqtt_sessions")).toBeGreaterThanOrEqual(1);
    expect(await latest("mqtt_connections_current")).toBeGreaterThanOrEqual(1);
    expect(await latest("mqtt_connections_max")).toBe(65536);
    expect(await latest("mqtt_memory_bytes")).toBeGreaterThan(1e6);
    expect(await latest("mqtt_broker_up")).toBe(1);
    await waitFor("received rate stored", async () => (await latest("mqtt_messages_received_per_second")) !== undefined, 15_000, 200);
    expect((await getBroker(test.database.db, "nats"))!.version).toBe("2.9.10");
    await persistent.endAsync();
  });

  it("marks the broker down and opens a gap when the server stops", async () => {
    const collector = manager.get("nats")!;
    await nats.stop();
    await waitFor("nats down", () => collector.status === "down", 30_000, 100);
    await waitFor(
      "gap opened",
      async () => (await listGaps(test.database.db, "nats", new Date(0), new Date(Date.now() + 60_000))).length > 0,
      10_000,
      200,
    );
    const row = await waitFor("status stored", async () => {
      const b = await getBroker(test.database.db, "nats");
      return b?.status === "down" ? b : null;
    });
    expect(row.status).toBe("down");
  }, 60_000);
});
