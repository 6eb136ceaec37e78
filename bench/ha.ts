import { mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import mqtt from "mqtt";
import postgres from "postgres";
import { startApp, type RunningApp } from "../test/helpers/app";
import { createServerDatabase } from "../test/helpers/db";
import { startMosquitto } from "../test/helpers/mosquitto";

/**
 * ha: what an instance dying mid-storm costs. Two `npm start` processes on one Postgres watch one
 * real Mosquitto (both of them: `watchers: 2`); N clients connect and disconnect, and the leader
 * is SIGKILLed halfway through. Every ClientID must end up stored with exactly one `connected`
 * and one `disconnected` event (the survivor saw them all; the dead one's copies must not
 * double them), the survivor must show the dead instance gone and watch its brokers within
 * 10 s (takeover), and lead within 10 s (failover).
 */
const DEFAULT_CLIENTS = Number(process.env.BENCH_HA_CLIENTS ?? 1000);
const CONCURRENCY = 50;
const BROKER = "ha-storm";
const TOKEN = "bench-ha-token";
const TARGETS = { takeoverSeconds: 10, failoverSeconds: 10 };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface ApiInstance {
  name: string;
  up: boolean;
  leader: boolean;
  watching: string[];
}

async function instances(app: RunningApp): Promise<ApiInstance[]> {
  const res = await fetch(`${app.url}/api/instances`, { headers: { authorization: `Bearer ${TOKEN}` } });
  if (!res.ok) throw new Error(`GET /api/instances: ${res.status}`);
  return ((await res.json()) as { instances: ApiInstance[] }).instances;
}

async function until<T>(what: string, check: () => Promise<T | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => false as const);
    if (value !== false) return value;
    if (Date.now() > deadline) throw new Error(`ha: timed out waiting for ${what}`);
    await sleep(100);
  }
}

