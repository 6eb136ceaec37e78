import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { and, count, eq, sql } from "drizzle-orm";
import mqtt from "mqtt";
import type { Database } from "@/db/client";
import { connectionEvents } from "@/db/schema";
import { BrokerCollector, DEFAULT_TIMING, type CollectedBroker } from "@/lib/collector/collector";
import { IngestWriter } from "@/lib/collector/writer";
import { freshDatabase, type TestDatabase } from "../helpers/db";
import { SYS_AND_LOG_CONFIG, startMosquitto, type RunningMosquitto } from "../helpers/mosquitto";
import { waitFor } from "../helpers/ports";
import { describeIf, needs } from "../helpers/require";
import { unavailable } from "../helpers/unavailable-db";

/**
 * Exactly-once storage and acknowledge-after-commit against a real Mosquitto (the storage rules
 * themselves, on a database alone: test/exactly-once.test.ts).
 */

const quiet = () => {};

const LOG_CONFIG = [
  ...SYS_AND_LOG_CONFIG,
  // the monitor must be able to hold a whole storm while it is not acknowledging
  "max_queued_messages 100000",
];

/** Connect and cleanly disconnect `n` clients, 25 at a time. */
async function connectStorm(url: string, prefix: string, n: number): Promise<void> {
  for (let i = 0; i < n; i += 25) {
    await Promise.all(
      Array.from({ length: Math.min(25, n - i) }, async (_, k) => {
        const client = mqtt.connect(url, { clientId: `${prefix}-${i + k}`, reconnectPeriod: 0 });
        await new Promise<void>((resolve, reject) => client.once("connect", () => resolve()).once("error", reject));
        await client.endAsync();
      }),
    );
  }
}

async function lifecycleCounts(database: Database, broker: string, prefix: string) {
  const rows = await database.db
    .select({ clientId: connectionEvents.clientId, type: connectionEvents.type, n: count() })
    .from(connectionEvents)
    .where(and(eq(connectionEvents.broker, broker), sql`${connectionEvents.clientId} like ${prefix + "-%"}`))
    .groupBy(connectionEvents.clientId, connectionEvents.type);
  return rows;
}

