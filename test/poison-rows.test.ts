import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { asc, sql } from "drizzle-orm";
import { clientHistory, searchClients } from "@/db/clients";
import { queryEvents } from "@/db/events";
import type { EventRow, SampleRow } from "@/db/ingest";
import { connectionEvents, metricSamples, unparsedRecords } from "@/db/schema";
import { IngestWriter, REFUSED_EVENT_TOPIC, REFUSED_SAMPLE_TOPIC, rowErrorOf, writerStall } from "@/lib/collector/writer";
import { freshDatabase, type TestDatabase } from "./helpers/db";
import { waitFor } from "./helpers/ports";

/**
 * Issue 18, item 1: one device must not stop all collection. A row the database refuses for what it
 * holds (an index entry over the btree limit of 2704 bytes) used to fail its batch, which went back
 * whole and was retried forever: every broker's events and samples stopped behind it.
 */

const BASE_TS = new Date("2026-03-01T10:00:00.000Z");
/** random hex does not compress: "A".repeat(3000) fits a btree entry once TOAST compresses it, this does not */
const incompressible = (chars: number) => randomBytes(Math.ceil(chars / 2)).toString("hex").slice(0, chars);

function eventRow(clientId: string, i: number, overrides: Partial<EventRow> = {}): EventRow {
  return {
    ts: new Date(BASE_TS.getTime() + i),
    receivedAt: new Date(BASE_TS.getTime() + i + 5),
    broker: "plant-a",
    node: null,
    clientId,
    type: "connected",
    reason: null,
    address: "10.0.0.7",
    port: 50_000 + i,
    username: clientId,
    protocolVersion: 4,
    cleanStart: true,
    keepalive: 60,
    sessionSeconds: null,
    raw: `1772359200: New client connected from 10.0.0.7:${50_000 + i} as ${clientId} (p2, c1, k60, u'${clientId}').`,
    ...overrides,
  };
}

function sampleRow(i: number, labels: Record<string, string> = {}): SampleRow {
  return { broker: "plant-b", node: "", metric: "mqtt_connections_current", labels, ts: new Date(BASE_TS.getTime() + i * 1000), value: i };
}

