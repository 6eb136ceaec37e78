import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { MIGRATIONS_FOLDER, openDatabase, queryRows, type Database } from "@/db/client";
import { insertEvents, insertSamples, type EventRow } from "@/db/ingest";
import { enforceRetention } from "@/db/maintenance";
import { DAY_MS, DAYS_AHEAD, dayStart, dropBefore, ensurePartitions, listPartitions, partitionName } from "@/db/partitions";
import { createServerDatabase } from "./helpers/db";
import { pgliteFromTemplate } from "./helpers/pglite-template";
import { eventRow } from "./helpers/fixtures";

/**
 * A fleet writes millions of events a day: history lives in one partition per UTC day, retention
 * drops whole days, and a database created by the previous schema is migrated in place.
 */
const backends: ("pglite" | "postgres")[] = process.env.DATABASE_URL ? ["pglite", "postgres"] : ["pglite"];

/** The migration that introduced partitioning: everything before it is "the previous schema". */
const PARTITIONS_TAG = "0012_partitions";

async function open(backend: "pglite" | "postgres"): Promise<{ database: Database; drop(): Promise<void> }> {
  if (backend === "pglite") {
    const database = await pgliteFromTemplate("empty");
    return { database, drop: () => database.close() };
  }
  const server = await createServerDatabase();
  const database = await openDatabase({ url: server.url, max: 4 });
  return {
    database,
    async drop() {
      await database.close();
      await server.drop();
    },
  };
}

/** Apply the migrations of `folder` with drizzle's migrator for the backend. */
async function migrateFrom(database: Database, folder: string): Promise<void> {
  if (database.kind === "postgres") {
    const { migrate } = await import("drizzle-orm/postgres-js/migrator");
    await migrate(database.db as never, { migrationsFolder: folder });
  } else {
    const { migrate } = await import("drizzle-orm/pglite/migrator");
    await migrate(database.db as never, { migrationsFolder: folder });
  }
}

/** A copy of drizzle/ whose journal stops before `tag`. */
async function migrationsBefore(tag: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "bw-migrations-"));
  await cp(MIGRATIONS_FOLDER, dir, { recursive: true });
  const journalPath = path.join(dir, "meta", "_journal.json");
  const journal = JSON.parse(await readFile(journalPath, "utf8")) as { entries: { tag: string; idx: number }[] };
  const stop = journal.entries.findIndex((e) => e.tag === tag);
  expect(stop).toBeGreaterThan(0);
  journal.entries = journal.entries.slice(0, stop);
  await writeFile(journalPath, JSON.stringify(journal));
  return dir;
}

function event(at: number, clientId: string, raw = `${clientId} at ${at}`): EventRow {
  return eventRow({
    ts: new Date(at),
    clientId,
    type: "connected",
    address: "10.0.0.7",
    port: 51234,
    protocolVersion: 5,
    cleanStart: true,
    keepalive: 60,
    raw,
  });
}

async function rowsIn(database: Database, table: string): Promise<number> {
  const [row] = await queryRows<{ n: number }>(database.db, sql.raw(`select count(*)::int as n from ${table}`));
  return row.n;
}

