import { afterAll, beforeAll, expect, it } from "vitest";
import { brokerIncidents } from "@/db/schema";
import { IncidentTracker } from "@/lib/incidents/tracker";
import { freshDatabase, type TestDatabase } from "../helpers/db";
import { SYS_AND_LOG_CONFIG, startMosquitto, type RunningMosquitto } from "../helpers/mosquitto";
import { waitFor } from "../helpers/ports";
import { describeIf, needs } from "../helpers/require";
import { startWatchers, stopWatchers, type Watcher } from "../helpers/watchers";

/**
 * Broker incidents with two instances watching one real Mosquitto on one database: each instance
 * has its own writer, collector manager, incident tracker and TCP proxy to the broker
 * (helpers/watchers.ts), so a test can cut one instance's path only. An incident is about the
 * broker, not about one watcher's connection: opened on the status merged over the watchers, once.
 */
const BROKER = "plant-watched-twice";
const INSTANCES = ["inst-a", "inst-b"] as const;

describeIf(needs({ mosquitto: true, postgres: true }), "broker incidents watched by two instances", () => {
  let t: TestDatabase;
  let mosquitto: RunningMosquitto;
  const logged: string[] = [];
  let watchers: Watcher[] = [];
  let trackers: IncidentTracker[] = [];

  const incidents = () => t.database.db.select().from(brokerIncidents);

  beforeAll(async () => {
    mosquitto = await startMosquitto([...SYS_AND_LOG_CONFIG]);
    t = await freshDatabase("postgres");
    watchers = await startWatchers(t, mosquitto, BROKER, INSTANCES, {
      ttlMs: 120_000,
      timing: { minStaleMs: 3000, backoffBaseMs: 200, backoffCapMs: 500, checkIntervalMs: 100, syntheticEveryMs: 1000 },
    });
    trackers = watchers.map(
      (w) =>
        new IncidentTracker(t.database, w.manager, {
          timing: { minSettleMs: 2000, quietMs: 1000, maxSettleMs: 10_000, tickMs: 300 },
          flush: () => w.writer.flush(),
          log: (line) => logged.push(`${w.name}: ${line}`),
        }),
    );
    for (const tracker of trackers) tracker.start();
    await Promise.all(watchers.map((w) => w.manager.start()));
    await waitFor(
      "both watchers see the broker up",
      () => watchers.every((w) => w.manager.get(BROKER)?.status === "up"),
      15_000,
    );
  }, 60_000);

  afterAll(async () => {
    for (const tracker of trackers) await tracker.stop();
    await stopWatchers(watchers);
    await mosquitto?.stop();
    await t?.drop();
  });

  it("opens no incident when only one watcher loses the broker while the other still sees it up", async () => {
    const [a, b] = watchers;
    a.proxy.cut();
    await waitFor("instance a sees the broker down", () => a.manager.get(BROKER)?.status === "down", 10_000);
    // several of both instances' periodic observations and merges, and tracker rounds
    await new Promise((r) => setTimeout(r, 3000));
    expect(b.manager.get(BROKER)?.status).toBe("up");
    await Promise.all(trackers.map((tracker) => tracker.idle()));
    expect(await incidents()).toEqual([]);

    a.proxy.resume();
    await waitFor("instance a sees the broker again", () => a.manager.get(BROKER)?.status === "up", 10_000);
    await new Promise((r) => setTimeout(r, 1500));
    await Promise.all(trackers.map((tracker) => tracker.idle()));
    expect(await incidents()).toEqual([]);
  }, 30_000);

  it("records a killed broker once: one restart incident, opened, brought up and closed by one instance each time", async () => {
    const exited = new Promise((resolve) => mosquitto.process.once("exit", resolve));
    mosquitto.signal("SIGKILL");
    await exited;
    await waitFor(
      "both watchers see it down",
      () => watchers.every((w) => w.manager.get(BROKER)?.status === "down"),
      10_000,
    );
    await waitFor("the incident opened", async () => (await incidents()).length > 0, 5000, 100);
    await mosquitto.restart();
    await waitFor(
      "both watchers see it up",
      () => watchers.every((w) => w.manager.get(BROKER)?.status === "up"),
      15_000,
    );
    await waitFor("the incident closed", async () => (await incidents()).every((i) => i.endedAt !== null), 30_000, 200);
    // both watchers saw the uptime go back; give the second's heartbeat and the trackers time
    await new Promise((r) => setTimeout(r, 2000));
    await Promise.all(trackers.map((tracker) => tracker.idle()));
    const rows = await incidents();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ broker: BROKER, kind: "restart", detectedBy: "connection_lost" });
    expect(rows[0].upAt).not.toBeNull();
    expect(rows[0].endedAt).not.toBeNull();
    expect(logged.filter((l) => l.includes("opened"))).toHaveLength(1);
    expect(logged.filter((l) => / closed: /.test(l))).toHaveLength(1);
  }, 90_000);
});