describe("poison rows", () => {
  let t: TestDatabase;
  const quiet = () => {};

  beforeAll(async () => {
    t = await freshDatabase();
  });
  afterAll(async () => {
    await t?.drop();
  });
  beforeEach(async () => {
    await t.database.db.execute(sql`truncate connection_events, metric_samples, unparsed_records`);
  });

  it.each([
    ["3 KB", 3_000],
    ["64 KB", 65_535],
  ])("stores a %s ClientID and username whole and finds its history by ClientID and by prefix", async (_, size) => {
    const longId = incompressible(size);
    const writer = new IngestWriter(t.database, { flushIntervalMs: 10, log: quiet });
    writer.enqueue({ events: [eventRow("before", 0), eventRow(longId, 1), eventRow("after", 2)] });
    await writer.flush();
    expect(writer.stats).toMatchObject({ eventsWritten: 3, rowsRejected: 0 });
    const history = await clientHistory(t.database.db, longId, { from: new Date(BASE_TS.getTime() - 1000) });
    expect(history.events).toHaveLength(1);
    expect(history.events[0].username).toBe(longId);
    expect(history.total).toBe(1);
    expect(history.lastSeen).toEqual(new Date(BASE_TS.getTime() + 1));
    expect((await queryEvents(t.database.db, { clientId: longId, limit: 10 }))[0].clientId).toBe(longId);
    // a ClientID that shares the first 300 characters is another client
    expect(await queryEvents(t.database.db, { clientId: longId.slice(0, 300) + "x", limit: 10 })).toEqual([]);
    for (const prefix of [longId.slice(0, 10), longId.slice(0, 240), longId.slice(0, 2000)]) {
      const found = await searchClients(t.database.db, prefix);
      expect(found.clients.map((c) => c.clientId)).toEqual([longId]);
    }
    await writer.stop();
  });

  it("keeps a sample the database refuses as an unparsed record with the reason, and commits and acknowledges the rest", async () => {
    const logs: string[] = [];
    const writer = new IngestWriter(t.database, { flushIntervalMs: 10, log: (l) => logs.push(l) });
    const acked: number[] = [];
    // one message's rows each: 200 samples, one of them with a 3 KB label (a scraped exposition's)
    for (let i = 0; i < 200; i++) {
      const labels: Record<string, string> = i === 123 ? { client: incompressible(3000) } : { queue: `q${i}` };
      writer.enqueue({ samples: [sampleRow(i, labels)] }, () => acked.push(i));
    }
    writer.start();
    try {
      await waitFor("every message acknowledged", () => acked.length === 200, 20_000, 10);
      expect(acked).toEqual(Array.from({ length: 200 }, (_, i) => i));
      expect(writer.stats).toMatchObject({ samplesWritten: 199, rowsRejected: 1, unparsedWritten: 1, rowsDropped: 0 });
      expect(await t.database.db.select({ n: sql<number>`count(*)::int` }).from(metricSamples)).toEqual([{ n: 199 }]);
      const [record] = await t.database.db.select().from(unparsedRecords);
      expect(record.topic).toBe(REFUSED_SAMPLE_TOPIC);
      expect(record.error).toMatch(/SQLSTATE 54000.*index row size/);
      expect(JSON.parse(record.raw)).toMatchObject({ metric: "mqtt_connections_current", value: 123 });
      expect(logs.filter((l) => l.includes("refused"))).toHaveLength(1);
      expect(writer.queued).toBe(0);
    } finally {
      await writer.stop();
    }
  });

  it("keeps an event a constraint refuses as an unparsed record, the other events of its batch stored", async () => {
    // what a future data error looks like to the writer: a CHECK the row fails (SQLSTATE 23514)
    await t.database.db.execute(sql.raw(`alter table connection_events add constraint poison check (client_id <> 'poison')`));
    try {
      const writer = new IngestWriter(t.database, { flushIntervalMs: 10, log: quiet });
      const acked: string[] = [];
      const ids = Array.from({ length: 50 }, (_, i) => (i === 17 || i === 40 ? "poison" : `dev-${i}`));
      ids.forEach((id, i) => writer.enqueue({ events: [eventRow(id, i)] }, () => acked.push(`${i}`)));
      writer.start();
      await waitFor("every message acknowledged", () => acked.length === 50, 20_000, 10);
      await writer.stop();
      const stored = await t.database.db.select().from(connectionEvents).orderBy(asc(connectionEvents.ts));
      expect(stored.map((e) => e.clientId)).toEqual(ids.filter((id) => id !== "poison"));
      const records = await t.database.db.select().from(unparsedRecords);
      expect(records).toHaveLength(2);
      expect(records.every((r) => r.topic === REFUSED_EVENT_TOPIC && r.raw.includes("as poison") && /23514/.test(r.error))).toBe(true);
    } finally {
      await t.database.db.execute(sql.raw(`alter table connection_events drop constraint poison`));
    }
  });

  it("retries a failure that is not about a row with a growing backoff, logs it at most once per 10 s, and reports the stall", async () => {
    const logs: string[] = [];
    let attempts = 0;
    const broken = {
      ...t.database,
      postgres: undefined,
      db: new Proxy(t.database.db, {
        get(target, prop) {
          if (prop === "transaction") {
            return () => {
              attempts++;
              return Promise.reject(Object.assign(new Error("connection lost"), { code: "ECONNRESET" }));
            };
          }
          return Reflect.get(target, prop, target);
        },
      }),
    } as typeof t.database;
    const writer = new IngestWriter(broken, { flushIntervalMs: 5, batchSize: 10, log: (l) => logs.push(l) });
    for (let i = 0; i < 100; i++) writer.enqueue({ events: [eventRow(`d${i}`, i)] }, () => {});
    writer.start();
    await waitFor("a few retries", () => attempts >= 4, 20_000, 10);
    await writer.stop(0);
    // 100 ms, 200, 400, 800 …: a hot loop would have made hundreds of attempts in that time
    expect(attempts).toBeLessThan(10);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/writing 10 rows failed, will retry in 100 ms: connection lost/);
    expect(writer.queued).toBe(100);
    expect(writer.stats.lastError).toBe("connection lost");
    const since = writer.stats.waitingSince!;
    expect(writerStall(writer, since + 29_000)).toBeNull();
    expect(writerStall(writer, since + 31_000)).toMatchObject({ waitingSeconds: 31, queued: 100 });
    expect(writerStall(writer, since + 31_000)!.message).toMatch(/committed nothing for 31 s with 100 rows waiting; last error: connection lost/);
  });

  it("tells a row's data error from a lost connection", () => {
    expect(rowErrorOf(Object.assign(new Error("Failed query"), { cause: Object.assign(new Error("index row size"), { code: "54000" }) }))).toMatch(/54000/);
    expect(rowErrorOf(Object.assign(new Error("x"), { code: "22P02" }))).toMatch(/22P02/);
    expect(rowErrorOf(new RangeError("not an integer: 1.5"))).toMatch(/encoded/);
    expect(rowErrorOf(Object.assign(new Error("x"), { code: "57P01" }))).toBeNull(); // admin shutdown
    expect(rowErrorOf(Object.assign(new Error("x"), { code: "08006" }))).toBeNull(); // connection failure
    expect(rowErrorOf(Object.assign(new Error("x"), { code: "ECONNRESET" }))).toBeNull();
  });
});
