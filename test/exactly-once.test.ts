import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { and, count, eq, sql } from "drizzle-orm";
import mqtt from "mqtt";
import type { Database } from "@/db/client";
import { eventKey, insertEvents, insertSamples, type EventRow, type SampleRow } from "@/db/ingest";
import { connectionEvents, metricSamples } from "@/db/schema";
import { BrokerCollector, DEFAULT_TIMING, type CollectedBroker } from "@/lib/collector/collector";
import { IngestWriter } from "@/lib/collector/writer";
import { freshDatabase, type TestDatabase } from "./helpers/db";
import { eventRow } from "./helpers/fixtures";
import { SYS_AND_LOG_CONFIG, startMosquitto, type RunningMosquitto } from "./helpers/mosquitto";
import { waitFor } from "./helpers/ports";
import { describeIf, needs } from "./helpers/require";

/**
 * Exactly-once storage and acknowledge-after-commit: a copy of an event (the broker redelivering
 * a message after a crash, or a second watcher of the same broker) is stored once, and a message
 * is acknowledged to the broker only once its rows are committed.
 */

const quiet = () => {};
const TS = new Date("2026-03-01T10:00:07.000Z");

function disconnected(clientId: string, overrides: Partial<EventRow> = {}): EventRow {
  return eventRow({
    ts: TS,
    receivedAt: new Date(),
    clientId,
    type: "disconnected",
    reason: "normal",
    raw: `1772359207: Client ${clientId} disconnected.`,
    ...overrides,
  });
}

async function storedEvents(database: Database, broker: string) {
  return database.db
    .select({ clientId: connectionEvents.clientId, type: connectionEvents.type, raw: connectionEvents.raw })
    .from(connectionEvents)
    .where(eq(connectionEvents.broker, broker));
}

/** A database that refuses every write, as Postgres does while it is down. */
function unavailable(database: Database): Database {
  const refuse = () => Promise.reject(new Error("database unavailable"));
  return {
    ...database,
    db: new Proxy(database.db, {
      get: (target, prop) => (prop === "transaction" ? refuse : Reflect.get(target, prop, target)),
    }),
    postgres:
      database.postgres &&
      new Proxy(database.postgres, {
        get: (target, prop) =>
          prop === "begin" || prop === "reserve"
            ? refuse
            : prop === "unsafe"
              ? () => {
                  throw new Error("database unavailable");
                }
              : Reflect.get(target, prop, target),
      }),
  };
}

