import { afterAll, beforeAll, describe, expect, it } from "vitest";
import postgres from "postgres";
import { drizzle } from "drizzle-orm/postgres-js";
import { sql } from "drizzle-orm";
import { migrateDatabase, openDatabase, type Database, type Db } from "@/db/client";
import { queryEvents } from "@/db/events";
import { clientHistory, searchClients } from "@/db/clients";
import { clientsConnectedAt } from "@/db/incidents";
import { DAY_MS, ensurePartitions, partitionName } from "@/db/partitions";
import * as schema from "@/db/schema";
import { createServerDatabase } from "../helpers/db";

/**
 * At fleet size the history is hundreds of daily partitions: a query for a bounded time range must
 * read only the partitions in range, through their indexes, and a page must stop after LIMIT rows
 * instead of sorting every partition. These are the plans Postgres makes for the real queries
 * (captured from db/ as they run) over ten days of partitions.
 */
const url = process.env.DATABASE_URL;
const NOW = Date.parse("2026-05-10T12:00:00.000Z");
const DAYS = 10;

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  Plans?: PlanNode[];
}

function walk(node: PlanNode, out: PlanNode[] = []): PlanNode[] {
  out.push(node);
  for (const child of node.Plans ?? []) walk(child, out);
  return out;
}

/** Partitions of connection_events a plan scans. */
function scanned(plan: PlanNode): string[] {
  return walk(plan)
    .map((n) => n["Relation Name"])
    .filter((r): r is string => !!r && r.startsWith("connection_events_"))
    .sort();
}

/** Partitions of days before `from` a plan scans: must be none. */
function olderThan(plan: PlanNode, from: number): string[] {
  const first = partitionName("connection_events", from);
  return scanned(plan).filter((name) => /_p\d{8}$/.test(name) && name < first);
}

/** A LIMIT fed by partitions read in order (maybe through an Incremental Sort on id), never a full Sort. */
function limitOverOrderedAppend(plan: PlanNode): void {
  expect(plan["Node Type"]).toBe("Limit");
  let child = plan.Plans![0];
  if (child["Node Type"] === "Incremental Sort") child = child.Plans![0];
  expect(["Merge Append", "Append"]).toContain(child["Node Type"]);
  expect(walk(plan).map((n) => n["Node Type"])).not.toContain("Sort");
}

/**
 * How the plan reads the partitions that hold rows (days up to NOW; an empty partition ahead of
 * now or the empty DEFAULT one costs nothing whatever the plan says).
 */
function scanTypes(plan: PlanNode): string[] {
  const lastDay = partitionName("connection_events", NOW);
  return [
    ...new Set(
      walk(plan)
        .filter((n) => {
          const name = n["Relation Name"] ?? "";
          return /^connection_events_p\d{8}$/.test(name) && name <= lastDay;
        })
        .map((n) => n["Node Type"]),
    ),
  ];
}

/** Every partition with rows is read through an index (plain, index-only or bitmap). */
function byIndex(plan: PlanNode): void {
  const types = scanTypes(plan);
  expect(types.length).toBeGreaterThan(0);
  for (const type of types) expect(["Index Scan", "Index Only Scan", "Bitmap Heap Scan"]).toContain(type);
}

