import path from "node:path";
import { mkdir, readFile, unlink, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { sql } from "drizzle-orm";
import { PgPreparedQuery, type PgDatabase, type PgQueryResultHKT } from "drizzle-orm/pg-core";
import * as schema from "./schema";

/**
 * One drizzle handle over either backend: postgres.js when DATABASE_URL is set, otherwise
 * PGlite persisted in the data directory. Both run the same migrations and the same queries.
 */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface Database {
  db: Db;
  kind: "postgres" | "pglite";
  /** a cheap round trip, for /api/health */
  ping(): Promise<void>;
  close(): Promise<void>;
  /** postgres.js client when kind is postgres (COPY, LISTEN); undefined on PGlite */
  postgres?: import("postgres").Sql;
}

export interface OpenOptions {
  /** postgres connection string; when absent, PGlite */
  url?: string;
  /** PGlite data directory; absent with no url means in-memory (tests) */
  dataDir?: string;
  /** postgres.js pool size */
  max?: number;
}

/**
 * A failed query must not carry its parameters into a log: they are the values being written
 * (encrypted secrets, header values, user input). drizzle's DrizzleQueryError puts them in its
 * message ("params: …"), PGlite attaches them to its error, and Postgres' `detail` can quote the
 * failing row. What is logged is the SQL text and the error's own message; the values stay
 * reachable in code (non-enumerable), so nothing that inspects `cause.code` changes.
 */
const HIDDEN_ERROR_FIELDS = ["params", "parameters", "queryOptions", "detail", "where", "args", "types"] as const;

function hideFields(err: object): void {
  for (const field of HIDDEN_ERROR_FIELDS) {
    const descriptor = Object.getOwnPropertyDescriptor(err, field);
    if (descriptor?.enumerable) Object.defineProperty(err, field, { ...descriptor, enumerable: false });
  }
}

export function redactQueryError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const failed = err as Error & { query?: unknown; params?: unknown; cause?: unknown };
  if (failed.cause instanceof Error) hideFields(failed.cause);
  if (typeof failed.query === "string" && "params" in failed) {
    const causeMessage = failed.cause instanceof Error ? failed.cause.message : "";
    const message = `Failed query: ${failed.query}${causeMessage ? `\n${causeMessage}` : ""}`;
    if (failed.stack) failed.stack = failed.stack.replace(failed.message, message);
    failed.message = message;
  }
  hideFields(failed);
  return err;
}

// Every query of both backends goes through this one method of drizzle's prepared query.
const proto = PgPreparedQuery.prototype as unknown as {
  queryWithCache(this: unknown, ...args: unknown[]): Promise<unknown>;
  __brokerwatchRedacted?: true;
};
if (!proto.__brokerwatchRedacted) {
  const queryWithCache = proto.queryWithCache;
  proto.queryWithCache = async function (this: unknown, ...args: unknown[]) {
    try {
      return await queryWithCache.apply(this, args);
    } catch (err) {
      throw redactQueryError(err);
    }
  };
  proto.__brokerwatchRedacted = true;
}

export const MIGRATIONS_FOLDER = fileURLToPath(new URL("../drizzle", import.meta.url));

export async function openDatabase(opts: OpenOptions): Promise<Database> {
  if (opts.url) {
    const { default: postgres } = await import("postgres");
    const { drizzle } = await import("drizzle-orm/postgres-js");
    const client = postgres(opts.url, {
      // at least two: migrateDatabase holds its lock on one connection while the migrator uses another
      max: Math.max(2, opts.max ?? 10),
      onnotice: () => {},
      // Fail fast: a health check against a dead server must answer 503, not hang.
      connect_timeout: 5,
    });
    const db = drizzle(client, { schema }) as unknown as Db;
    return {
      db,
      kind: "postgres",
      postgres: client,
      ping: async () => {
        await client`select 1`;
      },
      close: () => client.end({ timeout: 3 }),
    };
  }
  const { PGlite } = await import("@electric-sql/pglite");
  const { drizzle } = await import("drizzle-orm/pglite");
  let dataDir: string | undefined;
  let unlock = async () => {};
  if (opts.dataDir) {
    dataDir = path.resolve(opts.dataDir, "pglite");
    await mkdir(dataDir, { recursive: true });
    unlock = await lockDataDir(dataDir);
  }
  let client;
  try {
    client = dataDir ? await PGlite.create(dataDir) : await PGlite.create();
  } catch (err) {
    await unlock();
    throw err;
  }
  const db = drizzle(client, { schema }) as unknown as Db;
  return {
    db,
    kind: "pglite",
    ping: async () => {
      await client.query("select 1");
    },
    close: async () => {
      await client.close();
      await unlock();
    },
  };
}

export class DataDirLockedError extends Error {}

/**
 * PGlite is Postgres in this process, with no server to arbitrate: two processes writing one
 * directory corrupt it. A pid file next to it keeps a second process out; one left by a process
 * that died (or by this pid, as after a container restart) is taken over. Several instances need
 * one Postgres server (DATABASE_URL).
 */
async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const file = `${dataDir}.pid`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await writeFile(file, `${process.pid}\n`, { flag: "wx" });
      return () => unlink(file).catch(() => {});
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const pid = Number((await readFile(file, "utf8").catch(() => "")).trim());
    if (pid > 0 && pid !== process.pid && processAlive(pid)) {
      throw new DataDirLockedError(
        `another brokerwatch process (pid ${pid}) is using the embedded database in ${path.dirname(dataDir)}; ` +
          `one data directory serves one process. Stop that process, or give this one its own ` +
          `BROKERWATCH_DATA_DIR, or set DATABASE_URL to run several instances on one Postgres`,
      );
    }
    await unlink(file).catch(() => {});
  }
  throw new DataDirLockedError(`could not lock the embedded database in ${path.dirname(dataDir)} (${file})`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: alive, owned by someone else
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export async function migrateDatabase(database: Database): Promise<void> {
  if (database.kind === "postgres") {
    const { migrate } = await import("drizzle-orm/postgres-js/migrator");
    // Several instances may start at once: one migrates while the others wait on the lock, then
    // find nothing left to do. The lock is on its own connection, released when the migration ends,
    // so the pool needs at least two connections (one holds the lock, the migrator uses another).
    const lock = await database.postgres!.reserve();
    try {
      await lock`select pg_advisory_lock(hashtext('brokerwatch.migrate'))`;
      // drizzle's migrator wants its own driver's type; the handle is the same object
      await migrate(database.db as never, { migrationsFolder: MIGRATIONS_FOLDER });
    } finally {
      await lock`select pg_advisory_unlock(hashtext('brokerwatch.migrate'))`.catch(() => {});
      lock.release();
    }
  } else {
    const { migrate } = await import("drizzle-orm/pglite/migrator");
    await migrate(database.db as never, { migrationsFolder: MIGRATIONS_FOLDER });
  }
}

// Kept in its own module so that query modules the web app bundles need not import this one,
// whose migrations folder the bundler cannot resolve.
export { queryRows } from "./rows";
