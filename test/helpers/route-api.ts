import { afterAll, beforeAll } from "vitest";
import type { Database } from "@/db/client";
import type { AlertEngine } from "@/lib/alerts/engine";
import { createApiToken } from "@/lib/auth/tokens";
import { setRuntime, type Runtime } from "@/lib/runtime";
import { freshDatabase, type TestDatabase } from "./db";

/** A Request for a route handler: the bearer `token` (none for null) and a JSON content type. */
export function apiRequest(path: string, token: string | null, init: RequestInit = {}): Request {
  return new Request(`http://brokerwatch.test${path}`, {
    ...init,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), "content-type": "application/json" },
  });
}

export interface EngineRuntime {
  readonly database: Database;
  readonly engine: AlertEngine;
  /** what the route handlers read (lib/runtime.ts), as set in beforeAll */
  readonly runtime: Runtime;
  /** a viewer's API token */
  readonly viewer: string;
}

/**
 * The runtime the alerting route handlers read, for one test file: a fresh database, the engine
 * `start` returns for it, `adminToken` as the bootstrap token (BROKERWATCH_API_TOKEN) and a
 * viewer's token. Call it at the top of the file: it registers the hooks, and undoes all of it after.
 */
export function engineRuntime(adminToken: string, start: (database: Database) => Promise<AlertEngine>): EngineRuntime {
  const previousToken = process.env.BROKERWATCH_API_TOKEN;
  let t: TestDatabase | undefined;
  let engine: AlertEngine | undefined;
  let runtime: Runtime | undefined;
  let viewer: string | undefined;
  beforeAll(async () => {
    process.env.BROKERWATCH_API_TOKEN = adminToken;
    t = await freshDatabase();
    engine = await start(t.database);
    runtime = { database: t.database, startedAt: new Date(), bundledBrokerUrl: null, alertEngine: engine };
    setRuntime(runtime);
    viewer = (await createApiToken(t.database.db, "viewer", "viewer")).token;
  });
  afterAll(async () => {
    await engine?.stop();
    setRuntime(undefined);
    await t?.drop();
    process.env.BROKERWATCH_API_TOKEN = previousToken;
  });
  const ready = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error("the engine runtime is set up in beforeAll");
    return value;
  };
  return {
    get database() {
      return ready(t).database;
    },
    get engine() {
      return ready(engine);
    },
    get runtime() {
      return ready(runtime);
    },
    get viewer() {
      return ready(viewer);
    },
  };
}
