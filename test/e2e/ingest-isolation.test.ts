import mqtt from "mqtt";
import postgres from "postgres";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startApp, type RunningApp } from "../helpers/app";
import { createServerDatabase } from "../helpers/db";
import { waitFor } from "../helpers/ports";
import { describeIf, needs } from "../helpers/require";

/**
 * A page that takes seconds to render must not hold up ingest. With `npm start` on Postgres the
 * bundled broker, the collectors and the write queue run in a worker thread; here the web thread
 * is frozen outright (the BROKERWATCH_TEST_HOOKS route POST /api/debug/block, as a render that
 * never yields would) while a fleet reconnects to the bundled broker: the broker must go on
 * acknowledging them and their events must be stored before the web thread wakes up.
 */
const TOKEN = "ingest-isolation-token";
const DEVICES = 40;
/** long enough for the fleet on a loaded 2-core machine; the route allows at most 10 s */
const BLOCK_MS = 10_000;
const BUILD_TOLERANT_TIMEOUT_MS = 600_000;

interface Ingest {
  mode: "worker" | "inline";
  threadId: number;
  webThreadId: number;
}

describeIf(needs({ postgres: true }), "ingest isolated from the web thread (Postgres)", () => {
  let app: RunningApp;
  let db: { url: string; drop(): Promise<void> };
  let sql: postgres.Sql;

  const api = (pathAndQuery: string, init: RequestInit = {}) =>
    fetch(`${app.url}${pathAndQuery}`, { ...init, headers: { authorization: `Bearer ${TOKEN}` } });

  beforeAll(async () => {
    db = await createServerDatabase();
    sql = postgres(db.url, { max: 2, onnotice: () => {} });
    app = await startApp({
      env: { DATABASE_URL: db.url, BROKERWATCH_API_TOKEN: TOKEN, BROKERWATCH_TEST_HOOKS: "1" },
    });
  }, BUILD_TOLERANT_TIMEOUT_MS);

  afterAll(async () => {
    await app?.stop("SIGKILL");
    await sql?.end();
    await db?.drop();
  });

  it("runs the collectors in a thread of their own and says so in GET /api/instances", async () => {
    const res = await api("/api/instances");
    expect(res.status).toBe(200);
    const { ingest, instances } = (await res.json()) as { ingest: Ingest; instances: { self: boolean }[] };
    expect(ingest.mode).toBe("worker");
    expect(ingest.webThreadId).toBe(0);
    expect(ingest.threadId).toBeGreaterThan(0);
    // the instance identity (heartbeat row) belongs to the worker, and this instance still knows it is itself
    expect(instances.filter((i) => i.self)).toHaveLength(1);
  });

  it("keeps acknowledging devices and storing their events while a page holds the web thread for 10 s", async () => {
    // The collector of the bundled broker is connected and storing before the freeze.
    await waitFor(
      "the bundled broker up",
      async () => {
        const res = await api("/api/brokers");
        const { brokers } = (await res.json()) as { brokers: { name: string; status: string }[] };
        return brokers.find((b) => b.name === "bundled")?.status === "up";
      },
      30_000,
      200,
    );

    let blockAnsweredAt = 0;
    const block = api(`/api/debug/block?ms=${BLOCK_MS}`, { method: "POST" }).then(async (res) => {
      blockAnsweredAt = Date.now();
      return { status: res.status, body: (await res.json()) as { blockedMs: number } };
    });
    // The web thread is frozen once a plain health check no longer answers.
    await waitFor(
      "the web thread frozen",
      async () => {
        const answered = await Promise.race([
          fetch(`${app.url}/api/health`).then(() => true),
          new Promise<false>((r) => setTimeout(() => r(false), 300)),
        ]);
        return !answered;
      },
      3000,
      50,
    );

    // A fleet reconnects through the bundled broker, which runs in the ingest thread: each CONNACK
    // and PUBACK comes from there while the web thread sleeps.
    const burstStarted = Date.now();
    for (let i = 0; i < DEVICES; i++) {
      const client = await mqtt.connectAsync(app.mqttUrl!, {
        clientId: `iso-${i}`,
        clean: true,
        reconnectPeriod: 0,
        connectTimeout: 2000,
      });
      await client.publishAsync(`fleet/iso-${i}/state`, "online", { qos: 1 });
      await client.endAsync();
    }
    const acknowledgedMs = Date.now() - burstStarted;

    // Every connect and disconnect is stored, still before the web thread wakes up.
    const stored = await waitFor(
      "the fleet's events stored",
      async () => {
        const [{ n }] = await sql<{ n: number }[]>`
          select count(*)::int as n from connection_events where broker = 'bundled' and client_id like 'iso-%'`;
        return n >= DEVICES * 2 && n;
      },
      BLOCK_MS,
      100,
    );
    const storedAt = Date.now();
    // stored while the web thread still slept: it had not answered the block yet
    expect(blockAnsweredAt).toBe(0);
    expect(stored).toBe(DEVICES * 2);
    expect(acknowledgedMs).toBeLessThan(BLOCK_MS);

    // The web thread was held the whole time, and answers again afterwards.
    const { status, body } = await block;
    expect(status).toBe(200);
    expect(body.blockedMs).toBeGreaterThanOrEqual(BLOCK_MS - 50);
    expect(blockAnsweredAt).toBeGreaterThan(storedAt);
    expect((await fetch(`${app.url}/api/health`)).status).toBe(200);
  }, 60_000);

  it("shows the web side what only the worker knows: the bundled broker's gauges and the writer's counters", async () => {
    const metrics = await waitFor(
      "ingest counters in /metrics",
      async () => {
        const text = await (await api("/metrics")).text();
        const written = /^brokerwatch_ingest_events_total (\d+)/m.exec(text);
        return written && Number(written[1]) >= DEVICES * 2 && text;
      },
      5000,
      200,
    );
    expect(metrics).toMatch(/^mqtt_broker_up\{broker="bundled"[^}]*\} 1$/m);
    expect(metrics).toMatch(/^brokerwatch_instance_leader\{instance="[^"]+"\} 1$/m);
  });

  it("answers the block hook 404 unless BROKERWATCH_TEST_HOOKS=1", async () => {
    const plain = await startApp({ env: { BROKERWATCH_API_TOKEN: TOKEN } });
    try {
      const res = await fetch(`${plain.url}/api/debug/block?ms=10`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(res.status).toBe(404);
    } finally {
      await plain.stop("SIGKILL");
    }
  }, BUILD_TOLERANT_TIMEOUT_MS);
});
