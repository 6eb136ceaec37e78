import { spawn } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import mqtt from "mqtt";
import { eq } from "drizzle-orm";
import { migrateDatabase, openDatabase } from "@/db/client";
import { brokers } from "@/db/schema";
import { ensureBuilt } from "@/server/build";
import { ROOT, startApp, type RunningApp } from "../helpers/app";
import { writeConfigFile } from "../helpers/fixtures";
import { freePort, waitFor } from "../helpers/ports";

/**
 * brokerwatch.yaml as `npm start` applies it: a broken file stops the start with a message an
 * operator can act on (file, line, path, what is wrong), and a broker taken out of the file
 * stops being watched without its history being thrown away.
 */
const TOKEN = "config-start-token";
/**
 * `npm start` rebuilds the web app first when its sources changed since the last build (a minute
 * or more), so these tests allow for one build per start.
 */
const START_BUDGET_MS = 240_000;
/** A server nothing listens on: a start that reached the database would fail differently. */
const UNREACHABLE_DATABASE = "postgres://brokerwatch@127.0.0.1:1/never";

/**
 * `npm start` with this brokerwatch.yaml, a fresh data directory and a database it cannot reach:
 * it must exit 1, and the output line that mentions `naming` is returned.
 */
async function refusedConfig(lines: string[], naming: string) {
  const file = await writeConfigFile(lines);
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "bw-data-"));
  const { code, output } = await npmStart({
    BROKERWATCH_CONFIG: file,
    BROKERWATCH_DATA_DIR: dataDir,
    DATABASE_URL: UNREACHABLE_DATABASE,
  });
  expect(code, output).toBe(1);
  const line = output.split("\n").find((l) => l.includes(naming));
  expect(line, output).toBeDefined();
  return { file, line, output };
}

