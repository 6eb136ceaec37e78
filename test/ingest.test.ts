import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { asc, getTableName } from "drizzle-orm";
import type { PgTable } from "drizzle-orm/pg-core";
import type { Database } from "@/db/client";
import { queryEvents } from "@/db/events";
import { insertEvents, insertSamples, insertUnparsed, type EventRow, type SampleRow } from "@/db/ingest";
import { connectionEvents, metricSamples, unparsedRecords } from "@/db/schema";
import { IngestWriter } from "@/lib/collector/writer";
import { freshDatabase, type TestDatabase } from "./helpers/db";
import { eventRow as blankEventRow } from "./helpers/fixtures";
import { waitFor } from "./helpers/ports";

/**
 * The write path of everything the collector ingests: COPY on Postgres, multi-row INSERT on
 * PGlite. Device-controlled text (ClientIDs, usernames, log lines) must come back byte for byte,
 * and the writer in front of it must neither lose nor duplicate rows when the database hiccups.
 */

/** Text a hostile or merely unlucky device can put in a ClientID, a username or a log line. */
const HOSTILE: Record<string, string> = {
  tab: "plant\tline-4",
  newline: "first line\nsecond line",
  "carriage return": "dos\r\nline",
  backslash: "C:\\devices\\sensor-7",
  "COPY's NULL marker": "\\N",
  "COPY's NULL marker inside text": "before \\N after",
  quotes: `"double" 'single' \`back\``,
  unicode: "ünïcødé-Gerät-温度计",
  emoji: "sensor-🚀-🌡️",
  "COPY's end-of-data marker": "\\.",
  "SQL in the id": "x'); drop table connection_events; --",
};

const NUL_ID = "evil\u0000id";
const LONG_ID = "L".repeat(65_535);

const BASE_TS = new Date("2026-03-01T10:00:00.000Z");

function eventRow(clientId: string | null, i: number, overrides: Partial<EventRow> = {}): EventRow {
  return {
    ts: new Date(BASE_TS.getTime() + i),
    receivedAt: new Date(BASE_TS.getTime() + i + 5),
    broker: "plant-a",
    node: null,
    clientId,
    type: "disconnected",
    reason: "tcp_closed",
    address: "10.0.0.7",
    port: 50_000 + i,
    username: clientId,
    protocolVersion: 4,
    cleanStart: true,
    keepalive: 60,
    sessionSeconds: 12.5,
    raw: `raw line of ${clientId}`,
    ...overrides,
  };
}

function sampleRow(i: number, overrides: Partial<SampleRow> = {}): SampleRow {
  return {
    broker: "plant-a",
    node: "",
    metric: "mqtt_connections_current",
    labels: {},
    ts: new Date(BASE_TS.getTime() + i * 1000),
    value: i,
    ...overrides,
  };
}

/** The server's own words: drizzle wraps them as the `cause` of "Failed query: …". */
function databaseMessage(err: Error): string {
  return err.cause instanceof Error ? err.cause.message : err.message;
}

/**
 * A database whose first write into `table` throws, as a dropped connection or a failover would;
 * every later write goes through. Works for both write paths (COPY via postgres.js, INSERT via drizzle).
 */
function failingOnce(database: Database, table: "connection_events" | "metric_samples" | "unparsed_records") {
  const state = { failures: 0, armed: true };
  const trip = (target: string | undefined) => {
    if (state.armed && target === table) {
      state.armed = false;
      state.failures++;
      throw new Error(`simulated outage while writing ${table}`);
    }
  };
  // drizzle handles and transactions alike: every `insert(table)` passes the trip wire first
  const wired = <T extends object>(handle: T): T =>
    new Proxy(handle, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target) as unknown;
        if (typeof value !== "function") return value;
        if (prop === "insert") {
          return (t: PgTable) => {
            trip(getTableName(t));
            return value.call(target, t);
          };
        }
        if (prop === "transaction") {
          return (fn: (tx: object) => Promise<unknown>, config?: unknown) =>
            value.call(target, (tx: object) => fn(wired(tx)), config);
        }
        return value.bind(target);
      },
    });
  const db = wired(database.db);
  // postgres.js: a COPY (on a reserved connection, or into a staging table inside `begin`) or the move into the real table trips
  const wiredSql = <T extends object>(handle: T): T =>
    new Proxy(handle, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target) as unknown;
        if (prop === "unsafe" && typeof value === "function") {
          return (query: string, ...rest: unknown[]) => {
            trip(/^(?:copy|insert into) (\w+) /.exec(query)?.[1]);
            return value.call(target, query, ...rest);
          };
        }
        if (prop === "begin" && typeof value === "function") {
          return (fn: (tx: object) => Promise<unknown>) => value.call(target, (tx: object) => fn(wiredSql(tx)));
        }
        // a COPY straight into the table runs on a reserved connection
        if (prop === "reserve" && typeof value === "function") {
          return async () => wiredSql((await value.call(target)) as object);
        }
        return value;
      },
    });
  const postgres = database.postgres && wiredSql(database.postgres);
  return { database: { ...database, db, postgres } as Database, state };
}

