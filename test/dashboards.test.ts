import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  chartSeries,
  downsample,
  openGaps,
  sumNodes,
  topDisconnectingClients,
  topDisconnectReasons,
} from "@/db/dashboards";
import type { DisconnectReason } from "@/lib/events";
import { insertEvents, insertSamples, type EventRow, type SampleRow } from "@/db/ingest";
import { rollUpSamples } from "@/db/maintenance";
import { and, eq, lt } from "drizzle-orm";
import { collectorGaps, metricRollups, metricSamples } from "@/db/schema";
import { setSetting } from "@/db/settings";
import { freshDatabase, type TestDatabase } from "./helpers/db";

const MIN = 60_000;
const HOUR = 60 * MIN;
/** half a minute past a whole minute, so "the current minute" is not yet rolled up */
const NOW = Date.UTC(2026, 10, 23, 12, 0, 30);
const at = (msAgo: number) => new Date(NOW - msAgo);

function sample(
  broker: string,
  metric: string,
  msAgo: number,
  value: number,
  extra: Partial<SampleRow> = {},
): SampleRow {
  return { broker, node: "", metric, labels: {}, ts: at(msAgo), value, ...extra };
}

function disconnect(broker: string, clientId: string | null, reason: DisconnectReason | null, msAgo: number): EventRow {
  return {
    ts: at(msAgo),
    receivedAt: at(msAgo),
    broker,
    node: null,
    clientId,
    type: "disconnected",
    reason,
    address: "10.0.0.9",
    port: 50123,
    username: null,
    protocolVersion: 4,
    cleanStart: true,
    keepalive: 60,
    sessionSeconds: 12,
    raw: "test",
  };
}

