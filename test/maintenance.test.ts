import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { asc } from "drizzle-orm";
import type { Db } from "@/db/client";
import { closeGap, openGap } from "@/db/gaps";
import { insertEvents, insertSamples, insertUnparsed, type EventRow, type SampleRow } from "@/db/ingest";
import { enforceRetention, rollUpSamples } from "@/db/maintenance";
import {
  collectorGaps,
  connectionEvents,
  metricRollups,
  metricSamples,
  serviceSettings,
  unparsedRecords,
} from "@/db/schema";
import { setSetting } from "@/db/settings";
import { freshDatabase, type TestDatabase } from "./helpers/db";
import { eventRow } from "./helpers/fixtures";

/**
 * The jobs that keep the database small enough to stay fast: one-minute rollups of raw
 * samples (what a 30-day dashboard reads), and retention that forgets only what is old enough.
 */
const MINUTE = 60_000;
const DAY = 86_400_000;
/** 10:00:00 UTC, the start of the first minute the samples below fall in */
const M0 = Date.parse("2026-03-01T10:00:00.000Z");

function sample(at: number, value: number, overrides: Partial<SampleRow> = {}): SampleRow {
  return {
    broker: "plant-a",
    node: "",
    metric: "mqtt_connections_current",
    labels: {},
    ts: new Date(at),
    value,
    ...overrides,
  };
}

function event(at: number, clientId: string): EventRow {
  return eventRow({
    ts: new Date(at),
    clientId,
    type: "disconnected",
    reason: "normal",
    protocolVersion: 4,
    cleanStart: true,
    keepalive: 60,
    sessionSeconds: 1,
    raw: "{}",
  });
}

