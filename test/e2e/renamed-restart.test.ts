import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import mqtt from "mqtt";
import postgres from "postgres";
import { afterAll, expect, it } from "vitest";
import { createServerDatabase } from "../helpers/db";
import { writeConfigFile } from "../helpers/fixtures";
import { SYS_AND_LOG_CONFIG, startMosquitto, type RunningMosquitto } from "../helpers/mosquitto";
import { waitFor } from "../helpers/ports";
import { describeIf, needs } from "../helpers/require";
import { spawnService, type ServiceProcess } from "../helpers/service-process";

/**
 * Issue 19 §2: an instance SIGKILLed during a connect storm and started again 2 s later under
 * another name (a new port, a re-created pod) lost 19% of the events: they sat in the old
 * instance's broker session, which nobody read, and which never expired. Now the new instance
 * adopts the gone one's session: every event is stored exactly once and no session of
 * brokerwatch's is left offline in the broker. Real processes, a real Mosquitto whose queue per
 * client is large enough to hold the storm (max_queued_messages).
 */
const CLIENTS = 300;
const CONCURRENCY = 15;

describeIf(needs({ mosquitto: true, postgres: true }), "a restart under another name mid-storm", () => {
  let mosquitto: RunningMosquitto;
  const processes: ServiceProcess[] = [];
  let drop = async () => {};
  let sql: postgres.Sql | null = null;
  afterAll(async () => {
    for (const p of processes) await p.stop("SIGKILL");
    await sql?.end();
    await mosquitto?.stop();
    await drop();
  });

  it("stores every event exactly once and leaves no brokerwatch session behind", async () => {
    mosquitto = await startMosquitto([...SYS_AND_LOG_CONFIG, "max_queued_messages 100000", "max_inflight_messages 0"]);
    const server = await createServerDatabase();
    drop = server.drop;
    sql = postgres(server.url, { max: 1, onnotice: () => {} });
    const config = await writeConfigFile(["brokers:", "  - name: plant", `    url: ${mosquitto.url}`, "    dialect: mosquitto"]);
    const options = async (instanceName: string) => ({
      databaseUrl: server.url,
      dataDir: await mkdtemp(path.join(os.tmpdir(), "bw-rename-")),
      bundled: null,
      configPath: config,
      secret: "renamed-restart-secret",
      instanceName,
      cluster: { ttlMs: 3000, heartbeatMs: 500 },
    });
    const first = spawnService(await options("host-a:40001"));
    processes.push(first);
    await first.ready;
    await waitFor(
      "the broker up",
      async () => (await sql!<{ status: string }[]>`select status from brokers where name = 'plant'`)[0]?.status === "up",
      60_000,
      200,
    );

    let next = 0;
    let killed: Promise<unknown> | null = null;
    let second: ServiceProcess | null = null;
    const worker = async () => {
      while (next < CLIENTS) {
        const i = next++;
        if (i === Math.floor(CLIENTS / 3) && !killed) {
          killed = first.stop("SIGKILL").then(async () => {
            // started again 2 s later, on another port and so under another name
            await new Promise((r) => setTimeout(r, 2000));
            second = spawnService(await options("host-a:40002"));
            processes.push(second);
          });
        }
        const client = await mqtt.connectAsync(mosquitto.url, { clientId: `storm-${i}`, reconnectPeriod: 0, connectTimeout: 30_000 });
        await client.endAsync();
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    await killed;
    await second!.ready;

    const stored = async () =>
      sql!<{ client_id: string; type: string; n: number }[]>`
        select client_id, type, count(*)::int as n from connection_events
         where broker = 'plant' and client_id like 'storm-%' and type in ('connected', 'disconnected')
         group by client_id, type`;
    await waitFor("every client's connect and disconnect stored", async () => (await stored()).length === 2 * CLIENTS, 120_000, 500).catch(
      () => {},
    );
    const rows = await stored();
    const missing = 2 * CLIENTS - rows.length;
    const duplicated = rows.filter((r) => r.n > 1).length;
    expect({ missing, duplicated }).toEqual({ missing: 0, duplicated: 0 });
    const adopted = await waitFor(
      "the gone instance's session adopted",
      () => /adopted instance host-a:40001's session on plant: (\d+) queued message\(s\) stored, session ended/.exec(second!.log()),
      60_000,
      200,
    );
    expect(Number(adopted[1])).toBeGreaterThan(0);

    // No session of brokerwatch's left offline: Mosquitto's count of disconnected persistent clients.
    const watcher = await mqtt.connectAsync(mosquitto.url, { clientId: "test-sys-reader", reconnectPeriod: 0 });
    try {
      const offline = await waitFor(
        "no offline session",
        () =>
          new Promise<number | false>((resolve) => {
            const onMessage = (topic: string, payload: Buffer) => {
              if (topic !== "$SYS/broker/clients/disconnected") return;
              watcher.off("message", onMessage);
              const n = Number(payload.toString());
              resolve(n === 0 ? 0.5 : false);
            };
            watcher.on("message", onMessage);
            void watcher.subscribeAsync("$SYS/broker/clients/disconnected");
            setTimeout(() => resolve(false), 3000);
          }),
        60_000,
        500,
      );
      expect(offline).toBe(0.5);
    } finally {
      await watcher.endAsync();
    }
  }, 400_000);
});
