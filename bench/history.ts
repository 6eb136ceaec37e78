import { readFile } from "node:fs/promises";
import { sql } from "drizzle-orm";
import { upsertBroker } from "@/db/brokers";
import { migrateDatabase, openDatabase, queryRows, type Database } from "@/db/client";
import { queryEvents } from "@/db/events";
import { createPartitions, DAY_MS, dayStart, dropBefore } from "@/db/partitions";
import { startApp, type RunningApp } from "../test/helpers/app";
import { createServerDatabase } from "../test/helpers/db";
import { startMosquitto, type RunningMosquitto } from "../test/helpers/mosquitto";
import { loginCookie } from "../test/helpers/session";

/**
 * history: fleet-scale history on Postgres. Loads EVENTS connection events (100 brokers, 1M
 * ClientIDs, 30 days) server-side with generate_series straight into the day partitions, then
 * measures through the running app (as `npm start` runs it):
 * - clientHistory: GET /api/clients/{id}/events, first page, random ClientIDs;
 * - search: GET /api/events?reason=…&from=…, first page;
 * - csvRowsPerSecond: GET /api/events?format=csv for one broker over the 30 days;
 * - retention: detaching + dropping one day's partition vs deleting the same rows from an
 *   unpartitioned copy with the same indexes;
 * - bytesPerEvent: the partitions' total size (heap + indexes + TOAST) per row;
 * - memory: RSS of the service idle (no broker) and with 100 brokers collecting from a real Mosquitto
 *   (settled, before the requests; afterQueriesRssMb once the requests and the export ran).
 */
const EVENTS = Number(process.env.BENCH_HISTORY_EVENTS ?? 10_000_000);
const BROKERS = 100;
const CLIENTS = 1_000_000;
const DAYS = 30;
const REQUESTS = 200;
const REASONS = ["normal", "tcp_closed", "keepalive_timeout", "takenover", "not_authorized"] as const;
const REASON_ARRAY = sql.raw(`array[${REASONS.map((r) => `'${r}'`).join(", ")}]`);
const TARGETS = {
  clientHistoryP99Ms: 20,
  searchP99Ms: 50,
  dropVsDeleteSpeedup: 10,
  idleRssMb: 250,
  brokers100RssMb: 400,
};

const log = (line: string) => process.stderr.write(line + "\n");

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** The 1, 5 and 15 minute load averages: the machine is shared, and latency figures depend on it. */
async function loadAverage(): Promise<string> {
  return (await readFile("/proc/loadavg", "utf8")).split(" ").slice(0, 3).join(" ");
}