describe(`ingest on ${process.env.DATABASE_URL ? "Postgres (COPY)" : "PGlite (INSERT)"}`, () => {
  let t: TestDatabase;
  let database: Database;

  beforeAll(async () => {
    t = await freshDatabase();
    database = t.database;
  });
  afterAll(async () => {
    await t?.drop();
  });
  beforeEach(async () => {
    await database.db.delete(connectionEvents);
    await database.db.delete(metricSamples);
    await database.db.delete(unparsedRecords);
  });

  async function storedEvents() {
    return database.db.select().from(connectionEvents).orderBy(asc(connectionEvents.id));
  }

  describe("insertEvents", () => {
    for (const [what, text] of Object.entries(HOSTILE)) {
      it(`stores a ClientID, username and log line containing ${what} exactly as the device sent them`, async () => {
        await insertEvents(database, [eventRow(text, 0, { raw: `Client ${text} disconnected.` })]);
        const [row] = await storedEvents();
        expect(row.clientId).toBe(text);
        expect(row.username).toBe(text);
        expect(row.raw).toBe(`Client ${text} disconnected.`);
        // and the query the API uses finds it by that exact id
        const found = await queryEvents(database.db, { clientId: text, limit: 10 });
        expect(found.map((r) => r.id)).toEqual([row.id]);
      });
    }

    it("keeps every other field of a row around a hostile ClientID intact (no column shift)", async () => {
      const rows = Object.values(HOSTILE).map((id, i) => eventRow(id, i));
      await insertEvents(database, rows);
      const stored = await storedEvents();
      expect(stored).toHaveLength(rows.length);
      stored.forEach((row, i) => {
        expect(row).toMatchObject({
          ts: rows[i].ts,
          receivedAt: rows[i].receivedAt,
          broker: "plant-a",
          node: null,
          clientId: rows[i].clientId,
          type: "disconnected",
          reason: "tcp_closed",
          address: "10.0.0.7",
          port: 50_000 + i,
          protocolVersion: 4,
          cleanStart: true,
          keepalive: 60,
          sessionSeconds: 12.5,
        });
      });
    });

    it("stores a ClientID containing NUL with U+FFFD in its place and nothing else changed", async () => {
      await insertEvents(database, [
        eventRow(NUL_ID, 0, { username: "user\u0000name", raw: "raw\u0000line", node: "node\u0000a" }),
      ]);
      const [row] = await storedEvents();
      expect(row.clientId).toBe("evil\uFFFDid");
      expect(row.username).toBe("user\uFFFDname");
      expect(row.raw).toBe("raw\uFFFDline");
      expect(row.node).toBe("node\uFFFDa");
    });

    it("stores the longest ClientID MQTT allows (65,535 characters)", async () => {
      await insertEvents(database, [eventRow(LONG_ID, 0)]);
      const [row] = await storedEvents();
      expect(row.clientId).toHaveLength(65_535);
      expect(row.clientId).toBe(LONG_ID);
    });

    it("stores nulls as null and a ClientID the broker logged as <unknown> as null", async () => {
      const blank = blankEventRow({ ts: BASE_TS, type: "connect_failed", raw: "refused <unknown>" });
      await insertEvents(database, [blank]);
      const [row] = await storedEvents();
      expect(row).toMatchObject(blank);
      // every column but the event's identity is null, as the broker left it
      const identity = new Set(["id", "eventKey", "ts", "receivedAt", "broker", "type", "raw"]);
      const notNull = Object.entries(row).filter(([column, value]) => !identity.has(column) && value !== null);
      expect(notNull).toEqual([]);
      expect(row.clientId).toBeNull();
    });

    // Postgres answers a COPY's end with its error, which postgres.js 3.4 never delivers to the stream
    // (porsager/postgres#1173): without the workaround the writer would wait forever. An int out of
    // range is caught while encoding binary COPY; a time before 4713 BC only by the server.
    for (const [what, overrides] of [
      ["an int column overflowing", { port: 2 ** 40 }],
      ["a time the database cannot hold (before 4713 BC)", { ts: new Date(-8.64e15) }],
    ] as const) {
      it(`refuses a row with ${what} with an error instead of hanging the write path`, async () => {
        const refused = insertEvents(database, [eventRow("refused", 0, overrides)]);
        const outcome = await Promise.race([
          refused.then(
            () => "written",
            (err: Error) => `refused: ${databaseMessage(err)}`,
          ),
          new Promise((r) => setTimeout(() => r("still waiting after 5 s"), 5000)),
        ]);
        expect(outcome).toMatch(/^refused: .*out of range/);
        expect(await storedEvents()).toHaveLength(0);
      });
    }

    it("stores an event key as given and refuses a malformed one rather than storing another", async () => {
      const key = "0123ABCD-4567-89ef-aBcD-0123456789EF";
      await insertEvents(database, [{ ...eventRow("keyed", 0), eventKey: key }]);
      expect((await storedEvents()).map((r) => r.eventKey)).toEqual([key.toLowerCase()]);
      for (const bad of ["0123abcd-4567-89ef-abcd-0123456789eg", "0123abcd04567-89ef-abcd-0123456789ef", "0123"]) {
        const err = await insertEvents(database, [{ ...eventRow("bad-key", 1), eventKey: bad }]).then(
          () => null,
          (e: Error) => e,
        );
        expect(err, bad).not.toBeNull();
      }
      expect(await storedEvents()).toHaveLength(1);
    });

    it("stores times before 2000 and after 2285 to the millisecond, and every number and flag as given", async () => {
      const times = [
        new Date("1969-12-31T23:59:59.999Z"),
        new Date("1999-12-31T23:59:59.001Z"),
        new Date("2000-01-01T00:00:00.000Z"),
        new Date("2286-11-20T17:46:40.123Z"),
        new Date("9999-12-31T23:59:59.998Z"),
      ];
      await insertEvents(
        database,
        times.map((ts, i) =>
          eventRow(`time-${i}`, i, {
            ts,
            receivedAt: new Date(ts.getTime() + 1),
            port: i === 0 ? 0 : 65_535,
            keepalive: i === 0 ? 0 : 2 ** 31 - 1,
            protocolVersion: i === 0 ? 3 : 5,
            cleanStart: i % 2 === 0,
            sessionSeconds: i === 0 ? 0 : i === 1 ? -1.25 : 1e-3 * (i + 1) + 86_400 * 365,
          }),
        ),
      );
      const stored = await storedEvents();
      expect(stored.map((r) => [r.ts.toISOString(), r.receivedAt.getTime() - r.ts.getTime()])).toEqual(
        times.map((ts) => [ts.toISOString(), 1]),
      );
      expect(stored.map((r) => [r.port, r.keepalive, r.protocolVersion, r.cleanStart, r.sessionSeconds])).toEqual([
        [0, 0, 3, true, 0],
        [65_535, 2 ** 31 - 1, 5, false, -1.25],
        ...[2, 3, 4].map((i) => [65_535, 2 ** 31 - 1, 5, i % 2 === 0, 1e-3 * (i + 1) + 86_400 * 365]),
      ]);
    });

    it("writes nothing of a large batch when one row in it is refused, so a retry cannot duplicate", async () => {
      // 2,000 rows go in one INSERT on PGlite; the bad row is in the third chunk.
      const rows = Array.from({ length: 4500 }, (_, i) => eventRow(`batch-${i}`, i));
      rows[4321] = eventRow("overflow", 4321, { keepalive: 2 ** 40 });
      const err = await insertEvents(database, rows).then(
        () => null,
        (e: Error) => e,
      );
      expect(err && databaseMessage(err)).toMatch(/out of range/);
      expect(await storedEvents()).toHaveLength(0);
    });

    it("writes a batch larger than one INSERT chunk (5,001 rows) completely, in order", async () => {
      const rows = Array.from({ length: 5001 }, (_, i) => eventRow(`bulk-${i}`, i));
      await insertEvents(database, rows);
      const stored = await storedEvents();
      expect(stored).toHaveLength(5001);
      expect(stored.map((r) => r.clientId)).toEqual(rows.map((r) => r.clientId));
    });
  });

  describe("insertSamples", () => {
    it("stores metric samples whose broker, node and labels hold hostile text exactly", async () => {
      const texts = Object.values(HOSTILE);
      const rows = texts.map((text, i) =>
        sampleRow(i, { broker: `b-${text}`, node: `n-${text}`, labels: { reason: text, [text]: "key" } }),
      );
      await insertSamples(database, rows);
      const stored = await database.db.select().from(metricSamples).orderBy(asc(metricSamples.ts));
      expect(stored).toHaveLength(texts.length);
      stored.forEach((row, i) => {
        expect(row.broker).toBe(`b-${texts[i]}`);
        expect(row.node).toBe(`n-${texts[i]}`);
        expect(row.labels).toEqual({ reason: texts[i], [texts[i]]: "key" });
        expect(row.value).toBe(i);
        expect(row.ts).toEqual(rows[i].ts);
      });
    });

    it("stores a sample whose node name and label contain NUL, with U+FFFD in their place", async () => {
      // A broker's node name reaches us from $SYS topics; jsonb refuses \u0000 outright.
      await insertSamples(database, [sampleRow(0, { node: "node\u0000x", labels: { client: "a\u0000b" } })]);
      const [row] = await database.db.select().from(metricSamples);
      expect(row.node).toBe("node\uFFFDx");
      expect(row.labels).toEqual({ client: "a\uFFFDb" });
    });

    it("keeps values exactly: doubles, negatives, zero, and the NaN and Infinity a rate can produce", async () => {
      const values = [0, -1.5, 0.1 + 0.2, 1e300, 123456789.123456, Number.NaN, Number.POSITIVE_INFINITY, -0.0000001];
      await insertSamples(
        database,
        values.map((value, i) => sampleRow(i, { value })),
      );
      const stored = await database.db.select().from(metricSamples).orderBy(asc(metricSamples.ts));
      expect(stored.map((r) => r.value)).toEqual(values);
    });
  });

  describe("insertUnparsed", () => {
    it("keeps an unrecognised log line verbatim, whatever it holds", async () => {
      const texts = [...Object.values(HOSTILE), LONG_ID];
      await insertUnparsed(
        database,
        texts.map((text, i) => ({
          receivedAt: new Date(BASE_TS.getTime() + i),
          broker: "plant-a",
          topic: `$SYS/broker/log/N/${i}`,
          raw: text,
          error: `no pattern matched: ${text.slice(0, 20)}`,
        })),
      );
      const stored = await database.db.select().from(unparsedRecords).orderBy(asc(unparsedRecords.id));
      expect(stored.map((r) => r.raw)).toEqual(texts);
    });

    it("keeps an unrecognised line containing NUL, with U+FFFD in its place", async () => {
      await insertUnparsed(database, [
        { receivedAt: BASE_TS, broker: "plant-a", topic: "log/\u0000", raw: "a\u0000b", error: "bad \u0000" },
      ]);
      const [row] = await database.db.select().from(unparsedRecords);
      expect(row).toMatchObject({ topic: "log/\uFFFD", raw: "a\uFFFDb", error: "bad \uFFFD" });
    });
  });

  describe("IngestWriter", () => {
    const quiet = () => {};

    it("starts writing a handed-over event within 250 ms, without waiting for a batch to fill", async () => {
      const writer = new IngestWriter(database, { log: quiet });
      writer.start();
      try {
        // hand over 20 ms into an interval, so the event waits most of it before the next tick
        await new Promise((r) => setTimeout(r, 20));
        const committed = new Promise<number>((resolve) => writer.once("written", () => resolve(Date.now())));
        const handedOver = Date.now();
        writer.enqueue({ events: [eventRow("quick-flush", 0)] });
        const committedAt = await committed;
        // what the writer controls is the wait before the write; the write's own duration is the database's
        const waited = committedAt - handedOver - writer.stats.lastFlushMs;
        expect(waited).toBeLessThanOrEqual(250 + 50);
        expect(await queryEvents(database.db, { clientId: "quick-flush", limit: 1 })).toHaveLength(1);
      } finally {
        await writer.stop();
      }
    });

    it("writes a burst in batches of batchSize, every row once and in order", async () => {
      const writer = new IngestWriter(database, { batchSize: 100, flushIntervalMs: 20, log: quiet });
      const batches: number[] = [];
      writer.on("written", ({ events }) => batches.push(events.length));
      writer.start();
      try {
        const rows = Array.from({ length: 250 }, (_, i) => eventRow(`burst-${i}`, i));
        writer.enqueue({ events: rows });
        await waitFor("250 events written", () => writer.stats.eventsWritten === 250, 30_000, 10);
        expect(batches).toEqual([100, 100, 50]);
        const stored = await storedEvents();
        expect(stored.map((r) => r.clientId)).toEqual(rows.map((r) => r.clientId));
      } finally {
        await writer.stop();
      }
    });

    for (const table of ["connection_events", "metric_samples", "unparsed_records"] as const) {
      it(`loses and duplicates nothing when writing ${table} fails once (a database blip mid-round)`, async () => {
        const broken = failingOnce(database, table);
        const lines: string[] = [];
        const writer = new IngestWriter(broken.database, { flushIntervalMs: 20, log: (l) => lines.push(l) });
        const events = Array.from({ length: 5 }, (_, i) => eventRow(`blip-${i}`, i));
        const samples = Array.from({ length: 4 }, (_, i) => sampleRow(i));
        const unparsed = [
          { receivedAt: BASE_TS, broker: "plant-a", topic: "log", raw: "?", error: "no pattern matched" },
        ];
        writer.enqueue({ events, samples, unparsed });
        writer.start();
        try {
          await waitFor(
            "every row written after the failure",
            () =>
              writer.stats.unparsedWritten >= 1 && writer.stats.samplesWritten >= 4 && writer.stats.eventsWritten >= 5,
            30_000,
            10,
          );
          await writer.stop(); // waits for a round still in flight
          expect(broken.state.failures).toBe(1);
          expect(writer.stats.writeErrors).toBe(1);
          expect(lines.some((l) => l.includes("failed, will retry") && l.includes("simulated outage"))).toBe(true);
          const stored = await storedEvents();
          expect(stored.map((r) => r.clientId)).toEqual(events.map((e) => e.clientId));
          const storedSamples = await database.db.select().from(metricSamples).orderBy(asc(metricSamples.ts));
          expect(storedSamples.map((s) => s.value)).toEqual([0, 1, 2, 3]);
          expect(await database.db.select().from(unparsedRecords)).toHaveLength(1);
          expect(writer.stats).toMatchObject({ eventsWritten: 5, samplesWritten: 4, unparsedWritten: 1 });
        } finally {
          await writer.stop();
        }
      });
    }

    it("keeps rows queued behind a failed write in their order when the retry succeeds", async () => {
      const broken = failingOnce(database, "connection_events");
      const writer = new IngestWriter(broken.database, { flushIntervalMs: 20, log: quiet });
      writer.enqueue({ events: [eventRow("first", 0), eventRow("second", 1)] });
      await writer.flush(); // fails, rows go back to the front
      expect(writer.queued).toBe(2);
      writer.enqueue({ events: [eventRow("third", 2)] });
      await writer.flush();
      expect((await storedEvents()).map((r) => r.clientId)).toEqual(["first", "second", "third"]);
      await writer.stop();
    });

    it("says full past maxQueued (once), and drained once the database has caught up to half", async () => {
      const writer = new IngestWriter(database, { maxQueued: 100, batchSize: 30, flushIntervalMs: 10, log: quiet });
      const signals: string[] = [];
      writer.on("full", () => signals.push(`full at ${writer.queued}`));
      writer.on("drained", () => signals.push(`drained at ${writer.queued}`));

      writer.enqueue({ events: Array.from({ length: 60 }, (_, i) => eventRow(`bp-${i}`, i)) });
      expect(writer.isFull).toBe(false);
      writer.enqueue({ samples: Array.from({ length: 50 }, (_, i) => sampleRow(i)) });
      expect(writer.isFull).toBe(true);
      writer.enqueue({ events: [eventRow("bp-late", 99)] });
      expect(signals).toEqual(["full at 110"]);

      writer.start();
      try {
        await waitFor("drained", () => !writer.isFull, 30_000, 5);
        expect(signals).toHaveLength(2);
        const drainedAt = Number(/drained at (\d+)/.exec(signals[1])![1]);
        expect(drainedAt).toBeLessThanOrEqual(50);
        await waitFor("everything written", () => writer.stats.eventsWritten === 61, 30_000, 5);
        expect(writer.stats.backpressureEpisodes).toBe(1);
        expect(await storedEvents()).toHaveLength(61);
      } finally {
        await writer.stop();
      }
    });

    it("writes what is still queued when it is stopped", async () => {
      const writer = new IngestWriter(database, { flushIntervalMs: 60_000, log: quiet });
      writer.start();
      writer.enqueue({ events: [eventRow("at-shutdown", 0)] });
      await writer.stop();
      expect((await storedEvents()).map((r) => r.clientId)).toEqual(["at-shutdown"]);
    });
  });
});
