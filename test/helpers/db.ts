import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { migrateDatabase, openDatabase, type Database } from "@/db/client";
import { pgliteFromTemplate } from "./pglite-template";

export interface TestDatabase {
  database: Database;
  /** connection string of the fresh database, when on a Postgres server */
  url: string | undefined;
  drop(): Promise<void>;
}

/** A new, empty database name on the server of `serverUrl` (or DATABASE_URL); returns its URL. */
export async function createServerDatabase(
  serverUrl = process.env.DATABASE_URL!,
): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `bw_test_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const admin2 = postgres(serverUrl, { max: 1, onnotice: () => {} });
      await admin2.unsafe(`drop database if exists ${name} with (force)`);
      await admin2.end();
    },
  };
}

/**
 * A fresh, migrated database for one test file: a new database on the server of DATABASE_URL
 * when it is set, otherwise an in-memory PGlite copied from a migrated template (./pglite-template.ts).
 */
export async function freshDatabase(backend: "auto" | "pglite" | "postgres" = "auto"): Promise<TestDatabase> {
  const usePostgres = backend === "postgres" || (backend === "auto" && !!process.env.DATABASE_URL);
  if (!usePostgres) {
    const database = await pgliteFromTemplate("migrated");
    return { database, url: undefined, drop: () => database.close() };
  }
  const server = await createServerDatabase();
  const database = await openDatabase({ url: server.url, max: 4 });
  await migrateDatabase(database);
  return {
    database,
    url: server.url,
    async drop() {
      await database.close();
      await server.drop();
    },
  };
}