async function rssMb(app: RunningApp): Promise<number> {
  const status = await readFile(`/proc/${app.process.pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}

async function latencies(urls: () => string, cookie: string): Promise<{ p50Ms: number; p99Ms: number; status: number }> {
  const times: number[] = [];
  let status = 200;
  for (let i = 0; i < REQUESTS + 10; i++) {
    const started = performance.now();
    const res = await fetch(urls(), { headers: { cookie } });
    await res.arrayBuffer();
    if (res.status !== 200) status = res.status;
    if (i >= 10) times.push(performance.now() - started); // the first few compile the route and warm caches
  }
  times.sort((a, b) => a - b);
  return { p50Ms: Math.round(percentile(times, 50) * 10) / 10, p99Ms: Math.round(percentile(times, 99) * 10) / 10, status };
}

/** The same first pages straight from db/ (no HTTP, auth or JSON): what the database itself costs. */
async function queryLatencies(run: () => Promise<unknown>): Promise<{ p50Ms: number; p99Ms: number }> {
  const times: number[] = [];
  for (let i = 0; i < REQUESTS + 10; i++) {
    const started = performance.now();
    await run();
    if (i >= 10) times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return { p50Ms: Math.round(percentile(times, 50) * 10) / 10, p99Ms: Math.round(percentile(times, 99) * 10) / 10 };
}

/** EVENTS rows over DAYS days ending now, one INSERT … SELECT generate_series per day (into that day's partition). */
async function load(database: Database, start: number): Promise<void> {
  const perDay = Math.ceil(EVENTS / DAYS);
  const stepMs = DAY_MS / perDay;
  for (let d = 0; d < DAYS; d++) {
    const lo = d * perDay;
    const hi = Math.min(EVENTS, (d + 1) * perDay) - 1;
    await database.db.execute(sql`
      insert into connection_events (ts, received_at, broker, client_id, type, reason, address, port,
                                     username, protocol_version, clean_start, keepalive, session_seconds, raw)
      select t, t, 'plant-' || lpad((i % ${BROKERS})::text, 3, '0'), 'device-' || c,
             case when i % 2 = 0 then 'connected' else 'disconnected' end,
             case when i % 2 = 0 then null else (${REASON_ARRAY})[1 + (i / 2) % 5] end,
             '10.' || (i / 65536 % 256) || '.' || (i / 256 % 256) || '.' || (i % 256), 1024 + i % 60000,
             'fleet', 4, true, 60, case when i % 2 = 0 then null else 300 + i % 600 end,
             floor(extract(epoch from t))::bigint || ': Client device-' || c ||
               case when i % 2 = 0 then ' connected.' else ' disconnected.' end
      from generate_series(${lo}::bigint, ${hi}::bigint) as i,
           lateral (select ${new Date(start).toISOString()}::timestamptz + (i * ${stepMs}::float8) * interval '1 millisecond' as t,
                           (i * 7919) % ${CLIENTS} as c) as g`);
    log(`history: loaded day ${d + 1}/${DAYS} (${hi + 1} events)`);
  }
  await database.db.execute(sql`analyze connection_events`);
}

/** Days of the oldest history copied into the unpartitioned table the DELETE runs on. */
const UNPARTITIONED_DAYS = Number(process.env.BENCH_HISTORY_UNPARTITIONED_DAYS ?? 7);

/**
 * Retention of the oldest day both ways, each on a table nothing else uses:
 * - drop: db/partitions.ts dropBefore, as the maintenance job runs it (detach + drop of the day's
 *   partition under the partition DDL lock, then the trim of anything older left in DEFAULT);
 * - delete: the same rows deleted from an unpartitioned copy of the oldest UNPARTITIONED_DAYS days
 *   with the production indexes, then VACUUM: until it runs the deleted rows still fill the heap
 *   and every index, so a DELETE retention has not freed anything before it. Both parts
 *   are reported. The copy is kept smaller than the history (a week of the 30 days; it was 2
 *   days, 10.1× in the last such run, against 16× with a week) to bound the bench's disk and
 *   time, which favours DELETE: the VACUUM scans every index of the whole table, so at full size
 *   (e.g. 90 days) it costs far more while the drop stays the same.
 */
async function retention(
  database: Database,
  start: number,
): Promise<{ dropMs: number; deleteMs: number; vacuumMs: number; rows: number; copiedRows: number }> {
  const dayEnd = new Date(start + DAY_MS);
  await database.db.execute(sql`drop table if exists bench_unpartitioned`);
  await database.db.execute(sql`create table bench_unpartitioned (like connection_events including defaults including indexes)`);
  const [{ copied }] = await queryRows<{ copied: number }>(
    database.db,
    sql`with copied as (insert into bench_unpartitioned select * from connection_events
                        where ts < ${new Date(start + UNPARTITIONED_DAYS * DAY_MS).toISOString()}::timestamptz
                        returning 1)
        select count(*)::int as copied from copied`,
  );
  // a table in steady state: visibility map set, statistics known, as the partitions are
  await database.db.execute(sql`vacuum analyze bench_unpartitioned`);
  await database.db.execute(sql`checkpoint`);
  let started = performance.now();
  const [{ n }] = await queryRows<{ n: number }>(
    database.db,
    sql`with gone as (delete from bench_unpartitioned where ts < ${dayEnd.toISOString()}::timestamptz returning 1)
        select count(*)::int as n from gone`,
  );
  const deleteMs = performance.now() - started;
  started = performance.now();
  await database.db.execute(sql`vacuum bench_unpartitioned`);
  const vacuumMs = performance.now() - started;
  await database.db.execute(sql`drop table bench_unpartitioned`);
  await database.db.execute(sql`checkpoint`);
  started = performance.now();
  await dropBefore(database.db, "connection_events", dayEnd);
  const dropMs = performance.now() - started;
  return {
    dropMs: Math.round(dropMs),
    deleteMs: Math.round(deleteMs),
    vacuumMs: Math.round(vacuumMs),
    rows: n,
    copiedRows: copied,
  };
}

export async function runHistoryBenchmark(): Promise<Record<string, unknown>> {
  if (!process.env.DATABASE_URL) throw new Error("history needs DATABASE_URL (a Postgres server): it loads with generate_series");
  const password = "bench-admin-password";
  const appEnv = (url: string) => ({ DATABASE_URL: url, BROKERWATCH_ADMIN_PASSWORD: password, BUNDLED_BROKER: "off" });
  const server = await createServerDatabase();
  let app: RunningApp | null = null;
  let mosquitto: RunningMosquitto | null = null;
  try {
    // idle: the service with no broker to watch, on the migrated (empty) database
    app = await startApp({ env: appEnv(server.url) });
    await new Promise((r) => setTimeout(r, 5000));
    const idleRssMb = await rssMb(app);
    await app.stop();
    app = null;

    const database = await openDatabase({ url: server.url, max: 2 });
    await migrateDatabase(database);
    mosquitto = await startMosquitto().catch(() => null);
    for (let b = 0; b < BROKERS; b++) {
      await upsertBroker(database.db, {
        name: `plant-${String(b).padStart(3, "0")}`,
        url: mosquitto?.url ?? "mqtt://127.0.0.1:9",
        dialect: "mosquitto",
        cluster: `site-${b % 10}`,
        maxConnections: 50_000,
        source: "ui",
      });
    }
    const start = dayStart(Date.now()) - (DAYS - 1) * DAY_MS;
    await createPartitions(database.db, "connection_events", start, Date.now());
    log(`history: loading ${EVENTS} events over ${DAYS} days`);
    const loadStarted = performance.now();
    await load(database, start);
    const loadSeconds = Math.round((performance.now() - loadStarted) / 1000);
    const [{ events, bytes }] = await queryRows<{ events: number; bytes: string }>(
      database.db,
      sql`select (select count(*)::int from connection_events) as events,
                 (select sum(pg_total_relation_size(inhrelid))::text from pg_inherits
                  where inhparent = 'connection_events'::regclass) as bytes`,
    );

    app = await startApp({ env: appEnv(server.url) });
    // steady state: the 100 collectors connect and report their status at start, not during the run
    await new Promise((r) => setTimeout(r, 5000));
    // What watching 100 brokers costs, settled; the same process after the query runs below is
    // reported apart (afterQueriesRssMb: V8 keeps the heap it grew for the pages and the export).
    const brokers100RssMb = await rssMb(app);
    const cookie = await loginCookie(app.url, "admin", password);
    const base = app.url;
    const loadBefore = await loadAverage();
    const clientHistory = await latencies(
      () => `${base}/api/clients/device-${Math.floor(Math.random() * CLIENTS)}/events`,
      cookie,
    );
    const search = await latencies(() => {
      const reason = REASONS[Math.floor(Math.random() * REASONS.length)];
      const from = new Date(Date.now() - (1 + Math.random() * 6) * DAY_MS).toISOString();
      return `${base}/api/events?reason=${reason}&from=${encodeURIComponent(from)}`;
    }, cookie);
    const csvStarted = performance.now();
    const csv = await (
      await fetch(`${base}/api/events?format=csv&broker=plant-007&from=${encodeURIComponent(new Date(start).toISOString())}`, {
        headers: { cookie },
      })
    ).text();
    const csvRows = csv.split("\n").filter((l) => l.length > 0).length - 1;
    const csvRowsPerSecond = Math.round(csvRows / ((performance.now() - csvStarted) / 1000));
    const afterQueriesRssMb = await rssMb(app);
    const dbOnly = {
      clientHistory: await queryLatencies(() =>
        queryEvents(database.db, { clientId: `device-${Math.floor(Math.random() * CLIENTS)}`, limit: 101 }),
      ),
      search: await queryLatencies(() =>
        queryEvents(database.db, {
          reason: REASONS[Math.floor(Math.random() * REASONS.length)],
          from: new Date(Date.now() - (1 + Math.random() * 6) * DAY_MS),
          limit: 101,
        }),
      ),
    };
    const loadAfter = await loadAverage();
    // retention runs on tables nothing else uses: the service would only add noise to both sides
    await app.stop();
    app = null;
    const dropVsDelete = await retention(database, start);
    await database.close();
    const bytesPerEvent = Math.round(Number(bytes) / events);
    return {
      events,
      loadSeconds,
      clientHistory: { p50Ms: clientHistory.p50Ms, p99Ms: clientHistory.p99Ms },
      search: { p50Ms: search.p50Ms, p99Ms: search.p99Ms },
      csvRowsPerSecond,
      csvRows,
      retention: {
        dropMs: dropVsDelete.dropMs,
        // a DELETE retention is done when VACUUM has reclaimed the rows (see retention())
        deleteMs: dropVsDelete.deleteMs + dropVsDelete.vacuumMs,
        deleteStatementMs: dropVsDelete.deleteMs,
        vacuumMs: dropVsDelete.vacuumMs,
        rowsPerDay: dropVsDelete.rows,
        unpartitionedRows: dropVsDelete.copiedRows,
      },
      bytesPerEvent,
      queryOnly: dbOnly,
      method: `${REQUESTS} requests each, one at a time (concurrency 1) after 10 warm-up requests; p50/p99 are the ${REQUESTS} samples' percentiles`,
      loadAverage: { before: loadBefore, after: loadAfter },
      memory: { idleRssMb, brokers100RssMb, afterQueriesRssMb, brokersWatching: mosquitto ? "mosquitto" : "closed port" },
      targets: TARGETS,
      pass:
        clientHistory.status === 200 &&
        search.status === 200 &&
        clientHistory.p99Ms <= TARGETS.clientHistoryP99Ms &&
        search.p99Ms <= TARGETS.searchP99Ms &&
        dropVsDelete.deleteMs + dropVsDelete.vacuumMs >= TARGETS.dropVsDeleteSpeedup * dropVsDelete.dropMs &&
        idleRssMb <= TARGETS.idleRssMb &&
        brokers100RssMb <= TARGETS.brokers100RssMb,
    };
  } finally {
    await app?.stop();
    await mosquitto?.stop();
    await server.drop();
  }
}