describeIf(needs({ mosquitto: true }), "exactly once from a real Mosquitto", () => {
  let t: TestDatabase;
  let mosquitto: RunningMosquitto;
  const running: { stop(): Promise<void> }[] = [];

  function watcher(clientId: string, database: Database, broker = "plant-a", url = mosquitto.url) {
    const writer = new IngestWriter(database, { flushIntervalMs: 20, log: quiet });
    const config: CollectedBroker = { name: broker, url, dialect: "mosquitto", clientId };
    const collector = new BrokerCollector(config, writer, DEFAULT_TIMING, quiet);
    writer.start();
    collector.start();
    const handle = {
      writer,
      collector,
      async stop() {
        await collector.stop();
        await writer.stop(200);
      },
    };
    running.push(handle);
    return handle;
  }

  beforeAll(async () => {
    [t, mosquitto] = await Promise.all([freshDatabase(), startMosquitto(LOG_CONFIG)]);
  });
  afterEach(async () => {
    for (const r of running.splice(0).reverse()) await r.stop();
  });
  afterAll(async () => {
    await mosquitto?.stop();
    await t?.drop();
  });

  it("stores every event of a connect storm once when two watchers of the broker write to one database", async () => {
    const a = watcher("bw-watcher-a", t.database);
    const b = watcher("bw-watcher-b", t.database);
    await waitFor("both watchers up", () => a.collector.status === "up" && b.collector.status === "up", 15_000);
    await connectStorm(mosquitto.url, "twin", 150);
    await waitFor(
      "both watchers wrote the storm",
      async () => (await lifecycleCounts(t.database, "plant-a", "twin")).length === 300,
      30_000,
      200,
    );
    // each watcher wrote the whole storm itself; the database kept one copy
    await waitFor(
      "both wrote the storm",
      () => a.writer.stats.eventsWritten >= 300 && b.writer.stats.eventsWritten >= 300,
      15_000,
    );
    const counts = await lifecycleCounts(t.database, "plant-a", "twin");
    expect(counts.filter((c) => c.n !== 1)).toEqual([]);
    expect(a.writer.stats.duplicatesDropped + b.writer.stats.duplicatesDropped).toBeGreaterThanOrEqual(300);
  });

  it("acknowledges nothing it could not commit: the broker redelivers it to the next run, stored once", async () => {
    // first run: the database is down, so nothing is committed and nothing may be acknowledged
    const first = watcher("bw-ack", unavailable(t.database), "plant-ack");
    await waitFor("first run up", () => first.collector.status === "up", 15_000);
    await connectStorm(mosquitto.url, "ack", 60);
    // The first run holds what it received, unacknowledged
    await waitFor("first run received messages", () => first.collector.counters.messages >= 20, 15_000);
    expect(first.writer.stats.writeErrors).toBeGreaterThan(0);
    await first.stop(); // like a crash: its queue is lost

    // second run, same session: the broker delivers what was never acknowledged
    watcher("bw-ack", t.database, "plant-ack");
    await waitFor(
      "every client's connect and disconnect stored",
      async () => (await lifecycleCounts(t.database, "plant-ack", "ack")).length === 120,
      30_000,
      200,
    );
    const counts = await lifecycleCounts(t.database, "plant-ack", "ack");
    expect(counts.filter((c) => c.n !== 1)).toEqual([]);
  });

  it("holds a storm beyond Mosquitto's default in-flight window and queue unacknowledged, and loses none of it across a crash", async () => {
    // Mosquitto at its defaults: 20 QoS 1 messages in flight to a 3.1.1 client, 1000 more queued
    // for it, the rest dropped. The collector speaks MQTT 5 with a large Receive Maximum, so the
    // broker sends it the whole storm at once while nothing is acknowledged (its database down).
    const defaults = await startMosquitto(LOG_CONFIG.filter((line) => !line.startsWith("max_queued_messages")));
    running.push(defaults);
    const first = watcher("bw-window", unavailable(t.database), "plant-window", defaults.url);
    await waitFor("first run up", () => first.collector.status === "up", 15_000);
    expect(first.collector.mqttProtocol).toBe(5);
    const clients = 600; // 1200 lifecycle lines and more: past 20 in flight + 1000 queued
    await connectStorm(defaults.url, "window", clients);
    await waitFor(
      "the whole storm in flight to the first run",
      () => first.collector.counters.events >= 2 * clients,
      30_000,
    );
    await first.stop(); // a crash: its write queue is lost, nothing was acknowledged

    // The same session again: the broker redelivers every unacknowledged line; each is stored once.
    watcher("bw-window", t.database, "plant-window", defaults.url);
    await waitFor(
      "every client's connect and disconnect stored",
      async () => (await lifecycleCounts(t.database, "plant-window", "window")).length === 2 * clients,
      60_000,
      200,
    );
    const counts = await lifecycleCounts(t.database, "plant-window", "window");
    expect(counts.filter((c) => c.n !== 1)).toEqual([]);
  }, 120_000);

  it("sees a broker that comes back after 10 s as up within 5 s of its restart", async () => {
    const w = watcher("bw-recovery", t.database, "plant-recovery");
    await waitFor("up", () => w.collector.status === "up", 15_000);
    await mosquitto.stop();
    await waitFor("down", () => w.collector.status === "down", 5_000);
    await new Promise((r) => setTimeout(r, 10_000));
    const restartedAt = Date.now();
    await mosquitto.restart();
    await waitFor("up again", () => w.collector.status === "up", 15_000, 20);
    const upAfterMs = Date.now() - restartedAt;
    console.log(`broker up ${upAfterMs} ms after its restart`);
    expect(upAfterMs).toBeLessThan(5_000);
  }, 40_000);
});
