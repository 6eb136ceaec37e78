import "server-only";
import { sql } from "drizzle-orm";
import { queryRows, type Db } from "./client";

/**
 * Daily partitions of the history tables (docs/architecture.md §6). The tables are declared
 * `PARTITION BY RANGE (ts)` by drizzle/0012_partitions.sql; this module keeps their partitions:
 *
 * - one partition per UTC day, named `<table>_pYYYYMMDD`, created ahead (today + DAYS_AHEAD) by the
 *   maintenance job, so the writer never waits on DDL;
 * - a `<table>_default` partition catches a row whose day has no partition yet (a broker replaying
 *   an old log, a clock far ahead); the job creates that day's partition and moves the rows there,
 *   so the DEFAULT partition stays empty between runs and queries prune it;
 * - retention detaches and drops whole days, and trims the one partition that straddles the
 *   boundary with a DELETE over at most one day.
 */
export const PARTITIONED_TABLES = ["connection_events", "metric_samples"] as const;
export type PartitionedTable = (typeof PARTITIONED_TABLES)[number];

export const DAY_MS = 86_400_000;
/** Partitions are created for today and this many days after it. */
export const DAYS_AHEAD = 3;

export function dayStart(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

export function partitionName(table: PartitionedTable, day: number): string {
  return `${table}_p${new Date(dayStart(day)).toISOString().slice(0, 10).replaceAll("-", "")}`;
}

export function defaultPartitionName(table: PartitionedTable): string {
  return `${table}_default`;
}

function dayFromName(table: PartitionedTable, name: string): number | null {
  const m = new RegExp(`^${table}_p(\\d{4})(\\d{2})(\\d{2})$`).exec(name);
  return m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : null;
}

/** The day partitions of a table (not the DEFAULT one), oldest first. */
export async function listPartitions(db: Db, table: PartitionedTable): Promise<{ name: string; day: number }[]> {
  const rows = await queryRows<{ name: string }>(
    db,
    sql`select c.relname as name
        from pg_inherits i
        join pg_class c on c.oid = i.inhrelid
        join pg_class p on p.oid = i.inhparent
        where p.relname = ${table} and p.relnamespace = to_regnamespace(current_schema())`,
  );
  return rows
    .map((r) => ({ name: r.name, day: dayFromName(table, r.name) }))
    .filter((p): p is { name: string; day: number } => p.day !== null)
    .sort((a, b) => a.day - b.day);
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Every instance runs the maintenance job (docs/architecture.md §6): partition DDL takes this
 * transaction-scoped lock first, so two instances creating or dropping the same day take turns
 * and the second finds the work done.
 */
const PARTITION_DDL_LOCK = sql`select pg_advisory_xact_lock(hashtext('brokerwatch partition ddl'))`;

/**
 * The partition of one day, created if missing. Rows of that day already caught by the DEFAULT
 * partition are moved into it in the same transaction (Postgres refuses to create a partition
 * whose range the DEFAULT partition holds rows of).
 */
async function createDayPartition(db: Db, table: PartitionedTable, day: number): Promise<void> {
  const name = partitionName(table, day);
  const fallback = defaultPartitionName(table);
  const from = iso(day);
  const to = iso(day + DAY_MS);
  await db.transaction(async (tx) => {
    await tx.execute(PARTITION_DDL_LOCK);
    await tx.execute(
      sql.raw(`create temp table bw_stragglers on commit drop as
               with moved as (delete from ${fallback} where ts >= '${from}' and ts < '${to}' returning *)
               select * from moved`),
    );
    await tx.execute(
      sql.raw(`create table if not exists ${name} partition of ${table} for values from ('${from}') to ('${to}')`),
    );
    await tx.execute(sql.raw(`insert into ${table} select * from bw_stragglers`));
  });
}

/** The partitions of every day from `from` to `to` (inclusive), e.g. before a bulk load. Returns those created. */
export async function createPartitions(db: Db, table: PartitionedTable, from: number, to: number): Promise<string[]> {
  const existing = new Set((await listPartitions(db, table)).map((p) => p.day));
  const created: string[] = [];
  for (let day = dayStart(from); day <= dayStart(to); day += DAY_MS) {
    if (existing.has(day)) continue;
    await createDayPartition(db, table, day);
    created.push(partitionName(table, day));
  }
  return created;
}

/**
 * Partitions for today .. today + DAYS_AHEAD, and for every day the DEFAULT partition holds rows
 * of (whose rows are moved there). Returns the partitions created.
 */
export async function ensurePartitions(db: Db, table: PartitionedTable, now = Date.now()): Promise<string[]> {
  const existing = new Set((await listPartitions(db, table)).map((p) => p.day));
  const stragglerDays = await queryRows<{ day: string }>(
    db,
    sql.raw(`select distinct date_trunc('day', ts at time zone 'UTC')::text as day from ${defaultPartitionName(table)}`),
  );
  const wanted = new Set<number>();
  for (let i = 0; i <= DAYS_AHEAD; i++) wanted.add(dayStart(now) + i * DAY_MS);
  for (const { day } of stragglerDays) wanted.add(Date.parse(`${day.slice(0, 10)}T00:00:00Z`));
  const created: string[] = [];
  for (const day of [...wanted].sort((a, b) => a - b)) {
    if (existing.has(day)) continue;
    await createDayPartition(db, table, day);
    created.push(partitionName(table, day));
  }
  return created;
}

/**
 * Forget the rows of `table` older than `before`: whole days are detached and dropped, and the
 * partition that straddles the boundary (and any DEFAULT straggler) is trimmed with a DELETE that
 * partition pruning limits to that one day. Returns the partitions dropped.
 */
export async function dropBefore(db: Db, table: PartitionedTable, before: Date): Promise<string[]> {
  const dropped: string[] = [];
  const partitions = await listPartitions(db, table);
  for (const p of partitions) {
    if (p.day + DAY_MS > before.getTime()) break;
    const done = await db.transaction(async (tx) => {
      await tx.execute(PARTITION_DDL_LOCK);
      const [still] = await queryRows<{ attached: boolean }>(
        tx as unknown as Db,
        sql`select exists (select 1 from pg_inherits where inhrelid = to_regclass(${p.name})) as attached`,
      );
      if (!still?.attached) return false;
      await tx.execute(sql.raw(`alter table ${table} detach partition ${p.name}`));
      await tx.execute(sql.raw(`drop table ${p.name}`));
      return true;
    });
    if (done) dropped.push(p.name);
  }
  // The trim names its partitions: a DELETE on the parent plans over every partition first
  // (~70 ms over a month of days), to find the one or two that can hold such rows.
  const straddling = partitions.find((p) => p.day < before.getTime() && before.getTime() < p.day + DAY_MS);
  for (const name of [straddling?.name, defaultPartitionName(table)]) {
    if (!name) continue;
    try {
      await db.execute(sql`delete from ${sql.identifier(name)} where ts < ${before.toISOString()}::timestamptz`);
    } catch (err) {
      // another instance's retention dropped that day meanwhile: nothing left to trim there
      if (pgCode(err) !== "42P01") throw err;
    }
  }
  return dropped;
}

/** The SQLSTATE of a failed query, wherever the driver (or drizzle's wrapper) put it. */
function pgCode(err: unknown): string | undefined {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (typeof e.code === "string") return e.code;
  }
  return undefined;
}
