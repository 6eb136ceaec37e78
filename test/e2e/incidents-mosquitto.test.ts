import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, beforeAll, expect, it } from "vitest";
import { GET as getBrokerIncidents } from "@/app/api/brokers/[name]/incidents/route";
import { GET as getIncident } from "@/app/api/incidents/[id]/route";
import type { Service } from "@/server/service";
import { writeConfigFile } from "../helpers/fixtures";
import { startTestService } from "../helpers/service";
import { startMosquitto, SYS_AND_LOG_CONFIG, type RunningMosquitto } from "../helpers/mosquitto";
import { waitFor } from "../helpers/ports";
import { describeIf, needs } from "../helpers/require";

/**
 * Broker incidents against the real `mosquitto`: persistent clients (clean session 0, QoS 1
 * subscriptions) with QoS 1 messages queued while they are offline, then the broker killed and
 * restarted on the same port. Without persistence the incident shows the sessions and queued
 * messages lost and says persistence is off; with persistence and a graceful restart (SIGTERM:
 * Mosquitto saves its store) it does not.
 */
const TOKEN = "test-token-incidents";

const SYS_CONFIG = SYS_AND_LOG_CONFIG;

type Json = Record<string, unknown>;
interface ApiIncident {
  id: number;
  broker: string;
  kind: string;
  endedAt: string | null;
  detectedBy: string;
  clientsDropped: number;
  clientsBack1m: number;
  clientsBack5m: number;
  sessionsBefore: number | null;
  sessionsAfter: number | null;
  queuedBefore: number | null;
  queuedAfter: number | null;
  downSeconds: number;
  findings: {
    code: string;
    severity: string;
    title: string;
    detail: string;
    evidence: { summary: string }[];
    fix: string;
  }[];
}

function connect(url: string, clientId: string, reconnectPeriod = 300, clean = false): Promise<MqttClient> {
  const client = mqtt.connect(url, { clientId, clean, reconnectPeriod, connectTimeout: 2000 });
  client.on("error", () => {});
  return new Promise((resolve, reject) => {
    client.once("connect", () => resolve(client));
    setTimeout(() => reject(new Error(`${clientId} did not connect`)), 10_000);
  });
}

async function end(client: MqttClient): Promise<void> {
  await new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
}

