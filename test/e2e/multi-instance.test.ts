import mqtt from "mqtt";
import postgres from "postgres";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startApp, type RunningApp } from "../helpers/app";
import { writeConfigFile } from "../helpers/fixtures";
import { createServerDatabase } from "../helpers/db";
import { startMosquitto, type RunningMosquitto } from "../helpers/mosquitto";
import { waitFor } from "../helpers/ports";
import { describeIf, needs } from "../helpers/require";
import { newWebhookSecret, startWebhookReceiver, type WebhookReceiver } from "../helpers/webhook-receiver";

/**
 * Several `npm start` processes on one Postgres, as an operator runs them for a monitor that must
 * outlive any one process: three instances, two real Mosquitto brokers, one webhook receiver.
 * The tests run in order and share the processes: the spread first, then the live stream across
 * instances, then an instance is SIGKILLed (its brokers move), then the leader is SIGKILLed while
 * a broker is down (the page must still go out exactly once).
 */
const TOKEN = "multi-instance-token";
const NAMES = ["inst-a", "inst-b", "inst-c"] as const;
const BROKERS = ["plant-1", "plant-2"] as const;
const BUILD_TOLERANT_TIMEOUT_MS = 600_000;
/** Lease TTL is 8 s and heartbeats every 2 s: ≤ 10 s, plus room for a busy test machine. */
const TAKEOVER_BUDGET_MS = 15_000;

interface ApiInstance {
  name: string;
  url: string | null;
  up: boolean;
  leader: boolean;
  watching: string[];
  lastSeenAt: string;
  self: boolean;
}