describe("dashboard queries", () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await freshDatabase();
  });
  afterAll(async () => {
    await t?.drop();
  });

  describe("chart series from raw samples (15 min, 1 h)", () => {
    beforeAll(async () => {
      const rows: SampleRow[] = [];
      for (let s = 0; s < 15 * 60; s += 10) rows.push(sample("raw-a", "mqtt_connections_current", s * 1000, 100 + s));
      // labelled samples are other series (disconnects by reason), another broker is another chart
      rows.push(sample("raw-a", "mqtt_connections_current", 5000, 999_999, { labels: { reason: "normal" } }));
      rows.push(sample("raw-b", "mqtt_connections_current", 5000, 777));
      // outside the window
      rows.push(sample("raw-a", "mqtt_connections_current", 20 * MIN, 555));
      await insertSamples(t.database, rows);
    });

    it("returns the samples as stored, oldest first, only this broker's unlabelled gauge", async () => {
      const data = await chartSeries(t.database.db, {
        broker: "raw-a",
        metrics: ["mqtt_connections_current", "mqtt_queued_messages"],
        from: at(15 * MIN),
        to: at(0),
        source: { kind: "raw" },
      });
      const points = data.series.mqtt_connections_current;
      expect(data.resolution).toBe("raw");
      expect(points).toHaveLength(90);
      expect(points[0]).toEqual([NOW - 890_000, 990]);
      expect(points.at(-1)).toEqual([NOW, 100]);
      expect(points.map(([, v]) => v)).not.toContain(999_999);
      expect(points.map(([, v]) => v)).not.toContain(777);
      expect(points.map(([, v]) => v)).not.toContain(555);
      // a metric the broker does not report is an empty series, not zeros
      expect(data.series.mqtt_queued_messages).toEqual([]);
    });

    it("averages very dense raw data down to at most maxPoints", async () => {
      const data = await chartSeries(t.database.db, {
        broker: "raw-a",
        metrics: ["mqtt_connections_current"],
        from: at(15 * MIN),
        to: at(0),
        source: { kind: "raw", maxPoints: 30 },
      });
      const points = data.series.mqtt_connections_current;
      expect(points.length).toBeLessThanOrEqual(31);
      expect(points.length).toBeGreaterThanOrEqual(29);
      // the average of 3 consecutive samples stays within the data's range
      for (const [, v] of points) expect(v).toBeGreaterThanOrEqual(100);
    });

    it("sums the nodes of a clustered broker that publish at different instants", async () => {
      await insertSamples(t.database, [
        sample("emqx", "mqtt_connections_current", 50_000, 10, { node: "emqx@a" }),
        sample("emqx", "mqtt_connections_current", 40_000, 20, { node: "emqx@b" }),
        sample("emqx", "mqtt_connections_current", 10_000, 11, { node: "emqx@a" }),
        sample("emqx", "mqtt_connections_current", 0, 25, { node: "emqx@b" }),
      ]);
      const data = await chartSeries(t.database.db, {
        broker: "emqx",
        metrics: ["mqtt_connections_current"],
        from: at(HOUR),
        to: at(0),
        source: { kind: "raw" },
      });
      expect(data.series.mqtt_connections_current).toEqual([
        [NOW - 50_000, 10],
        [NOW - 40_000, 30],
        [NOW - 10_000, 31],
        [NOW, 36],
      ]);
    });
  });

  describe("chart series from rollups (24 h, 7 d)", () => {
    it("reads the 1-minute rollups, and fills the minutes after the newest rollup from raw samples", async () => {
      const db = t.database.db;
      // Rollups for 3 h up to 10 minutes ago hold 50; raw samples for the whole time hold 7. A chart
      // reading rollups shows 50 where they exist and 7 only after the newest one.
      const rollups = [];
      for (let m = 180; m > 10; m--) {
        const bucket = new Date(Math.floor((NOW - m * MIN) / MIN) * MIN);
        rollups.push({
          broker: "roll",
          metric: "mqtt_queued_messages",
          bucket,
          min: 50,
          max: 50,
          avg: 50,
          last: 50,
          count: 6,
        });
      }
      await db.insert(metricRollups).values(rollups);
      const raw: SampleRow[] = [];
      for (let s = 0; s < 3 * 3600; s += 10) raw.push(sample("roll", "mqtt_queued_messages", s * 1000, 7));
      await insertSamples(t.database, raw);

      const data = await chartSeries(db, {
        broker: "roll",
        metrics: ["mqtt_queued_messages"],
        from: at(24 * HOUR),
        to: at(0),
        source: { kind: "rollup", stepMs: MIN },
      });
      const points = data.series.mqtt_queued_messages;
      expect(data.resolution).toBe("1m");
      const newestRollup = Math.floor((NOW - 11 * MIN) / MIN) * MIN;
      expect(points.filter(([t]) => t <= newestRollup).every(([, v]) => v === 50)).toBe(true);
      expect(points.filter(([t]) => t > newestRollup).every(([, v]) => v === 7)).toBe(true);
      expect(points.filter(([t]) => t <= newestRollup)).toHaveLength(170);
      // the tail reaches the current minute: the chart ends at "now"
      expect(points.at(-1)![0]).toBe(Math.floor(NOW / MIN) * MIN);
      // every point sits on a whole minute
      expect(points.every(([t]) => t % MIN === 0)).toBe(true);
    });

    it("buckets rollups into longer steps weighted by how many samples each minute holds", async () => {
      const db = t.database.db;
      const base = Math.floor((NOW - 2 * HOUR) / (5 * MIN)) * 5 * MIN;
      await db.insert(metricRollups).values([
        {
          broker: "weighted",
          metric: "mqtt_connections_current",
          bucket: new Date(base),
          min: 10,
          max: 10,
          avg: 10,
          last: 10,
          count: 1,
        },
        {
          broker: "weighted",
          metric: "mqtt_connections_current",
          bucket: new Date(base + MIN),
          min: 20,
          max: 20,
          avg: 20,
          last: 20,
          count: 3,
        },
        {
          broker: "weighted",
          metric: "mqtt_connections_current",
          bucket: new Date(base + 5 * MIN),
          min: 4,
          max: 4,
          avg: 4,
          last: 4,
          count: 2,
        },
      ]);
      const data = await chartSeries(db, {
        broker: "weighted",
        metrics: ["mqtt_connections_current"],
        from: at(7 * 24 * HOUR),
        to: at(0),
        source: { kind: "rollup", stepMs: 5 * MIN },
      });
      expect(data.resolution).toBe("5m");
      expect(data.series.mqtt_connections_current).toEqual([
        [base, (10 * 1 + 20 * 3) / 4],
        [base + 5 * MIN, 4],
      ]);
    });

    it("shows what the rollup job wrote: the per-minute averages of the raw samples", async () => {
      const db = t.database.db;
      const minuteOf = (ms: number) => Math.floor(ms / MIN) * MIN;
      // 30 minutes of samples every 15 s; each holds its minute's offset from now, so every minute averages to it
      const raw: SampleRow[] = [];
      for (let s = 30_000; s < 30 * MIN; s += 15_000)
        raw.push(sample("job", "mqtt_memory_bytes", s, (minuteOf(NOW - s) - minuteOf(NOW)) / MIN));
      await insertSamples(t.database, raw);
      await setSetting(db, "rollup_watermark", new Date(NOW - 2 * HOUR).toISOString());
      const rolled = await rollUpSamples(db, NOW);
      // The job stops at the minute before the current one; drop the raw samples it covered, so
      // what the chart shows for those minutes can only come from the rollups.
      await db.delete(metricSamples).where(and(eq(metricSamples.broker, "job"), lt(metricSamples.ts, rolled!.to)));
      const points = (
        await chartSeries(db, {
          broker: "job",
          metrics: ["mqtt_memory_bytes"],
          from: at(24 * HOUR),
          to: at(0),
          source: { kind: "rollup", stepMs: MIN },
        })
      ).series.mqtt_memory_bytes;
      const first = minuteOf(NOW - 30 * MIN + 15_000);
      expect(points).toEqual(
        Array.from({ length: (minuteOf(NOW) - first) / MIN + 1 }, (_, i) => [
          first + i * MIN,
          (first - minuteOf(NOW)) / MIN + i,
        ]),
      );
    });
  });

  describe("collector gaps", () => {
    it("returns the gaps overlapping the window, oldest first, an open one with no end", async () => {
      await t.database.db.insert(collectorGaps).values([
        { broker: "gappy", startedAt: at(3 * HOUR), endedAt: at(2 * HOUR), reason: "too old" },
        { broker: "gappy", startedAt: at(20 * MIN), endedAt: at(14 * MIN), reason: "connection lost: ECONNREFUSED" },
        { broker: "gappy", startedAt: at(2 * MIN), endedAt: null, reason: "heartbeat stale" },
        { broker: "other", startedAt: at(5 * MIN), endedAt: null, reason: "not this broker" },
      ]);
      const data = await chartSeries(t.database.db, {
        broker: "gappy",
        metrics: ["mqtt_connections_current"],
        from: at(15 * MIN),
        to: at(0),
        source: { kind: "raw" },
      });
      expect(data.gaps).toEqual([
        { start: NOW - 20 * MIN, end: NOW - 14 * MIN, reason: "connection lost: ECONNREFUSED" },
        { start: NOW - 2 * MIN, end: null, reason: "heartbeat stale" },
      ]);
      const open = await openGaps(t.database.db);
      expect(open.get("gappy")).toMatchObject({ reason: "heartbeat stale", startedAt: at(2 * MIN) });
      expect(open.get("other")?.reason).toBe("not this broker");
    });
  });

  describe("who disconnects and why", () => {
    const hostile = `sensor "7" <b>bold</b> ' ; drop table x; -- 🚀`;
    beforeAll(async () => {
      await insertEvents(t.database, [
        // last hour
        disconnect("plant", "flappy", "keepalive_timeout", 5 * MIN),
        disconnect("plant", "flappy", "keepalive_timeout", 10 * MIN),
        disconnect("plant", "flappy", "takenover", 2 * MIN),
        disconnect("plant", hostile, "not_authorized", 20 * MIN),
        disconnect("plant", null, null, 30 * MIN),
        // earlier today
        disconnect("plant", "nightly", "normal", 5 * HOUR),
        disconnect("plant", "nightly", "normal", 6 * HOUR),
        disconnect("plant", "nightly", "normal", 7 * HOUR),
        disconnect("plant", "nightly", "normal", 8 * HOUR),
        // yesterday: outside both windows
        disconnect("plant", "ancient", "normal", 30 * HOUR),
        // another broker
        disconnect("elsewhere", "flappy", "kicked", MIN),
        // a connect is not a disconnect
        { ...disconnect("plant", "flappy", null, 3 * MIN), type: "connected" },
      ]);
    });

    it("ranks disconnect reasons over the last hour and the last day", async () => {
      const db = t.database.db;
      const hour = await topDisconnectReasons(db, { broker: "plant", from: at(HOUR), to: at(0) });
      expect(hour).toEqual([
        { reason: "keepalive_timeout", count: 2 },
        { reason: "not_authorized", count: 1 },
        { reason: "takenover", count: 1 },
        { reason: "unknown", count: 1 },
      ]);
      const day = await topDisconnectReasons(db, { broker: "plant", from: at(24 * HOUR), to: at(0) });
      expect(day[0]).toEqual({ reason: "normal", count: 4 });
      expect(day.reduce((sum, r) => sum + r.count, 0)).toBe(9);
    });

    it("ranks the clients that disconnect most, with their latest reason, ClientIDs byte for byte", async () => {
      const db = t.database.db;
      const hour = await topDisconnectingClients(db, { broker: "plant", from: at(HOUR), to: at(0) });
      expect(hour).toEqual([
        { clientId: "flappy", count: 3, lastAt: at(2 * MIN), lastReason: "takenover" },
        { clientId: hostile, count: 1, lastAt: at(20 * MIN), lastReason: "not_authorized" },
      ]);
      const day = await topDisconnectingClients(db, { broker: "plant", from: at(24 * HOUR), to: at(0), limit: 1 });
      expect(day).toEqual([{ clientId: "nightly", count: 4, lastAt: at(5 * HOUR), lastReason: "normal" }]);
    });
  });
});

describe("pure helpers", () => {
  it("drops a node from the broker total once its last value is stale", () => {
    expect(
      sumNodes(
        [
          { node: "a", t: 0, v: 5 },
          { node: "b", t: 0, v: 7 },
          { node: "a", t: 1000, v: 6 },
          { node: "a", t: 5000, v: 8 },
        ],
        2000,
      ),
    ).toEqual([
      [0, 12],
      [1000, 13],
      [5000, 8],
    ]);
  });

  it("leaves sparse data alone and averages dense data into equal buckets", () => {
    const sparse: [number, number][] = [
      [0, 1],
      [10, 2],
    ];
    expect(downsample(sparse, 0, 100, 10)).toBe(sparse);
    const dense: [number, number][] = Array.from({ length: 100 }, (_, i) => [i, i]);
    expect(downsample(dense, 0, 100, 10)).toEqual(Array.from({ length: 10 }, (_, b) => [b * 10, b * 10 + 4.5]));
  });
});
