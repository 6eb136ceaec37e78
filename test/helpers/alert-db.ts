import { afterAll, afterEach, beforeAll, beforeEach } from "vitest";
import type { Database } from "@/db/client";
import { alertHistory, alertRules, alertStates, metricSamples, ruleStatus } from "@/db/schema";
import type { AlertEngine } from "@/lib/alerts/engine";
import { freshDatabase, type TestDatabase } from "./db";

export interface AlertTestDatabase {
  /** the file's database, once beforeAll has run */
  readonly database: Database;
  /** engines a test started; each is stopped after the test */
  readonly engines: AlertEngine[];
}

/**
 * One fresh database for an alert engine test file, emptied of rules, alert state, history and
 * samples before each test. Call it at the top of the file: it registers the hooks.
 */
export function alertTestDatabase(): AlertTestDatabase {
  let t: TestDatabase | undefined;
  const engines: AlertEngine[] = [];
  beforeAll(async () => {
    t = await freshDatabase();
  });
  afterAll(async () => {
    await t?.drop();
  });
  beforeEach(async () => {
    const db = t!.database.db;
    for (const table of [alertStates, alertHistory, ruleStatus, metricSamples, alertRules]) await db.delete(table);
  });
  afterEach(async () => {
    await Promise.all(engines.splice(0).map((e) => e.stop()));
  });
  return {
    get database() {
      if (!t) throw new Error("the alert test database is made in beforeAll");
      return t.database;
    },
    engines,
  };
}