describe.skipIf(!url)("partition pruning on Postgres (EXPLAIN)", () => {
  let server: Awaited<ReturnType<typeof createServerDatabase>>;
  let database: Database;
  let client: postgres.Sql;
  let db: Db;
  const captured: { query: string; params: unknown[] }[] = [];

  /** Run `fn` against the database and return the plan of every statement it sent. */
  async function plansOf(fn: (db: Db) => Promise<unknown>): Promise<{ query: string; plan: PlanNode }[]> {
    captured.length = 0;
    await fn(db);
    const out: { query: string; plan: PlanNode }[] = [];
    for (const { query, params } of [...captured]) {
      const [row] = await client.unsafe(`explain (format json) ${query}`, params as never[]);
      const plan = (row["QUERY PLAN"] as { Plan: PlanNode }[])[0].Plan;
      out.push({ query, plan });
    }
    return out;
  }

  beforeAll(async () => {
    server = await createServerDatabase();
    database = await openDatabase({ url: server.url, max: 2 });
    await migrateDatabase(database);
    // ten days of a fleet: 20,000 events a day over 500 ClientIDs on 5 brokers
    await database.db.execute(sql`
      insert into connection_events (ts, received_at, broker, client_id, type, reason, raw)
      select t, t, 'broker-' || (i % 5), 'device-' || (i % 500),
             case when i % 2 = 0 then 'connected' else 'disconnected' end,
             case when i % 2 = 0 then null when i % 7 = 0 then 'keepalive_timeout' else 'normal' end,
             'line ' || i
      from generate_series(0, ${DAYS * 20000 - 1}) as i,
           lateral (select ${new Date(NOW - DAYS * DAY_MS).toISOString()}::timestamptz + i * interval '432 milliseconds' * 10 as t) as at`);
    // the rows landed in DEFAULT (those days had no partition): the job gives each day its own
    await ensurePartitions(database.db, "connection_events", NOW);
    await database.db.execute(sql`analyze connection_events`);
    client = postgres(server.url, { max: 1, onnotice: () => {} });
    db = drizzle(client, {
      schema,
      logger: { logQuery: (query, params) => captured.push({ query, params }) },
    }) as unknown as Db;
  }, 120_000);
  afterAll(async () => {
    await client?.end();
    await database?.close();
    await server?.drop();
  });

  const day = (n: number) => partitionName("connection_events", NOW - n * DAY_MS);

  it("the clients connected when a broker went down read only the lookback's partitions (and a day either side)", async () => {
    const at = new Date(NOW - 1 * DAY_MS);
    const since = new Date(at.getTime() - 3 * DAY_MS);
    const [{ plan }] = await plansOf((db) => clientsConnectedAt(db, "broker-1", at, since));
    expect(olderThan(plan, since.getTime() - DAY_MS)).toEqual([]);
    expect(scanned(plan)).not.toContain(day(-1));
    expect(scanned(plan).length).toBeGreaterThan(0);
  });

  it("a search by reason over a bounded range reads only that range's partitions, by index, up to LIMIT", async () => {
    const [{ plan }] = await plansOf((db) =>
      queryEvents(db, {
        reason: "keepalive_timeout",
        from: new Date(NOW - 2.5 * DAY_MS),
        to: new Date(NOW - 1.5 * DAY_MS),
        limit: 100,
      }),
    );
    expect(scanned(plan)).toEqual([day(2), day(1)].sort());
    byIndex(plan);
    expect(plan["Node Type"]).toBe("Limit");
  });

  it("a search by reason from a time on (GET /api/events?reason=&from=) never reads a day before it", async () => {
    const from = NOW - 1.5 * DAY_MS;
    const [{ plan }] = await plansOf((db) => queryEvents(db, { reason: "keepalive_timeout", from: new Date(from), limit: 100 }));
    expect(scanned(plan)).toContain(day(1));
    expect(olderThan(plan, from)).toEqual([]);
    byIndex(plan);
    expect(plan["Node Type"]).toBe("Limit");
  });

  it("a keyset page pushes its LIMIT into an ordered Merge Append / Append over the partitions in range", async () => {
    const [{ plan }] = await plansOf((db) =>
      queryEvents(db, {
        broker: "broker-3",
        from: new Date(NOW - 3 * DAY_MS),
        before: { ts: new Date(NOW - 1 * DAY_MS), id: 1 },
        limit: 50,
      }),
    );
    limitOverOrderedAppend(plan);
    // from 3 days back to the cursor 1 day back: days 3, 2 and 1 only
    expect(scanned(plan)).toEqual([day(3), day(2), day(1)].sort());
    byIndex(plan);
  });

  it("the newest page of every event (GET /api/events, no filter) reads the partitions newest first and stops at LIMIT", async () => {
    const [{ plan }] = await plansOf((db) =>
      queryEvents(db, { from: new Date(NOW - 5 * DAY_MS), before: { ts: new Date(NOW - DAY_MS), id: 1 }, limit: 100 }),
    );
    limitOverOrderedAppend(plan);
    expect(olderThan(plan, NOW - 5 * DAY_MS)).toEqual([]);
    expect(scanned(plan)).not.toContain(day(0));
    byIndex(plan);
  });

  it("a client's history without a time bound probes the per-client index of each partition, never a scan", async () => {
    // A ClientID has a few events a day, so a probe per partition plus a sort of those few rows is
    // what the planner picks (a Merge Append when a client has many rows per day); either way no
    // partition is read whole.
    const [{ plan }] = await plansOf((db) => queryEvents(db, { clientId: "device-42", limit: 100 }));
    expect(plan["Node Type"]).toBe("Limit");
    byIndex(plan);
  });

  it("a ClientID prefix search reads each partition through the one ClientID index, never a scan", async () => {
    // (ClientID key text_pattern_ops, ts, id) serves LIKE 'x%' whatever the collation, and the
    // history's `client_id =` above
    const [{ plan }] = await plansOf((db) => searchClients(db, "device-42"));
    byIndex(plan);
    const indexes = walk(plan)
      .map((n) => n["Index Name"])
      .filter((name): name is string => !!name);
    expect(indexes.length).toBeGreaterThan(0);
    for (const name of indexes) expect(name).toMatch(/_case_ts_id_idx$/);
  });

  /**
   * db/ prepares the history queries, and Postgres may then run one generic plan for all
   * parameters: that plan cannot prune while planning, so it must prune at executor start.
   */
  async function genericPlanOf(query: string, params: unknown[]): Promise<PlanNode> {
    const literal = (v: unknown) => (v === null ? "null" : `'${String(v).replaceAll("'", "''")}'`);
    await client.unsafe("set plan_cache_mode = force_generic_plan");
    try {
      await client.unsafe(`prepare generic_page as ${query}`);
      const [row] = await client.unsafe(
        `explain (analyze, format json) execute generic_page(${params.map(literal).join(", ")})`,
      );
      return (row["QUERY PLAN"] as { Plan: PlanNode }[])[0].Plan;
    } finally {
      await client.unsafe("deallocate all");
      await client.unsafe("reset plan_cache_mode");
    }
  }

  it("a prepared search's generic plan still reads only the partitions from its time on", async () => {
    const from = NOW - 1.5 * DAY_MS;
    captured.length = 0;
    await queryEvents(db, { reason: "keepalive_timeout", from: new Date(from), limit: 100 });
    const [{ query, params }] = captured;
    const plan = await genericPlanOf(query, params);
    expect(scanned(plan)).toContain(day(1));
    expect(olderThan(plan, from)).toEqual([]);
    expect(plan["Node Type"]).toBe("Limit");
  });

  it("a prepared keyset page's generic plan reads only the partitions between its bounds", async () => {
    captured.length = 0;
    await queryEvents(db, {
      broker: "broker-3",
      from: new Date(NOW - 3 * DAY_MS),
      before: { ts: new Date(NOW - 1 * DAY_MS), id: 1 },
      limit: 50,
    });
    const [{ query, params }] = captured;
    const plan = await genericPlanOf(query, params);
    expect(scanned(plan)).toEqual([day(3), day(2), day(1)].sort());
    limitOverOrderedAppend(plan);
  });

  it("the client page's queries over a window read only the partitions of that window", async () => {
    const plans = await plansOf((db) => clientHistory(db, "device-42", { from: new Date(NOW - 2 * DAY_MS) }));
    const bounded = plans.filter((p) => /"ts" >= \$/.test(p.query));
    expect(bounded.length).toBeGreaterThanOrEqual(2);
    for (const { plan } of bounded) {
      expect(scanned(plan)).toContain(day(2));
      expect(olderThan(plan, NOW - 2 * DAY_MS)).toEqual([]);
      byIndex(plan);
    }
  });
});