describe(`maintenance on ${process.env.DATABASE_URL ? "Postgres" : "PGlite"}`, () => {
  let t: TestDatabase;
  let db: Db;

  beforeAll(async () => {
    t = await freshDatabase();
    db = t.database.db;
  });
  afterAll(async () => {
    await t?.drop();
  });
  beforeEach(async () => {
    for (const table of [metricSamples, metricRollups, connectionEvents, unparsedRecords, collectorGaps]) {
      await db.delete(table);
    }
    await db.delete(serviceSettings);
  });

  async function rollups() {
    const rows = await db
      .select()
      .from(metricRollups)
      .orderBy(asc(metricRollups.bucket), asc(metricRollups.metric), asc(metricRollups.node));
    return rows.map((r) => ({ ...r, bucket: r.bucket.toISOString() }));
  }

  describe("rollUpSamples", () => {
    it("folds each finished minute of each series into min, max, avg, last and count", async () => {
      await insertSamples(t.database, [
        // minute 0, inserted out of order: `last` is the latest by time, not by arrival
        sample(M0 + 40_000, 2),
        sample(M0 + 10_000, 3),
        sample(M0 + 20_000, 1),
        // minute 0, another node of the same broker: its own series
        sample(M0 + 15_000, 100, { node: "emqx@10.0.0.2" }),
        // minute 0, another metric with a label: its own series
        sample(M0 + 5_000, 4, { metric: "mqtt_disconnects_per_minute", labels: { reason: "keepalive_timeout" } }),
        sample(M0 + 35_000, 6, { metric: "mqtt_disconnects_per_minute", labels: { reason: "keepalive_timeout" } }),
        sample(M0 + 35_000, 9, { metric: "mqtt_disconnects_per_minute", labels: { reason: "tcp_closed" } }),
        // minute 1
        sample(M0 + MINUTE + 59_999, 7),
      ]);

      // two minutes later: minute 0 and minute 1 are both complete
      const window = await rollUpSamples(db, M0 + 3 * MINUTE + 30_000);
      expect(window?.to.toISOString()).toBe(new Date(M0 + 2 * MINUTE).toISOString());

      const m0 = new Date(M0).toISOString();
      const m1 = new Date(M0 + MINUTE).toISOString();
      const rows = await rollups();
      expect(rows).toHaveLength(5);
      expect(rows).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            bucket: m0,
            metric: "mqtt_connections_current",
            node: "",
            labels: {},
            min: 1,
            max: 3,
            avg: 2,
            last: 2,
            count: 3,
          }),
          expect.objectContaining({ bucket: m0, node: "emqx@10.0.0.2", min: 100, max: 100, last: 100, count: 1 }),
          expect.objectContaining({
            bucket: m0,
            metric: "mqtt_disconnects_per_minute",
            labels: { reason: "keepalive_timeout" },
            min: 4,
            max: 6,
            avg: 5,
            last: 6,
            count: 2,
          }),
          expect.objectContaining({
            bucket: m0,
            metric: "mqtt_disconnects_per_minute",
            labels: { reason: "tcp_closed" },
            count: 1,
            last: 9,
          }),
          expect.objectContaining({ bucket: m1, metric: "mqtt_connections_current", min: 7, max: 7, count: 1 }),
        ]),
      );
    });

    it("leaves the current minute and the one before it alone, since late samples may still arrive", async () => {
      const now = M0 + 2 * MINUTE + 10_000;
      await insertSamples(t.database, [sample(M0 + 30_000, 1), sample(M0 + MINUTE + 30_000, 2), sample(now - 1000, 3)]);
      await rollUpSamples(db, now);
      expect((await rollups()).map((r) => r.bucket)).toEqual([new Date(M0).toISOString()]);

      // a late sample for minute 1 arrives before the next run, and is counted
      await insertSamples(t.database, [sample(M0 + MINUTE + 50_000, 4)]);
      await rollUpSamples(db, now + MINUTE);
      const minute1 = (await rollups()).find((r) => r.bucket === new Date(M0 + MINUTE).toISOString());
      expect(minute1).toMatchObject({ min: 2, max: 4, last: 4, count: 2 });
    });

    it("is idempotent: running it again, even over minutes already rolled up, changes nothing", async () => {
      await insertSamples(t.database, [sample(M0 + 1000, 5), sample(M0 + 2000, 15), sample(M0 + MINUTE + 1, 8)]);
      const now = M0 + 3 * MINUTE;
      await rollUpSamples(db, now);
      const first = await rollups();
      expect(first).toHaveLength(2);

      // same moment: nothing left to do
      expect(await rollUpSamples(db, now)).toBeNull();
      // a restart that lost the watermark re-runs the same minutes: replaced, not doubled
      await setSetting(db, "rollup_watermark", new Date(M0 - 10 * MINUTE).toISOString());
      await rollUpSamples(db, now);
      expect(await rollups()).toEqual(first);
    });

    it("picks up where it stopped: minutes finished while the service was down are rolled up on the next run", async () => {
      await insertSamples(
        t.database,
        Array.from({ length: 30 }, (_, i) => sample(M0 + i * MINUTE + 1000, i)),
      );
      await rollUpSamples(db, M0 + 5 * MINUTE);
      expect(await rollups()).toHaveLength(4);
      await rollUpSamples(db, M0 + 31 * MINUTE);
      const rows = await rollups();
      expect(rows).toHaveLength(30);
      expect(rows.map((r) => r.last)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    });
  });

  describe("enforceRetention", () => {
    const NOW = Date.parse("2026-06-01T00:00:00.000Z");
    const retention = { rawSamplesSeconds: 7 * 86_400, rollupsSeconds: 400 * 86_400, eventsSeconds: 90 * 86_400 };

    it("deletes samples, rollups, events, unparsed lines and closed gaps past their retention, and keeps the rest", async () => {
      const justOld = (days: number) => NOW - days * DAY - 1000;
      const justNew = (days: number) => NOW - days * DAY + 1000;

      await insertSamples(t.database, [sample(justOld(7), 1), sample(justNew(7), 2)]);
      await db.insert(metricRollups).values(
        [justOld(400), justNew(400)].map((at, i) => ({
          broker: "plant-a",
          metric: "mqtt_connections_current",
          bucket: new Date(at),
          min: i,
          max: i,
          avg: i,
          last: i,
          count: 1,
        })),
      );
      await insertEvents(t.database, [event(justOld(90), "old-device"), event(justNew(90), "new-device")]);
      await insertUnparsed(t.database, [
        { receivedAt: new Date(justOld(90)), broker: "plant-a", topic: "log", raw: "old line", error: "?" },
        { receivedAt: new Date(justNew(90)), broker: "plant-a", topic: "log", raw: "new line", error: "?" },
      ]);
      // an old closed gap, a recent closed gap, and a gap that began long ago and is still open
      await openGap(db, "plant-a", new Date(justOld(91)), "connection lost");
      await closeGap(db, "plant-a", new Date(justOld(90)));
      await openGap(db, "plant-a", new Date(justNew(90)), "connection lost");
      await closeGap(db, "plant-a", new Date(justNew(89)));
      await openGap(db, "plant-b", new Date(justOld(200)), "brokerwatch was not running");

      await enforceRetention(db, retention, NOW);

      expect((await db.select().from(metricSamples)).map((s) => s.value)).toEqual([2]);
      expect((await db.select().from(metricRollups)).map((r) => r.last)).toEqual([1]);
      expect((await db.select().from(connectionEvents)).map((e) => e.clientId)).toEqual(["new-device"]);
      expect((await db.select().from(unparsedRecords)).map((u) => u.raw)).toEqual(["new line"]);
      const gaps = await db.select().from(collectorGaps).orderBy(asc(collectorGaps.startedAt));
      expect(gaps.map((g) => [g.broker, g.endedAt?.toISOString() ?? null])).toEqual([
        // still open: the broker has not been seen since, which is exactly what an operator must know
        ["plant-b", null],
        ["plant-a", new Date(justNew(89)).toISOString()],
      ]);
    });

    it("keeps raw samples for their own (shorter) retention independently of events", async () => {
      await insertSamples(t.database, [sample(NOW - 2 * DAY, 1)]);
      await insertEvents(t.database, [event(NOW - 2 * DAY, "device")]);
      await enforceRetention(db, { ...retention, rawSamplesSeconds: 86_400 }, NOW);
      expect(await db.select().from(metricSamples)).toHaveLength(0);
      expect(await db.select().from(connectionEvents)).toHaveLength(1);
    });
  });
});