describeIf(needs({ mosquitto: true, postgres: true }), "several instances on one Postgres", () => {
  const apps = new Map<string, RunningApp>();
  const mosquittos = new Map<string, RunningMosquitto>();
  let receiver: WebhookReceiver;
  let db: { url: string; drop(): Promise<void> };
  let sql: postgres.Sql;

  const alive = () =>
    [...apps.entries()].filter(([, a]) => a.process.exitCode === null && a.process.signalCode === null);

  async function api<T>(app: RunningApp, pathAndQuery: string): Promise<T> {
    const res = await fetch(`${app.url}${pathAndQuery}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    if (!res.ok) {
      // what the instance logged says why (a 500 is logged there, not sent)
      const log = app.output.join("").slice(-1500);
      throw new Error(`GET ${pathAndQuery}: ${res.status} ${await res.text()}\n${log}`);
    }
    return (await res.json()) as T;
  }

  const instances = async (app = alive()[0][1]) =>
    (await api<{ instances: ApiInstance[] }>(app, "/api/instances")).instances;

  /** broker → the live instances watching it */
  function watchersOf(list: ApiInstance[]): Map<string, string[]> {
    const out = new Map<string, string[]>(BROKERS.map((b) => [b, []]));
    for (const i of list) if (i.up) for (const b of i.watching) out.get(b)?.push(i.name);
    return out;
  }

  /**
   * The steady assignment: three live instances, each broker watched by two, the four watch slots
   * spread 2, 1, 1. Instances apply a change of the live set at their next heartbeat, so right
   * after the third joins the first two may still watch both brokers for a beat or two.
   */
  function settled(): Promise<ApiInstance[]> {
    return waitFor(
      "every broker watched by two live instances, spread evenly",
      async () => {
        const l = await instances();
        const w = watchersOf(l);
        const loads = l.map((i) => i.watching.length).sort();
        return (
          l.filter((i) => i.up).length === 3 &&
          BROKERS.every((b) => w.get(b)!.length === 2) &&
          loads.join() === "1,1,2" &&
          l
        );
      },
      TAKEOVER_BUDGET_MS,
      200,
    );
  }

  beforeAll(async () => {
    receiver = await startWebhookReceiver({ secret: newWebhookSecret() });
    for (const name of BROKERS)
      mosquittos.set(name, await startMosquitto(["allow_anonymous true", "sys_interval 1", "log_dest topic"]));
    const config = await writeConfigFile([
      "watchers: 2",
      "brokers:",
      ...BROKERS.flatMap((b) => [`  - name: ${b}`, `    url: ${mosquittos.get(b)!.url}`, "    dialect: mosquitto"]),
      "rules:",
      "  - alert: MQTT_Broker_Down",
      "    expr: mqtt_broker_up == 0",
      "    for: 0s",
      "webhooks:",
      "  - name: oncall",
      "    url: ${RECEIVER_URL}",
      "    secret: ${WEBHOOK_SECRET}",
      "    sendResolved: true",
    ]);
    db = await createServerDatabase();
    sql = postgres(db.url, { max: 1, onnotice: () => {} });
    const env = (name: string) => ({
      DATABASE_URL: db.url,
      BROKERWATCH_INSTANCE: name,
      BROKERWATCH_CONFIG: config,
      BROKERWATCH_API_TOKEN: TOKEN,
      // One key for the deployment: each instance decrypts what another stored (webhook secrets).
      BROKERWATCH_SECRET: "multi-instance-shared-secret",
      BUNDLED_BROKER: "off",
      RECEIVER_URL: receiver.url,
      WEBHOOK_SECRET: receiver.secret,
    });
    // The first alone (it may build the app and migrates), then the other two together.
    apps.set(NAMES[0], await startApp({ env: env(NAMES[0]) }));
    const rest = await Promise.all(NAMES.slice(1).map((n) => startApp({ env: env(n) })));
    NAMES.slice(1).forEach((n, i) => apps.set(n, rest[i]));
  }, BUILD_TOLERANT_TIMEOUT_MS);

  afterAll(async () => {
    await Promise.all([...apps.values()].map((a) => a.stop("SIGKILL")));
    await Promise.all([...mosquittos.values()].map((m) => m.stop()));
    await receiver?.close();
    await sql?.end();
    await db?.drop();
  });

  it("watches each broker from two of the three instances, spread evenly, with exactly one leader", async () => {
    const list = await settled();
    // four watch slots over three instances: 2, 1, 1 — nobody idle, nobody with both brokers twice over
    expect(list.map((i) => i.watching.length).sort()).toEqual([1, 1, 2]);
    expect(list.filter((i) => i.leader)).toHaveLength(1);
    // every instance answers the same, and says which one it is
    for (const [name, app] of apps) {
      const seen = await instances(app);
      expect(seen.find((i) => i.self)?.name).toBe(name);
    }
    await waitFor(
      "both brokers up",
      async () => {
        const { brokers } = await api<{ brokers: { name: string; status: string }[] }>(
          apps.get(NAMES[0])!,
          "/api/brokers",
        );
        return BROKERS.every((b) => brokers.find((x) => x.name === b)?.status === "up");
      },
      20_000,
      200,
    );
    // /metrics exports the same picture
    const text = await (
      await fetch(`${apps.get(NAMES[1])!.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })
    ).text();
    for (const i of list) {
      expect(text).toContain(`brokerwatch_instance_up{instance="${i.name}"} 1`);
      expect(text).toContain(`brokerwatch_instance_leader{instance="${i.name}"} ${i.leader ? 1 : 0}`);
      for (const b of i.watching)
        expect(text).toContain(`brokerwatch_instance_watching{instance="${i.name}",broker="${b}"} 1`);
    }
  });

  it("streams, on an instance that does not watch a broker, the events another instance collected from it", async () => {
    const list = await settled();
    const broker = BROKERS[0];
    const outsider = list.find((i) => i.up && !i.watching.includes(broker))!;
    expect(outsider).toBeDefined();
    const app = apps.get(outsider.name)!;
    const controller = new AbortController();
    const res = await fetch(`${app.url}/api/stream/events?broker=${broker}`, {
      headers: { authorization: `Bearer ${TOKEN}` },
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    let text = "";
    const reading = (async () => {
      const decoder = new TextDecoder();
      const reader = res.body!.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
    })().catch(() => {});
    await waitFor("the backlog", () => text.includes("event: backlog"), 10_000);
    const clientId = `live-across-${Date.now()}`;
    const client = await mqtt.connectAsync(mosquittos.get(broker)!.url, { clientId, reconnectPeriod: 0 });
    try {
      await waitFor(
        `${clientId} on ${outsider.name}'s live stream`,
        () => /event: events\ndata: .*live-across-/.test(text),
        15_000,
      );
    } finally {
      await client.endAsync();
      controller.abort();
      await reading;
    }
  });

  it("hands a SIGKILLed instance's brokers to the others within ten seconds, without a gap", async () => {
    const before = await instances();
    const victim = before.find((i) => i.up && !i.leader && i.watching.length > 0)!;
    expect(victim).toBeDefined();
    const killedAt = Date.now();
    await apps.get(victim.name)!.stop("SIGKILL");
    const after = await waitFor(
      `${victim.name} down and its brokers watched by the two others`,
      async () => {
        const l = await instances();
        const w = watchersOf(l);
        return l.find((i) => i.name === victim.name)?.up === false && BROKERS.every((b) => w.get(b)!.length === 2) && l;
      },
      TAKEOVER_BUDGET_MS,
      200,
    );
    const takeoverMs = Date.now() - killedAt;
    expect(takeoverMs).toBeLessThan(TAKEOVER_BUDGET_MS);
    expect(after.find((i) => i.name === victim.name)!.watching).toEqual([]);
    // The other watcher saw the brokers all along: up, and no gap in their history.
    const { brokers } = await api<{ brokers: { name: string; status: string }[] }>(alive()[0][1], "/api/brokers");
    for (const b of BROKERS) expect(brokers.find((x) => x.name === b)?.status).toBe("up");
    const gaps = await sql`select broker from collector_gaps where broker in ${sql([...BROKERS])}`;
    expect(gaps).toEqual([]);
  });

  it("pages exactly once, with one webhook-id, when the leader is SIGKILLed while a broker is down", async () => {
    const broker = BROKERS[1];
    const isFiring = (r: (typeof receiver.requests)[number]) =>
      r.answered === 200 && r.json?.status === "firing" && r.json.commonLabels.broker === broker;
    const isResolved = (r: (typeof receiver.requests)[number]) =>
      r.answered === 200 && r.json?.status === "resolved" && r.json.commonLabels.broker === broker;

    await mosquittos.get(broker)!.stop();
    await waitFor("the firing page", () => receiver.requests.some(isFiring), 20_000, 100);
    const leader = (await instances()).find((i) => i.leader)!;
    const killedAt = Date.now();
    await apps.get(leader.name)!.stop("SIGKILL");
    const survivor = alive()[0];
    await waitFor(
      "another instance leading",
      async () => (await instances(survivor[1])).some((i) => i.leader && i.name !== leader.name && i.up),
      TAKEOVER_BUDGET_MS,
      200,
    );
    const failoverMs = Date.now() - killedAt;
    expect(failoverMs).toBeLessThan(TAKEOVER_BUDGET_MS);
    // Several rounds of the new leader, which restored the firing alert and must not page again.
    await new Promise((r) => setTimeout(r, 4000));
    const firing = receiver.requests.filter(isFiring);
    expect(firing).toHaveLength(1);

    // The broker comes back: the new leader resolves the alert the old one fired, once.
    await mosquittos.get(broker)!.restart();
    await waitFor("the resolved page", () => receiver.requests.some(isResolved), 30_000, 100);
    await new Promise((r) => setTimeout(r, 2000));
    expect(receiver.requests.filter(isResolved)).toHaveLength(1);
    expect(new Set(receiver.requests.filter(isFiring).map((r) => r.headers["webhook-id"])).size).toBe(1);
    // Both watchers saw the broker go down: one gap, closed when it came back.
    const gaps = await sql<{ ended_at: Date | null }[]>`select ended_at from collector_gaps where broker = ${broker}`;
    expect(gaps).toHaveLength(1);
    await waitFor("the gap closed", async () => {
      const [gap] = await sql<
        { ended_at: Date | null }[]
      >`select ended_at from collector_gaps where broker = ${broker}`;
      return gap.ended_at !== null;
    });
    expect(
      receiver.requests.filter((r) => r.json?.commonLabels?.broker === broker).every((r) => r.signatureValid),
    ).toBe(true);
  });
});
