import "server-only";
import type { Database } from "./client";

/**
 * Postgres LISTEN/NOTIFY, for lib/live.ts to share committed events between the instances on one
 * database. The SQL stays here (scripts/check-layers.ts `sql-only-in-db`); PGlite is a single
 * process, with nothing to share: null.
 */
export interface Channels {
  listen(channel: string, onPayload: (payload: string) => void): Promise<{ unlisten(): Promise<void> }>;
  notify(channel: string, payload: string): Promise<void>;
}

export function postgresChannels(database: Database): Channels | null {
  const sql = database.postgres;
  if (!sql) return null;
  return {
    async listen(channel, onPayload) {
      const subscription = await sql.listen(channel, onPayload);
      return { unlisten: async () => void (await subscription.unlisten()) };
    },
    async notify(channel, payload) {
      await sql.notify(channel, payload);
    },
  };
}

/**
 * A session advisory lock named `name` on a connection of its own, held until `release()` or until
 * that connection (or the process) dies. Null when another session holds it; undefined on PGlite
 * (one process: there is nobody to share with).
 */
export async function trySessionLock(database: Database, name: string): Promise<{ release(): Promise<void> } | null | undefined> {
  if (!database.postgres) return undefined;
  const connection = await database.postgres.reserve();
  const [{ locked }] = await connection<{ locked: boolean }[]>`select pg_try_advisory_lock(hashtext(${name})) as locked`;
  if (!locked) {
    connection.release();
    return null;
  }
  return {
    async release() {
      await connection`select pg_advisory_unlock(hashtext(${name}))`.catch(() => {});
      connection.release();
    },
  };
}