describe.each(backends)("partitioned history on %s", (backend) => {
  describe("migrating a database created by the previous schema", () => {
    let database: Database;
    let drop: () => Promise<void>;
    let oldFolder: string;
    const T0 = Date.parse("2026-02-10T23:59:59.500Z");

    beforeAll(async () => {
      ({ database, drop } = await open(backend));
      oldFolder = await migrationsBefore(PARTITIONS_TAG);
      await migrateFrom(database, oldFolder);
      // rows as the previous release wrote them: one table, ids from its sequence
      await insertEvents(database, [event(T0, "sensor-1"), event(T0 + 1000, "sensor-2"), event(T0 + 3 * DAY_MS, "sensor-3")]);
      await insertSamples(database, [
        { broker: "plant-a", node: "", metric: "mqtt_connections_current", labels: {}, ts: new Date(T0), value: 7 },
      ]);
      await migrateFrom(database, MIGRATIONS_FOLDER);
    });
    afterAll(async () => {
      await drop?.();
      await rm(oldFolder, { recursive: true, force: true });
    });

    it("keeps every old row, its id and its identity, each in the partition of its day", async () => {
      const [{ kind }] = await queryRows<{ kind: string }>(
        database.db,
        sql`select relkind::text as kind from pg_class where relname = 'connection_events'`,
      );
      expect(kind).toBe("p");
      const rows = await queryRows<{ id: number; client_id: string; part: string }>(
        database.db,
        sql`select id::int as id, client_id, tableoid::regclass::text as part from connection_events order by id`,
      );
      expect(rows).toEqual([
        { id: 1, client_id: "sensor-1", part: "connection_events_p20260210" },
        { id: 2, client_id: "sensor-2", part: "connection_events_p20260211" },
        { id: 3, client_id: "sensor-3", part: "connection_events_p20260213" },
      ]);
      const samples = await queryRows<{ value: number; part: string }>(
        database.db,
        sql`select value, tableoid::regclass::text as part from metric_samples`,
      );
      expect(samples).toEqual([{ value: 7, part: "metric_samples_p20260210" }]);
      // the days in between and the days ahead of now exist too; no row was left in DEFAULT
      const days = (await listPartitions(database.db, "connection_events")).map((p) => p.name);
      expect(days).toContain("connection_events_p20260212");
      expect(days).toContain(partitionName("connection_events", Date.now() + DAYS_AHEAD * DAY_MS));
      expect(await rowsIn(database, "connection_events_default")).toBe(0);
    });

    it("keeps the id sequence and the exactly-once identity across the migration", async () => {
      // a redelivery of an old event is still recognised as a copy; a new one gets the next id
      expect(await insertEvents(database, [event(T0, "sensor-1")])).toBe(0);
      expect(await insertEvents(database, [event(T0 + 5000, "sensor-4")])).toBe(1);
      const [last] = await queryRows<{ id: number }>(
        database.db,
        sql`select id::int as id from connection_events where client_id = 'sensor-4'`,
      );
      // above every old id (the refused copy may have used one value of the sequence)
      expect(last.id).toBeGreaterThan(3);
    });

    it("leaves nothing for drizzle-kit to diff: indexes are defined on the parent and exist on every partition", async () => {
      const indexes = await queryRows<{ name: string }>(
        database.db,
        sql`select indexname as name from pg_indexes where tablename = 'connection_events' order by 1`,
      );
      expect(indexes.map((i) => i.name)).toEqual([
        "connection_events_broker_ts",
        "connection_events_client_key_ts",
        "connection_events_identity",
        "connection_events_pkey",
        "connection_events_reason_ts",
      ]);
      const perPartition = await queryRows<{ def: string }>(
        database.db,
        sql`select indexdef as def from pg_indexes where tablename = 'connection_events_p20260210'`,
      );
      expect(perPartition).toHaveLength(5);
      const defs = perPartition.map((i) => i.def).join("\n");
      // one ClientID index (on the bounded key, drizzle/0014) serves both the history (=, then ts, id) and the prefix search (LIKE 'x%')
      expect(defs).toMatch(/left"\(client_id, 225\) \|\| md5\(client_id\)\)\s+END\) text_pattern_ops, ts, id\)/);
      // the primary key is the (ts, id) index of the unfiltered pages and retention
      expect(defs).toMatch(/_pkey ON .* \(ts, id\)/);
    });
  });

  describe("partitions ahead, stragglers and retention by partition", () => {
    let database: Database;
    let drop: () => Promise<void>;
    const NOW = Date.parse("2026-06-01T12:00:00.000Z");
    const RETENTION = { rawSamplesSeconds: 7 * 86_400, rollupsSeconds: 400 * 86_400, eventsSeconds: 90 * 86_400 };
    const cutoff = NOW - RETENTION.eventsSeconds * 1000;

    beforeAll(async () => {
      ({ database, drop } = await open(backend));
      await migrateFrom(database, MIGRATIONS_FOLDER);
    });
    afterAll(async () => {
      await drop?.();
    });

    it("catches a row for a day without a partition in DEFAULT, then moves it into that day's new partition", async () => {
      const longAgo = Date.parse("2025-01-15T08:00:00.000Z");
      await insertEvents(database, [event(longAgo, "replayed")]);
      expect(await rowsIn(database, "connection_events_default")).toBe(1);
      const created = await ensurePartitions(database.db, "connection_events", NOW);
      expect(created).toContain("connection_events_p20250115");
      expect(await rowsIn(database, "connection_events_default")).toBe(0);
      expect(await rowsIn(database, "connection_events_p20250115")).toBe(1);
      for (let i = 0; i <= DAYS_AHEAD; i++) expect(created).toContain(partitionName("connection_events", NOW + i * DAY_MS));
      // running it again changes nothing
      expect(await ensurePartitions(database.db, "connection_events", NOW)).toEqual([]);
    });

    it("drops whole days past retention, trims the edge day exactly at the boundary, and creates days ahead", async () => {
      const rows: EventRow[] = [];
      for (let day = 95; day >= 0; day -= 1) rows.push(event(NOW - day * DAY_MS, `device-${day}`));
      rows.push(event(cutoff - 1000, "just-old"), event(cutoff + 1000, "just-new"));
      await insertEvents(database, rows);
      await ensurePartitions(database.db, "connection_events", NOW);
      const edgeDay = partitionName("connection_events", cutoff);
      const before = (await listPartitions(database.db, "connection_events")).map((p) => p.name);
      expect(before).toContain(partitionName("connection_events", cutoff - 2 * DAY_MS));

      await enforceRetention(database.db, RETENTION, NOW);

      const after = await listPartitions(database.db, "connection_events");
      // nothing older than the edge day is left as a partition; the edge day is kept, trimmed
      expect(after[0].name).toBe(edgeDay);
      expect(after.every((p) => p.day >= dayStart(cutoff))).toBe(true);
      const clients = await queryRows<{ client_id: string }>(
        database.db,
        sql`select client_id from connection_events where ts < ${new Date(cutoff + DAY_MS).toISOString()}::timestamptz order by ts`,
      );
      expect(clients.map((c) => c.client_id)).toEqual(
        rows
          .filter((r) => r.ts.getTime() >= cutoff && r.ts.getTime() < cutoff + DAY_MS)
          .sort((a, b) => a.ts.getTime() - b.ts.getTime())
          .map((r) => r.clientId),
      );
      expect(clients.map((c) => c.client_id)).toContain("just-new");
      expect(clients.map((c) => c.client_id)).not.toContain("just-old");
      expect(after.map((p) => p.name)).toContain(partitionName("connection_events", NOW + DAYS_AHEAD * DAY_MS));
      expect(await rowsIn(database, "connection_events")).toBe(91 + 1);
    });

    it("drops sample partitions by their own, shorter retention", async () => {
      await insertSamples(
        database,
        [10, 8, 7, 6, 1].map((days) => ({
          broker: "plant-a",
          node: "",
          metric: "mqtt_connections_current",
          labels: {},
          ts: new Date(NOW - days * DAY_MS),
          value: days,
        })),
      );
      await enforceRetention(database.db, RETENTION, NOW);
      const values = await queryRows<{ value: number }>(database.db, sql`select value from metric_samples order by value`);
      // 7 days old exactly is on the boundary: kept
      expect(values.map((v) => v.value)).toEqual([1, 6, 7]);
      const days = await listPartitions(database.db, "metric_samples");
      expect(days.every((p) => p.day >= dayStart(NOW - 7 * DAY_MS))).toBe(true);
    });

    it("trims a straggler that reached DEFAULT after the partitions were kept, and the edge day, nothing else", async () => {
      // a replayed line for a day that has no partition lands in DEFAULT until the next maintenance run
      const straggler = NOW - 200 * DAY_MS;
      await insertEvents(database, [event(straggler, "late-replay")]);
      expect(await rowsIn(database, "connection_events_default")).toBe(1);
      const edge = NOW - 3.5 * DAY_MS;
      const kept = await rowsIn(database, "connection_events");
      const older = (
        await queryRows<{ n: number }>(
          database.db,
          sql`select count(*)::int as n from connection_events where ts < ${new Date(edge).toISOString()}::timestamptz`,
        )
      )[0].n;
      await dropBefore(database.db, "connection_events", new Date(edge));
      expect(await rowsIn(database, "connection_events_default")).toBe(0);
      expect(await rowsIn(database, "connection_events")).toBe(kept - older);
      const [{ oldest }] = await queryRows<{ oldest: number }>(
        database.db,
        sql`select (extract(epoch from min(ts)) * 1000)::float8 as oldest from connection_events`,
      );
      expect(Number(oldest)).toBeGreaterThanOrEqual(edge);
    });
  });
});
