import { afterAll, beforeAll, expect, it } from "vitest";
import { desc, eq } from "drizzle-orm";
import { listBrokers, upsertBroker } from "@/db/brokers";
import { connectionEvents } from "@/db/schema";
import { migrateDatabase, queryRows } from "@/db/client";
import { freshDatabase, type TestDatabase } from "./db";
import { pgliteFromTemplate } from "./pglite-template";

/** The same migrations and queries must work on embedded PGlite and on a real Postgres server. */
export function roundTrip(backend: "pglite" | "postgres") {
  let t: TestDatabase;
  beforeAll(async () => {
    if (backend === "postgres") t = await freshDatabase(backend);
    else {
      // from initdb on, so the migrations themselves are what is tested (freshDatabase copies a migrated template)
      const database = await pgliteFromTemplate("empty");
      await migrateDatabase(database);
      t = { database, url: undefined, drop: () => database.close() };
    }
  });
  afterAll(async () => {
    await t?.drop();
  });

  it("applies every migration and creates the tables the contract needs", async () => {
    const tables = await queryRows<{ table_name: string }>(
      t.database.db,
      (await import("drizzle-orm")).sql`select table_name from information_schema.tables where table_schema = 'public'`,
    );
    const names = tables.map((r) => r.table_name);
    for (const table of ["brokers", "metric_samples", "connection_events", "unparsed_records", "users"]) {
      expect(names).toContain(table);
    }
  });

  it("upserts a broker by name without duplicating it", async () => {
    await upsertBroker(t.database.db, {
      name: "plant-a",
      url: "mqtt://10.0.0.5:1883",
      dialect: "mosquitto",
      source: "file",
    });
    await upsertBroker(t.database.db, {
      name: "plant-a",
      url: "mqtt://10.0.0.6:1883",
      dialect: "mosquitto",
      cluster: "plant",
      source: "file",
    });
    const rows = await listBrokers(t.database.db);
    expect(rows.filter((r) => r.name === "plant-a")).toHaveLength(1);
    expect(rows.find((r) => r.name === "plant-a")).toMatchObject({
      url: "mqtt://10.0.0.6:1883",
      cluster: "plant",
      status: "unknown",
    });
  });

  it("stores a connection event with a hostile ClientID exactly as given", async () => {
    const hostile = `dev "7" (old) ünïcødé 🚀 ' ; drop table x; --`;
    await t.database.db.insert(connectionEvents).values({
      ts: new Date("2026-11-01T00:00:00.123Z"),
      receivedAt: new Date(),
      broker: "plant-a",
      clientId: hostile,
      type: "disconnected",
      reason: "keepalive_timeout",
      keepalive: 60,
      sessionSeconds: 95.5,
      raw: "1795340095: Client x has exceeded timeout, disconnecting.",
    });
    const [row] = await t.database.db
      .select()
      .from(connectionEvents)
      .where(eq(connectionEvents.clientId, hostile))
      .orderBy(desc(connectionEvents.ts));
    expect(row).toMatchObject({ clientId: hostile, reason: "keepalive_timeout", sessionSeconds: 95.5 });
    expect(row.ts.toISOString()).toBe("2026-11-01T00:00:00.123Z");
  });
}