export async function runHaBenchmark(
  opts: { clients?: number; broker?: "defaults" | "recommended" } = {},
): Promise<Record<string, unknown>> {
  const CLIENTS = opts.clients ?? DEFAULT_CLIENTS;
  if (!process.env.DATABASE_URL) throw new Error("ha needs DATABASE_URL (several instances share one Postgres)");
  const log = (line: string) => process.stderr.write(`ha: ${line}\n`);
  // Mosquitto at its defaults (20 in flight for 3.1.1 clients, 1000 queued per client): the
  // collectors speak MQTT 5 with a large Receive Maximum, so a storm stays in flight to them rather
  // than overflowing the queue (before that, a 1000-client storm lost about 550 ClientIDs here).
  // BENCH_HA_BROKER=recommended measures with README's recommended settings instead.
  const recommended = (opts.broker ?? process.env.BENCH_HA_BROKER) === "recommended";
  const mosquitto = await startMosquitto([
    "allow_anonymous true",
    "sys_interval 1",
    "log_dest topic",
    ...(recommended ? ["max_queued_messages 100000", "max_inflight_messages 1000"] : []),
  ]);
  const server = await createServerDatabase();
  const sql = postgres(server.url, { max: 1, onnotice: () => {} });
  const dir = await mkdtemp(path.join(os.tmpdir(), "bw-bench-ha-"));
  const config = path.join(dir, "brokerwatch.yaml");
  await writeFile(
    config,
    ["watchers: 2", "brokers:", `  - name: ${BROKER}`, `    url: ${mosquitto.url}`, "    dialect: mosquitto"].join(
      "\n",
    ),
  );
  const env = (name: string) => ({
    DATABASE_URL: server.url,
    BROKERWATCH_INSTANCE: name,
    BROKERWATCH_CONFIG: config,
    BROKERWATCH_API_TOKEN: TOKEN,
    BROKERWATCH_SECRET: "bench-ha-shared-secret",
    BUNDLED_BROKER: "off",
  });
  const apps = new Map<string, RunningApp>();
  try {
    log("starting two instances");
    apps.set("ha-1", await startApp({ env: env("ha-1") }));
    apps.set("ha-2", await startApp({ env: env("ha-2") }));
    const first = apps.get("ha-1")!;
    const before = await until("both instances watching the broker", async () => {
      const list = await instances(first);
      return list.filter((i) => i.up && i.watching.includes(BROKER)).length === 2 && list.some((i) => i.leader) && list;
    });
    await until("the broker up", async () => {
      const [row] = await sql<{ status: string }[]>`select status from brokers where name = ${BROKER}`;
      return row?.status === "up";
    });
    const victimName = before.find((i) => i.leader)!.name;
    const survivorName = victimName === "ha-1" ? "ha-2" : "ha-1";
    const survivor = apps.get(survivorName)!;

    log(`storm of ${CLIENTS} clients; SIGKILL of ${victimName} (the leader) halfway`);
    let killedAt = 0;
    let killing: Promise<unknown> | null = null;
    let next = 0;
    const worker = async () => {
      while (next < CLIENTS) {
        const i = next++;
        if (i === Math.floor(CLIENTS / 2) && !killing && process.env.BENCH_HA_KILL !== "0") {
          killedAt = Date.now();
          killing = apps.get(victimName)!.stop("SIGKILL");
        }
        const client = await mqtt.connectAsync(mosquitto.url, {
          clientId: `ha-${i}`,
          reconnectPeriod: 0,
          connectTimeout: 10_000,
        });
        await client.endAsync();
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    await killing;

    const takeoverAt = await until("the survivor to see the victim gone and watch every broker", async () => {
      const list = await instances(survivor);
      const victim = list.find((i) => i.name === victimName);
      const self = list.find((i) => i.name === survivorName);
      return victim?.up === false && self?.watching.includes(BROKER) === true && Date.now();
    });
    const failoverAt = await until("the survivor to lead", async () => {
      const list = await instances(survivor);
      return list.find((i) => i.name === survivorName)?.leader === true && Date.now();
    });

    // Events settle: the count stops moving for 3 s.
    let last = -1;
    let stableSince = Date.now();
    const settleDeadline = Date.now() + 60_000;
    while (Date.now() - stableSince < 3000 && Date.now() < settleDeadline) {
      const [{ n }] = await sql<{ n: number }[]>`
        select count(*)::int as n from connection_events where broker = ${BROKER} and client_id like 'ha-%'`;
      if (n !== last) {
        last = n;
        stableSince = Date.now();
      }
      await sleep(250);
    }

    const rows = await sql<{ client_id: string; type: string; n: number }[]>`
      select client_id, type, count(*)::int as n from connection_events
       where broker = ${BROKER} and client_id like 'ha-%' and type in ('connected', 'disconnected')
       group by client_id, type`;
    const perClient = new Map<string, { connected: number; disconnected: number }>();
    for (const r of rows) {
      const c = perClient.get(r.client_id) ?? { connected: 0, disconnected: 0 };
      c[r.type as "connected" | "disconnected"] = r.n;
      perClient.set(r.client_id, c);
    }
    let stored = 0;
    let missing = 0;
    let duplicated = 0;
    const missingSample: string[] = [];
    for (let i = 0; i < CLIENTS; i++) {
      const c = perClient.get(`ha-${i}`) ?? { connected: 0, disconnected: 0 };
      if (c.connected >= 1 && c.disconnected >= 1) stored++;
      else {
        missing++;
        if (missingSample.length < 10) missingSample.push(`ha-${i}:${c.connected}/${c.disconnected}`);
      }
      if (c.connected > 1 || c.disconnected > 1) duplicated++;
    }
    if (missing)
      log(
        `survivor's log:\n${survivor.output
          .join("")
          .split("\n")
          .filter((l) => l.startsWith("brokerwatch:"))
          .slice(-30)
          .join("\n")}`,
      );
    // what Mosquitto itself dropped (its queue for a client full): lost to every watcher
    const [dropped] = await sql<{ v: number | null }[]>`
      select max(value) as v from metric_samples where broker = ${BROKER} and metric = 'mqtt_messages_dropped_total'`;
    const takeoverSeconds = Math.round((takeoverAt - killedAt) / 100) / 10;
    const failoverSeconds = Math.round((failoverAt - killedAt) / 100) / 10;
    return {
      expected: CLIENTS,
      stored,
      missing,
      duplicated,
      takeoverSeconds,
      failoverSeconds,
      targets: TARGETS,
      broker: recommended ? "recommended" : "defaults",
      brokerDropped: dropped?.v ?? null,
      ...(missing ? { missingSample } : {}),
      pass:
        missing === 0 &&
        duplicated === 0 &&
        takeoverSeconds <= TARGETS.takeoverSeconds &&
        failoverSeconds <= TARGETS.failoverSeconds,
    };
  } finally {
    await Promise.all([...apps.values()].map((a) => a.stop("SIGKILL").catch(() => {})));
    await mosquitto.stop();
    await sql.end();
    await server.drop().catch(() => {});
  }
}