describeIf(needs({ mosquitto: true }), "broker incidents on a real Mosquitto", () => {
  let lossy: RunningMosquitto;
  let durable: RunningMosquitto;
  let service: Service;
  let dataDir: string;
  let dropDatabase: (() => Promise<void>) | undefined;
  const clients: MqttClient[] = [];
  const previousToken = process.env.BROKERWATCH_API_TOKEN;

  const request = (p: string) =>
    new Request(`http://brokerwatch.test${p}`, { headers: { authorization: `Bearer ${TOKEN}` } });

  async function incidents(broker: string): Promise<ApiIncident[]> {
    const res = await getBrokerIncidents(request(`/api/brokers/${broker}/incidents?from=1h`), {
      params: Promise.resolve({ name: broker }),
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { incidents: ApiIncident[] }).incidents;
  }

  const latest = (broker: string, metric: string) =>
    service.collectors.get(broker)?.latest.get(`${metric}|`)?.value ?? null;

  /** Two persistent clients stay connected, two go offline with 5 QoS 1 messages each queued, one will never return. */
  async function fleet(broker: RunningMosquitto, name: string): Promise<{ online: MqttClient[]; offline: string[] }> {
    const online: MqttClient[] = [];
    for (const id of [`${name}-meter-1`, `${name}-meter-2`]) {
      // retrying every 1.5 s: brokerwatch (backoff from 200 ms) is back first and sees them return;
      // a client back before brokerwatch resubscribed to the log is not seen (docs/contract.md §7)
      const c = await connect(broker.url, id, 1500);
      await c.subscribeAsync(`${name}/cmd/#`, { qos: 1 });
      online.push(c);
    }
    const gone = await connect(broker.url, `${name}-meter-gone`, 0);
    await gone.subscribeAsync(`${name}/cmd/#`, { qos: 1 });
    clients.push(...online, gone);
    const offline = [`${name}-meter-3`, `${name}-meter-4`];
    for (const id of offline) {
      const c = await connect(broker.url, id, 0);
      await c.subscribeAsync(`${name}/cmd/#`, { qos: 1 });
      await end(c);
    }
    const publisher = await connect(broker.url, `${name}-publisher`, 0, true);
    for (let i = 0; i < 5; i++) await publisher.publishAsync(`${name}/cmd/valve`, `close ${i}`, { qos: 1 });
    await end(publisher);
    // Mosquitto stores a message once however many sessions it is queued for: 5 in the store.
    // Its store count also holds what is in flight to brokerwatch's own session (log lines come
    // in bursts), so wait until two updates in a row read the 5.
    let previous: number | null = null;
    await waitFor(
      `${name}: 5 queued messages seen`,
      async () => {
        const now = latest(name, "mqtt_queued_messages");
        const settled = now === 5 && previous === 5;
        previous = now;
        return settled;
      },
      20_000,
      1000,
    );
    await waitFor(
      `${name}: the persistent sessions seen`,
      async () => (latest(name, "mqtt_sessions") ?? 0) >= 6,
      15_000,
      200,
    );
    // let a quiet $SYS update land, so the last good sample before the incident is this state with
    // nothing of brokerwatch's own in flight (the count changed while the publisher's log lines were)
    const settledAt = Date.now();
    await waitFor(
      `${name}: a count with nothing of brokerwatch's own in flight`,
      async () => {
        const own = service.collectors.get(name)?.latest.get("mqtt_queued_own_max_messages|");
        return own !== undefined && own.ts.getTime() >= settledAt - 1000 && own.value === 0;
      },
      10_000,
      100,
    );
    return { online, offline };
  }

  async function closedIncident(broker: string): Promise<ApiIncident> {
    return waitFor(
      `${broker}: incident closed`,
      async () => (await incidents(broker)).find((i) => i.endedAt !== null),
      60_000,
      500,
    );
  }

  async function incidentDetail(id: number) {
    const res = await getIncident(request(`/api/incidents/${id}`), { params: Promise.resolve({ id: String(id) }) });
    expect(res.status).toBe(200);
    return ((await res.json()) as { incident: ApiIncident & { series: Record<string, [number, number][]> } }).incident;
  }

  beforeAll(async () => {
    process.env.BROKERWATCH_API_TOKEN = TOKEN;
    [lossy, durable] = await Promise.all([
      startMosquitto([...SYS_CONFIG]),
      startMosquitto([...SYS_CONFIG, "persistence true", "persistence_location ${dir}/", "autosave_interval 3600"]),
    ]);
    // mosquitto drops to its own user: let it write its store into the run's directory
    await chmod(durable.dir, 0o777);
    dataDir = await mkdtemp(path.join(os.tmpdir(), "bw-incidents-"));
    const brokers = { lossy, durable };
    const configPath = await writeConfigFile([
      "brokers:",
      ...Object.entries(brokers).flatMap(([name, b]) => [
        `  - name: ${name}`,
        `    url: ${b.url}`,
        "    dialect: mosquitto",
      ]),
    ]);
    ({ service, dropDatabase } = await startTestService({
      dataDir,
      configPath,
      env: {},
      secret: "incidents-test-service-key",
      bundled: null,
      timing: { backoffBaseMs: 200, backoffCapMs: 1000 },
      incidents: { minSettleMs: 4000, quietMs: 2500, maxSettleMs: 30_000, tickMs: 500 },
      log: () => {},
    }));
    await waitFor(
      "both brokers up",
      async () => service.collectors.list().every((c) => c.status === "up"),
      20_000,
      200,
    );
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.end(true);
    await service?.stop();
    await lossy?.stop();
    await durable?.stop();
    await dropDatabase?.();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    process.env.BROKERWATCH_API_TOKEN = previousToken;
  });

  it("records a SIGKILLed broker without persistence: clients dropped and back, sessions and queued messages lost, persistence off", async () => {
    const { offline } = await fleet(lossy, "lossy");
    const exited = new Promise((resolve) => lossy.process.once("exit", resolve));
    lossy.signal("SIGKILL");
    await exited;
    await waitFor("lossy seen down", async () => service.collectors.get("lossy")?.status === "down", 10_000, 100);
    await lossy.restart();
    await waitFor("lossy up again", async () => service.collectors.get("lossy")?.status === "up", 15_000, 100);
    // the offline clients come back later, to sessions the broker no longer has
    for (const id of offline) clients.push(await connect(lossy.url, id));

    const incident = await closedIncident("lossy");
    expect(incident).toMatchObject({
      broker: "lossy",
      kind: "restart",
      detectedBy: "connection_lost",
      clientsDropped: 3,
      clientsBack1m: 2,
      clientsBack5m: 2,
      queuedBefore: 5,
      queuedAfter: 0,
    });
    // collector + 3 connected + 2 offline persistent sessions before; the restarted broker had none of the offline ones
    expect(incident.sessionsBefore).toBe(6);
    expect(incident.sessionsAfter).toBeLessThan(6);
    const finding = incident.findings.find((f) => f.code === "persistence_off");
    expect(finding).toMatchObject({ severity: "critical" });
    // "5 queued messages before", and when the broker counted log lines in flight to brokerwatch too, how many
    expect(finding!.evidence.map((e) => e.summary).some((summary) => /^5 queued messages before\b/.test(summary))).toBe(
      true,
    );
    expect(finding!.detail).toMatch(/lost 5 queued message\(s\) and 2 offline persistent session\(s\)/);

    const res = await getIncident(request(`/api/incidents/${incident.id}`), {
      params: Promise.resolve({ id: String(incident.id) }),
    });
    expect(res.status).toBe(200);
    const { incident: detail } = (await res.json()) as {
      incident: ApiIncident & { clientsNeverBack: Json[]; series: Record<string, [number, number][]> };
    };
    expect(detail.clientsNeverBack).toEqual([{ clientId: "lossy-meter-gone", traceURL: "/clients/lossy-meter-gone" }]);
    expect(detail.series.mqtt_queued_messages.some(([, v]) => v === 5)).toBe(true);
    expect(detail.series.mqtt_memory_bytes ?? detail.series.mqtt_sessions).toBeDefined();
  }, 120_000);

  it("finds no loss at all after a graceful restart of a broker with persistence (SIGTERM saves the store)", async () => {
    const { offline } = await fleet(durable, "durable");
    await durable.restart();
    await waitFor("durable up again", async () => service.collectors.get("durable")?.status === "up", 15_000, 100);
    // after the window the "after" values are read in, so their restored queues are not drained yet
    await new Promise((r) => setTimeout(r, 5000));
    for (const id of offline) clients.push(await connect(durable.url, id));

    const incident = await closedIncident("durable");
    expect(incident).toMatchObject({ broker: "durable", kind: "restart", queuedBefore: 5 });
    // the devices' 5 survived (the count after may still hold some of brokerwatch's own redelivered lines)
    expect(incident.queuedAfter).toBeGreaterThanOrEqual(5);
    // neither persistence_off nor autosave_too_rare, nor anything else: a clean, deliberate restart
    expect(incident.findings.map((f) => f.code)).toEqual([]);
  }, 120_000);

  it("answers 404 for an unknown broker or incident and 400 for a bad id or time", async () => {
    const unknown = await getBrokerIncidents(request("/api/brokers/nope/incidents"), {
      params: Promise.resolve({ name: "nope" }),
    });
    expect(unknown.status).toBe(404);
    const badTime = await getBrokerIncidents(request("/api/brokers/lossy/incidents?from=yesterday"), {
      params: Promise.resolve({ name: "lossy" }),
    });
    expect(badTime.status).toBe(400);
    const badId = await getIncident(request("/api/incidents/abc"), { params: Promise.resolve({ id: "abc" }) });
    expect(badId.status).toBe(400);
    const missing = await getIncident(request("/api/incidents/999999"), { params: Promise.resolve({ id: "999999" }) });
    expect(missing.status).toBe(404);
    const anonymous = await getIncident(new Request("http://brokerwatch.test/api/incidents/1"), {
      params: Promise.resolve({ id: "1" }),
    });
    expect(anonymous.status).toBe(401);
  });
});
