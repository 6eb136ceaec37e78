import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import postgres from "postgres";
import { afterAll, expect, it } from "vitest";
import { createServerDatabase } from "../helpers/db";
import { writeConfigFile } from "../helpers/fixtures";
import { SYS_AND_LOG_CONFIG, startMosquitto, type RunningMosquitto } from "../helpers/mosquitto";
import { waitFor } from "../helpers/ports";
import { describeIf, needs } from "../helpers/require";
import { spawnService, type ServiceProcess } from "../helpers/service-process";

/**
 * Issue 19 §7: brokerwatch frozen for 30 s (SIGSTOP: a long GC pause, a throttled container, a
 * stuck disk) recorded "Restart of plant-a: 60 dropped, 54 never came back" while the broker's
 * uptime never reset. Our blindness is ours: no broker incident, no "down", and a gap recorded as
 * brokerwatch's. Real processes: a fleet stays connected to a real Mosquitto throughout.
 */
for (const backend of ["postgres", "pglite"] as const) {
  describeIf(needs({ mosquitto: true, postgres: backend === "postgres" }), `brokerwatch paused for 30 s (${backend})`, () => {
    let mosquitto: RunningMosquitto;
    let service: ServiceProcess | null = null;
    const fleet: MqttClient[] = [];
    let drop = async () => {};
    let sql: postgres.Sql | null = null;
    afterAll(async () => {
      await service?.stop("SIGKILL");
      await Promise.all(fleet.map((c) => c.endAsync().catch(() => {})));
      await sql?.end();
      await mosquitto?.stop();
      await drop();
    });

    it("records a gap of its own and no broker incident", async () => {
      mosquitto = await startMosquitto([...SYS_AND_LOG_CONFIG]);
      let databaseUrl: string | undefined;
      if (backend === "postgres") {
        const server = await createServerDatabase();
        drop = server.drop;
        databaseUrl = server.url;
        sql = postgres(server.url, { max: 1, onnotice: () => {} });
      }
      const config = await writeConfigFile(["brokers:", "  - name: plant-a", `    url: ${mosquitto.url}`, "    dialect: mosquitto"]);
      service = spawnService({
        databaseUrl,
        dataDir: await mkdtemp(path.join(os.tmpdir(), "bw-pause-")),
        bundled: null,
        configPath: config,
        secret: "own-pause-secret",
        instanceName: "pause-test",
        incidents: { minSettleMs: 1000, quietMs: 1000, maxSettleMs: 5000, tickMs: 500 },
      });
      await service.ready;
      await waitFor("the broker up", () => /broker plant-a is up/.test(service!.log()), 60_000, 200);
      for (let i = 0; i < 10; i++)
        fleet.push(await mqtt.connectAsync(mosquitto.url, { clientId: `fleet-${i}`, keepalive: 5, reconnectPeriod: 1000 }));

      service.signal("SIGSTOP");
      await new Promise((r) => setTimeout(r, 30_000));
      service.signal("SIGCONT");

      await waitFor("the pause recorded as ours", () => /did not read for [\d.]+ s \(paused or stalled\)/.test(service!.log()), 60_000, 200);
      // give a wrong incident every chance to appear: the closing job runs every 0.5 s
      await new Promise((r) => setTimeout(r, 3000));
      const log = service.log();
      expect(log).not.toMatch(/incident \d+ opened/);
      expect(log).not.toMatch(/broker plant-a is down/);
      if (sql) {
        const gaps = await sql<{ cause: string; reason: string; seconds: number }[]>`
          select cause, reason, extract(epoch from ended_at - started_at)::float as seconds from collector_gaps where broker = 'plant-a'`;
        expect(gaps.filter((g) => g.cause === "brokerwatch" && g.seconds >= 25)).toHaveLength(1);
        expect(gaps.filter((g) => g.cause === "broker")).toEqual([]);
        const [{ n }] = await sql<{ n: number }[]>`select count(*)::int as n from broker_incidents`;
        expect(n).toBe(0);
      }
    }, 240_000);
  });
}