describe(`exactly-once storage on ${process.env.DATABASE_URL ? "Postgres" : "PGlite"}`, () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await freshDatabase();
  });
  afterAll(async () => {
    await t?.drop();
  });
  beforeEach(async () => {
    await t.database.db.delete(connectionEvents);
    await t.database.db.delete(metricSamples);
  });

  it("stores a batch the broker delivered twice (redelivery after a crash) once", async () => {
    const batch = Array.from({ length: 50 }, (_, i) => ({ ...disconnected(`dev-${i}`), eventKey: eventKey(disconnected(`dev-${i}`), 0) }));
    expect(await insertEvents(t.database, batch)).toBe(50);
    expect(await insertEvents(t.database, batch.map((e) => ({ ...e, receivedAt: new Date() })))).toBe(0);
    expect(await storedEvents(t.database, "plant-a")).toHaveLength(50);
  });

  it("keeps two identical log lines of one second (a client flapping) as two events, and their copies once", async () => {
    // Mosquitto 2.0 logs `Client x disconnected.` without a port: twice in one second, identical
    const twice = [disconnected("flappy"), disconnected("flappy")];
    expect(await insertEvents(t.database, twice)).toBe(2);
    expect(await insertEvents(t.database, twice)).toBe(0);
    expect(await storedEvents(t.database, "plant-a")).toHaveLength(2);
  });

  it("keeps the same line from two brokers as two events", async () => {
    await insertEvents(t.database, [disconnected("same"), disconnected("same", { broker: "plant-b" })]);
    expect(await storedEvents(t.database, "plant-a")).toHaveLength(1);
    expect(await storedEvents(t.database, "plant-b")).toHaveLength(1);
  });

  it("stores one sample per series and second, the latest value winning, whoever delivers it", async () => {
    const sample = (ms: number, value: number): SampleRow => ({
      broker: "plant-a",
      node: "",
      metric: "mqtt_broker_up",
      labels: {},
      ts: new Date(TS.getTime() + ms),
      value,
    });
    // a second watcher received the same publication 4 ms later: same second, same sample
    await insertSamples(t.database, [sample(120, 1)]);
    await insertSamples(t.database, [sample(124, 1)]);
    // down and up again within one second: the up must not be lost to the down
    await insertSamples(t.database, [sample(2100, 0), sample(2700, 1)]);
    await insertSamples(t.database, [sample(3100, 0)]);
    await insertSamples(t.database, [sample(3500, 1)]);
    const rows = await t.database.db
      .select({ ts: metricSamples.ts, value: metricSamples.value })
      .from(metricSamples)
      .orderBy(metricSamples.ts);
    expect(rows.map((r) => [r.ts.getTime() - TS.getTime(), r.value])).toEqual([
      [0, 1],
      [2000, 1],
      [3000, 1],
    ]);
  });

  it("stores a stream once when two writers are fed the same stream", async () => {
    const a = new IngestWriter(t.database, { flushIntervalMs: 10, batchSize: 40, log: quiet });
    const b = new IngestWriter(t.database, { flushIntervalMs: 10, batchSize: 70, log: quiet });
    a.start();
    b.start();
    try {
      const stream = Array.from({ length: 300 }, (_, i) =>
        disconnected(`w-${i % 150}`, { ts: new Date(TS.getTime() + (i % 7) * 1000) }),
      );
      const keyed = (rows: EventRow[]) => {
        const seen = new Map<string, number>();
        return rows.map((r) => {
          const same = `${r.ts.getTime()}|${r.raw}`;
          const ordinal = seen.get(same) ?? 0;
          seen.set(same, ordinal + 1);
          return { ...r, eventKey: eventKey(r, ordinal) };
        });
      };
      for (let i = 0; i < stream.length; i += 25) {
        a.enqueue({ events: keyed(stream).slice(i, i + 25) });
        b.enqueue({ events: keyed(stream).slice(i, i + 25) });
      }
      await waitFor("both wrote everything", () => a.stats.eventsWritten === 300 && b.stats.eventsWritten === 300, 10_000);
      expect(a.stats.duplicatesDropped + b.stats.duplicatesDropped).toBe(300);
      const [{ n }] = await t.database.db.select({ n: count() }).from(connectionEvents);
      expect(n).toBe(300);
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it("calls a message's acknowledgement only once its rows and every earlier message's are committed", async () => {
    const broken = unavailable(t.database);
    const writer = new IngestWriter(broken, { flushIntervalMs: 10, log: quiet });
    const acked: string[] = [];
    writer.enqueue({ events: [disconnected("first")] }, () => acked.push("first"));
    // a message that produced no rows waits for the one before it
    writer.enqueue({}, () => acked.push("no rows"));
    writer.start();
    await new Promise((r) => setTimeout(r, 200));
    expect(writer.stats.writeErrors).toBeGreaterThan(0);
    expect(acked).toEqual([]);
    await writer.stop(100);
    expect(acked).toEqual([]);

    const healthy = new IngestWriter(t.database, { flushIntervalMs: 10, log: quiet });
    healthy.enqueue({}, () => acked.push("nothing pending"));
    expect(acked).toEqual(["nothing pending"]);
    healthy.enqueue({ unparsed: [{ receivedAt: new Date(), broker: "plant-a", topic: "t", raw: "?", error: "x" }] }, () =>
      acked.push("unparsed"),
    );
    expect(acked).toEqual(["nothing pending"]);
    await healthy.flush();
    expect(acked).toEqual(["nothing pending", "unparsed"]);
    await healthy.stop();
  });
});

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
    await waitFor("the whole storm in flight to the first run", () => first.collector.counters.events >= 2 * clients, 30_000);
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