/** `npm start` as an operator runs it; resolves when the process has exited and its output is complete. */
function npmStart(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, PORT: "0", MQTT_PORT: "0", HOSTNAME: "127.0.0.1", ...env };
    const child = spawn("npm", ["start"], { cwd: ROOT, env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`npm start still running after ${START_BUDGET_MS / 1000} s:\n${output}`));
    }, START_BUDGET_MS);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe("an invalid brokerwatch.yaml", () => {
  beforeAll(async () => {
    // a first build can take a minute; it is not what these tests time
    await ensureBuilt(ROOT, () => {});
  });

  it(
    "stops npm start with exit code 1 and a message naming the file, the line and brokers[1].url",
    async () => {
      const { file, line, output } = await refusedConfig(
        [
          "brokers:",
          "  - name: plant-a",
          "    url: mqtt://10.0.0.5:1883",
          "  - name: plant-b",
          "    url: http://10.0.0.6:1883",
        ],
        "brokers[1].url",
      );
      expect(line).toContain(`${file}:5:`);
      expect(line).toMatch(/mqtt:\/\//);
      // the file is checked first: nothing else was attempted
      expect(output).not.toContain("brokerwatch ready");
      expect(output).not.toMatch(/database/i);
    },
    START_BUDGET_MS,
  );

  it(
    "names a ${VAR} that is not set in the environment, and where it is used",
    async () => {
      const { file, line, output } = await refusedConfig(
        [
          "brokers:",
          "  - name: plant-a",
          "    url: mqtt://10.0.0.5:1883",
          "    username: monitor",
          "    password: ${PLANT_A_PASSWORD_NOT_EXPORTED}",
        ],
        "PLANT_A_PASSWORD_NOT_EXPORTED",
      );
      expect(line).toContain(`${file}:5:`);
      expect(line).toContain("brokers[0].password");
      expect(line).toMatch(/not set/);
    },
    START_BUDGET_MS,
  );
});

describe("a broker removed from brokerwatch.yaml", () => {
  const dataDirPromise = mkdtemp(path.join(os.tmpdir(), "bw-removed-"));
  let mqttPort: number;
  let first: RunningApp | null = null;
  let second: RunningApp | null = null;

  async function api<T>(app: RunningApp, pathAndQuery: string): Promise<T> {
    const res = await fetch(`${app.url}${pathAndQuery}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    if (!res.ok) throw new Error(`${pathAndQuery}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }

  type ApiEvent = { clientId: string; type: string; broker: string };
  const eventsOf = (app: RunningApp, clientId: string, broker: string) =>
    api<{ events: ApiEvent[] }>(app, `/api/clients/${encodeURIComponent(clientId)}/events?broker=${broker}`).then(
      (r) => r.events,
    );
  /** Waits until `broker` has recorded both the connect and the disconnect of `clientId`. */
  const recordedVisit = (app: RunningApp, clientId: string, broker: string) =>
    waitFor(
      `${broker} to record ${clientId}`,
      async () => (await eventsOf(app, clientId, broker)).length >= 2,
      15_000,
      100,
    );

  const DEVICE = { username: "device", password: "device-password" };

  async function connectAndLeave(app: RunningApp, clientId: string): Promise<void> {
    const client = await mqtt.connectAsync(app.mqttUrl!, { clientId, reconnectPeriod: 0, ...DEVICE });
    await client.endAsync();
  }

  /** Both the built-in `bundled` and the file's `old-line` watch the bundled broker on a fixed port. */
  function start(config: string, dataDir: string): Promise<RunningApp> {
    return startApp({
      dataDir,
      database: "pglite",
      env: {
        BROKERWATCH_API_TOKEN: TOKEN,
        BROKERWATCH_CONFIG: config,
        MQTT_PORT: String(mqttPort),
        // the bundled broker serves `$SYS` only to configured users: old-line watches it as one
        BUNDLED_BROKER_USERS: "watcher:watcher-password,device:device-password",
      },
    });
  }

  beforeAll(async () => {
    mqttPort = await freePort();
  });
  afterAll(async () => {
    await first?.stop();
    await second?.stop();
  });

  it(
    "is disabled, not deleted, on the next start, and its history stays queryable",
    async () => {
      const dataDir = await dataDirPromise;
      const plantA = ["  - name: plant-a", "    url: mqtt://127.0.0.1:1", "    dialect: mosquitto"];
      const before = await writeConfigFile([
        "brokers:",
        ...plantA,
        "  - name: old-line",
        `    url: mqtt://127.0.0.1:${mqttPort}`,
        "    dialect: bundled",
        "    username: watcher",
        "    password: watcher-password",
      ]);

      first = await start(before, dataDir);
      await connectAndLeave(first, "retired-sensor");
      await recordedVisit(first, "retired-sensor", "old-line");
      const { brokers: listedBefore } = await api<{ brokers: { name: string }[] }>(first, "/api/brokers");
      expect(listedBefore.map((b) => b.name)).toEqual(expect.arrayContaining(["plant-a", "old-line", "bundled"]));
      expect((await first.stop()).code).toBe(0);
      first = null;

      // the operator takes old-line out of the file and restarts
      const after = await writeConfigFile(["brokers:", ...plantA]);
      second = await start(after, dataDir);

      const { brokers: listedAfter } = await api<{ brokers: { name: string }[] }>(second, "/api/brokers");
      expect(listedAfter.map((b) => b.name)).toEqual(expect.arrayContaining(["plant-a", "bundled"]));
      expect(listedAfter.map((b) => b.name)).not.toContain("old-line");

      // its history is still there, through both query paths
      const history = await eventsOf(second, "retired-sensor", "old-line");
      expect(history.map((e) => e.type).sort()).toEqual(["connected", "disconnected"]);
      const all = await api<{ events: ApiEvent[] }>(second, "/api/events?broker=old-line");
      expect(all.events.filter((e) => e.clientId === "retired-sensor")).toHaveLength(2);
      // the broker itself still exists (an unknown one would be 404)
      expect((await api<{ broker: string }>(second, "/api/brokers/old-line/gaps")).broker).toBe("old-line");

      // and it is no longer watched: a new device is seen by `bundled` only
      await connectAndLeave(second, "new-sensor");
      await recordedVisit(second, "new-sensor", "bundled");
      await new Promise((r) => setTimeout(r, 1000));
      expect(await eventsOf(second, "new-sensor", "old-line")).toEqual([]);

      expect((await second.stop()).code).toBe(0);
      second = null;

      const database = await openDatabase({ dataDir });
      try {
        await migrateDatabase(database);
        const [row] = await database.db.select().from(brokers).where(eq(brokers.name, "old-line"));
        expect(row).toMatchObject({ name: "old-line", enabled: false, source: "file" });
        const [kept] = await database.db.select().from(brokers).where(eq(brokers.name, "plant-a"));
        expect(kept).toMatchObject({ enabled: true, source: "file" });
      } finally {
        await database.close();
      }
    },
    2 * START_BUDGET_MS,
  );
});
