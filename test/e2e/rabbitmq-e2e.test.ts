import { afterAll, beforeAll, expect, it } from "vitest";
import mqtt from "mqtt";
import net from "node:net";
import { upsertBroker, getBroker } from "@/db/brokers";
import { claimInstanceName } from "@/db/instances";
import { queryEvents } from "@/db/events";
import { listGaps } from "@/db/gaps";
import { fetchSeries } from "@/db/metrics";
import { DEFAULT_TIMING } from "@/lib/collector/collector";
import { brokerSecretAddress, encryptSecret } from "@/lib/crypto";
import { CollectorManager } from "@/lib/collector/manager";
import { IngestWriter } from "@/lib/collector/writer";
import { freshDatabase, type TestDatabase } from "../helpers/db";
import { waitFor } from "../helpers/ports";
import { startRabbitMq, type RunningRabbitMq } from "../helpers/rabbitmq";
import { describeIf, needs } from "../helpers/require";
import type { EventType } from "@/lib/events";

/**
 * A real RabbitMQ 3.10 with its MQTT plugin, watched end to end by the scrape collector: ClientID-level
 * events from the log exchange (a clean DISCONNECT, an abrupt close, a refused login), metrics from
 * the Prometheus plugin, and the broker marked down (with a gap) when the node stops. One private
 * node for the whole file: starting one costs ~12 s of a shared CPU.
 */
const SECRET = "rabbitmq-e2e-test-secret";

describeIf(needs({ rabbitmq: true }), "RabbitMQ watched end to end", () => {
  let rabbit: RunningRabbitMq;
  let test: TestDatabase;
  let writer: IngestWriter;
  let manager: CollectorManager;
  const logs: string[] = [];

  beforeAll(async () => {
    [rabbit, test] = await Promise.all([startRabbitMq(), freshDatabase()]);
    const amqp = new URL(rabbit.amqpUrl);
    await upsertBroker(test.database.db, {
      name: "rabbit",
      url: rabbit.mqttUrl,
      dialect: "rabbitmq",
      detectedDialect: "rabbitmq",
      username: "guest",
      passwordEnc: encryptSecret("guest", SECRET, brokerSecretAddress(rabbit.mqttUrl)),
      metricsUrl: rabbit.metricsUrl,
      amqpUrl: `amqp://${amqp.host}`,
      maxConnections: 100,
      source: "file",
    });
    // The service registers its instance; the merged status (and the gaps) count live instances' views.
    await claimInstanceName(test.database.db, "test", null, "token-test", 8000);
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
    const collector = manager.get("rabbit")!;
    await waitFor("rabbit up", () => collector.status === "up", 30_000, 100);
  }, 120_000);

  afterAll(async () => {
    await manager?.stop();
    await writer?.stop();
    await rabbit?.stop();
    await test?.drop();
  }, 60_000);

  async function eventsOf(clientId?: string, type?: EventType) {
    const rows = await queryEvents(test.database.db, { broker: "rabbit", limit: 100, ...(type ? { type } : {}) });
    return rows.filter((r) => clientId === undefined || r.clientId === clientId);
  }

  it("records connect and clean disconnect with the ClientID and reason normal", async () => {
    const client = mqtt.connect(rabbit.mqttUrl, { clientId: "rmq-clean", reconnectPeriod: 0 });
    await new Promise<void>((resolve, reject) => {
      client.once("connect", () => resolve());
      client.once("error", reject);
    });
    await new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
    const events = await waitFor(
      "rmq-clean connected + disconnected",
      async () => {
        const rows = await eventsOf("rmq-clean");
        return rows.length >= 2 ? rows : null;
      },
      15_000,
      200,
    );
    expect(events.map((e) => [e.type, e.reason])).toEqual([
      ["disconnected", "normal"],
      ["connected", null],
    ]);
    expect(events[0].address).toBe("127.0.0.1");
    expect(events[0].sessionSeconds).toBeGreaterThanOrEqual(0);
  });

  it("records an abrupt close as tcp_closed, joined to the ClientID by pid or address", async () => {
    const client = mqtt.connect(rabbit.mqttUrl, { clientId: "rmq-abrupt", reconnectPeriod: 0 });
    await new Promise<void>((resolve) => client.once("connect", () => resolve()));
    (client.stream as net.Socket).destroy();
    client.end(true);
    const disconnected = await waitFor(
      "rmq-abrupt tcp_closed",
      async () => (await eventsOf("rmq-abrupt")).find((e) => e.type === "disconnected"),
      15_000,
      200,
    );
    expect(disconnected.reason).toBe("tcp_closed");
  });

  it("records a refused login as connect_failed not_authorized with the user name", async () => {
    const client = mqtt.connect(rabbit.mqttUrl, {
      clientId: "rmq-badlogin",
      username: "guest",
      password: "wrong",
      reconnectPeriod: 0,
    });
    client.on("error", () => {});
    const failed = await waitFor(
      "connect_failed",
      async () => (await eventsOf(undefined, "connect_failed")).find((e) => e.username === "guest"),
      15_000,
      200,
    );
    client.end(true);
    expect(failed.reason).toBe("not_authorized");
    expect(failed.address).toBe("127.0.0.1");
  });

  it("stores the scraped metrics under our names", async () => {
    const series = await waitFor(
      "mqtt_connections_current stored",
      async () => {
        const rows = await fetchSeries(test.database.db, "mqtt_connections_current", 0, Date.now() + 1000);
        return rows.find((s) => s.labels.broker === "rabbit");
      },
      10_000,
      200,
    );
    // our own AMQP connection is a connection of the node too
    expect(series.points.at(-1)!.v).toBeGreaterThanOrEqual(1);
    const memory = await fetchSeries(test.database.db, "mqtt_memory_bytes", 0, Date.now() + 1000);
    expect(memory.find((s) => s.labels.broker === "rabbit")!.points.at(-1)!.v).toBeGreaterThan(1e6);
    const up = await fetchSeries(test.database.db, "mqtt_broker_up", 0, Date.now() + 1000);
    expect(up.find((s) => s.labels.broker === "rabbit")!.points.at(-1)!.v).toBe(1);
    expect((await getBroker(test.database.db, "rabbit"))!.version).toBe("3.10.8");
  });

  it("marks the broker down and opens a gap when the node stops", async () => {
    const collector = manager.get("rabbit")!;
    await rabbit.stop();
    await waitFor("rabbit down", () => collector.status === "down", 30_000, 100);
    await waitFor(
      "gap opened",
      async () => (await listGaps(test.database.db, "rabbit", new Date(0), new Date(Date.now() + 60_000))).length > 0,
      10_000,
      200,
    );
    const row = await waitFor("status stored", async () => {
      const b = await getBroker(test.database.db, "rabbit");
      return b?.status === "down" ? b : null;
    });
    expect(row.status).toBe("down");
  }, 60_000);
});
