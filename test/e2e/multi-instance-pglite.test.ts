import { afterAll, expect, it, describe } from "vitest";
import { startApp, type RunningApp } from "../helpers/app";
import { assignWatchers } from "@/lib/cluster/assign";
import { loginCookie } from "../helpers/session";

/**
 * Embedded PGlite is one process's database: a second `npm start` on the same data directory
 * must be refused with a message that says why and what to do instead, not corrupt it.
 */
const TOKEN = "pglite-lock-token";
const BUILD_TOLERANT_TIMEOUT_MS = 600_000;

describe("one process per embedded database", () => {
  const apps: RunningApp[] = [];
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.stop("SIGKILL")));
  });

  it(
    "refuses a second process on the same PGlite directory, and starts once the first has stopped",
    async () => {
      const env = {
        BUNDLED_BROKER: "off",
        BROKERWATCH_API_TOKEN: TOKEN,
        BROKERWATCH_INSTANCE: "solo",
        BROKERWATCH_ADMIN_PASSWORD: "solo-admin-password",
      };
      const first = await startApp({ database: "pglite", env });
      apps.push(first);
      const second = await startApp({ database: "pglite", env, dataDir: first.dataDir }).then(
        (app) => {
          apps.push(app);
          return null;
        },
        (err: Error) => err,
      );
      expect(second).toBeInstanceOf(Error);
      expect(second!.message).toContain(
        `another brokerwatch process (pid ${first.process.pid}) is using the embedded database in ${first.dataDir}`,
      );
      expect(second!.message).toContain("set DATABASE_URL to run several instances on one Postgres");
      expect(second!.message).toMatch(/app exited \(1\)/);

      // The only instance leads, and says so.
      const res = await fetch(`${first.url}/api/instances`, { headers: { authorization: `Bearer ${TOKEN}` } });
      const { instances } = (await res.json()) as {
        instances: { name: string; up: boolean; leader: boolean; self: boolean }[];
      };
      expect(instances).toEqual([expect.objectContaining({ name: "solo", up: true, leader: true, self: true })]);
      // Settings → Instances shows the same, and the settings tabs link to it.
      const cookie = await loginCookie(first.url, "admin", "solo-admin-password");
      const page = await fetch(`${first.url}/settings/instances`, { headers: { cookie } });
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toContain('data-instance="solo"');
      expect(html).toMatch(/>leader</);
      expect(html).toContain('href="/settings/instances"');

      expect((await first.stop("SIGTERM")).code).toBe(0);
      const again = await startApp({ database: "pglite", env, dataDir: first.dataDir });
      apps.push(again);
      expect(again.url).toMatch(/^http:/);
    },
    BUILD_TOLERANT_TIMEOUT_MS,
  );

  it(
    "takes over the lock a killed process left behind",
    async () => {
      const env = { BUNDLED_BROKER: "off", BROKERWATCH_API_TOKEN: TOKEN };
      const first = await startApp({ database: "pglite", env });
      apps.push(first);
      await first.stop("SIGKILL");
      const second = await startApp({ database: "pglite", env, dataDir: first.dataDir });
      apps.push(second);
      expect(second.url).toMatch(/^http:/);
    },
    BUILD_TOLERANT_TIMEOUT_MS,
  );
});

describe("which instances watch which broker", () => {
  const brokers = ["east", "west", "north", "south", "edge-1", "edge-2", "edge-3"];

  it("gives every broker `watchers` distinct instances and keeps the loads within one of each other", () => {
    const instances = ["a:3000", "b:3000", "c:3000"];
    const plan = assignWatchers(brokers, instances, 2);
    const load = new Map(instances.map((i) => [i, 0]));
    for (const b of brokers) {
      const w = plan.get(b)!;
      expect(new Set(w).size).toBe(2);
      for (const i of w) load.set(i, load.get(i)! + 1);
    }
    const loads = [...load.values()];
    expect(Math.max(...loads) - Math.min(...loads)).toBeLessThanOrEqual(1);
  });

  it("agrees whatever order the instances were listed in, and uses all there are when fewer are alive", () => {
    expect(assignWatchers(brokers, ["c", "a", "b"], 2)).toEqual(assignWatchers(brokers, ["a", "b", "c"], 2));
    const alone = assignWatchers(brokers, ["a"], 2);
    for (const b of brokers) expect(alone.get(b)).toEqual(["a"]);
    expect(assignWatchers(brokers, [], 2).get("east")).toEqual([]);
  });
});

describe("config `watchers`", () => {
  it("is left to the default (2) when absent, and takes a whole number of instances, from a variable too", async () => {
    const { DEFAULT_WATCHERS, parseConfig } = await import("@/lib/config");
    expect(DEFAULT_WATCHERS).toBe(2);
    expect(parseConfig("brokers: []\n", { fileName: "brokerwatch.yaml", env: {} }).watchers).toBeUndefined();
    expect(parseConfig("watchers: 3\n", { fileName: "brokerwatch.yaml", env: {} }).watchers).toBe(3);
    expect(parseConfig("watchers: ${N}\n", { fileName: "brokerwatch.yaml", env: { N: "1" } }).watchers).toBe(1);
    expect(() => parseConfig("watchers: 0\n", { fileName: "brokerwatch.yaml", env: {} })).toThrow(
      "brokerwatch.yaml:1:11: watchers: must be a whole number, 1 or more (got 0)",
    );
  });
});
