import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from "vitest";
import { and, eq } from "drizzle-orm";
import mqtt from "mqtt";
import type { EventRow } from "@/db/ingest";
import { metricSamples } from "@/db/schema";
import { BUILTIN_RULES } from "@/lib/alerts/builtin";
import { AlertEngine } from "@/lib/alerts/engine";
import { loadRules } from "@/lib/alerts/rules";
import { freshDatabase, type TestDatabase } from "../helpers/db";
import { SYS_AND_LOG_CONFIG, startMosquitto, type RunningMosquitto } from "../helpers/mosquitto";
import { waitFor } from "../helpers/ports";
import { describeIf, needs } from "../helpers/require";
import { startWatchers, stopWatchers, type Watcher } from "../helpers/watchers";

/**
 * Two instances watching one broker, in one process on one database (helpers/watchers.ts): a
 * test can cut one instance's path to the broker only.
 */
const quiet = () => {};
const BROKER = "plant-shared";
const INSTANCES = ["inst-a", "inst-b"] as const;
const TTL_MS = 120_000;

describeIf(needs({ mosquitto: true }), "one broker watched by two instances", () => {
  let t: TestDatabase;
  let mosquitto: RunningMosquitto;
  let watchers: Watcher[] = [];

  beforeAll(async () => {
    mosquitto = await startMosquitto([...SYS_AND_LOG_CONFIG]);
  });
  afterAll(async () => {
    await mosquitto?.stop();
  });

  beforeEach(async () => {
    t = await freshDatabase();
    watchers = await startWatchers(t, mosquitto, BROKER, INSTANCES, { ttlMs: TTL_MS });
    await Promise.all(watchers.map((w) => w.manager.start()));
    await waitFor("both watchers see the broker up", () => watchers.every((w) => w.manager.get(BROKER)?.status === "up"));
  });

  afterEach(async () => {
    await stopWatchers(watchers);
    watchers = [];
    await t.drop();
  });

  const upValues = async (since: Date) =>
    (
      await t.database.db
        .select({ ts: metricSamples.ts, value: metricSamples.value })
        .from(metricSamples)
        .where(and(eq(metricSamples.broker, BROKER), eq(metricSamples.metric, "mqtt_broker_up")))
    )
      .filter((r) => r.ts >= new Date(Math.floor(since.getTime() / 1000) * 1000))
      .map((r) => r.value);

  /** MQTT_Broker_Down's state after two rounds 31 s apart (its `for` is 30 s), on what is stored now. */
  async function brokerDownState(): Promise<string | undefined> {
    let clock = Date.now();
    const engine = new AlertEngine(t.database, {
      intervalMs: 3600_000,
      rules: async () => loadRules({ builtins: BUILTIN_RULES, fileRules: [], dbRules: [] }),
      onRound: async () => {},
      now: () => clock,
      log: quiet,
      externalURL: "http://brokerwatch.test/",
    });
    await engine.start();
    clock += 31_000;
    engine.evaluateNow("test");
    await engine.idle();
    const state = engine.alerts().find((a) => a.alertname === "MQTT_Broker_Down")?.state;
    await engine.stop();
    return state;
  }

  it("stores no mqtt_broker_up 0 and pages nothing when only one instance loses the broker", async () => {
    const [a, b] = watchers;
    const cutAt = new Date();
    a.proxy.cut();
    await waitFor("instance a sees the broker down", () => a.manager.get(BROKER)?.status === "down");
    // a few of a's periodic observations and b's synthetic samples
    await new Promise((r) => setTimeout(r, 1500));
    await a.writer.flush();
    await b.writer.flush();
    expect(b.manager.get(BROKER)?.status).toBe("up");
    expect(await upValues(cutAt)).not.toContain(0);
    expect(await brokerDownState()).toBeUndefined();

    b.proxy.cut();
    await waitFor("instance b sees the broker down", () => b.manager.get(BROKER)?.status === "down");
    await waitFor(
      "mqtt_broker_up 0 stored once no watcher sees the broker",
      async () => {
        await a.writer.flush();
        await b.writer.flush();
        return (await upValues(new Date())).includes(0);
      },
      5000,
    );
    expect(await brokerDownState()).toBe("firing");
  });

  it("announces a client's connection once to the live pages, however many instances watch the broker", async () => {
    const announced: EventRow[] = [];
    for (const w of watchers)
      w.writer.on("written", ({ events }) => announced.push(...events.filter((e) => e.clientId === "live-once")));
    const client = await mqtt.connectAsync(mosquitto.url, { clientId: "live-once", reconnectPeriod: 0 });
    await client.endAsync();
    await waitFor("both watchers received the disconnect", () =>
      watchers.every((w) => w.manager.get(BROKER)!.counters.events >= 2),
    );
    await Promise.all(watchers.map((w) => w.writer.flush()));
    await waitFor("the disconnect announced", () => announced.some((e) => e.type === "disconnected"));
    await new Promise((r) => setTimeout(r, 300));
    await Promise.all(watchers.map((w) => w.writer.flush()));
    expect(announced.map((e) => e.type).sort()).toEqual(["connected", "disconnected"]);
  });
});
