import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { and, count, eq, sql } from "drizzle-orm";
import type { Database } from "@/db/client";
import { eventKey, insertEvents, insertSamples, type EventRow, type SampleRow } from "@/db/ingest";
import { connectionEvents, metricSamples } from "@/db/schema";
import { BrokerCollector, DEFAULT_TIMING, type CollectedBroker } from "@/lib/collector/collector";
import { IngestWriter } from "@/lib/collector/writer";
import { freshDatabase, type TestDatabase } from "./helpers/db";
import { eventRow } from "./helpers/fixtures";
import { waitFor } from "./helpers/ports";
import { unavailable } from "./helpers/unavailable-db";

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
      await waitFor("both wrote everything", () => a.stats.eventsWritten === 300 && b.stats.eventsWritten === 300, 30_000);
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
