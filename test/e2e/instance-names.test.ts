import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { createServerDatabase } from "../helpers/db";
import { writeConfigFile } from "../helpers/fixtures";
import { SYS_AND_LOG_CONFIG, startMosquitto, type RunningMosquitto } from "../helpers/mosquitto";
import { describeIf, needs } from "../helpers/require";
import { spawnService, type ServiceProcess } from "../helpers/service-process";

/**
 * Issue 19 §1: `HOSTNAME=0.0.0.0 PORT=3000` on two hosts named both instances `0.0.0.0:3000`, so
 * both collectors used one ClientID: 59 takeovers in 25 s and the broker flapping in both logs.
 * Two real processes on one Postgres claiming one name: the second refuses to start, naming the
 * first, and the broker never logs a takeover of brokerwatch's ClientID.
 */
describeIf(needs({ mosquitto: true, postgres: true }), "two processes with one instance name", () => {
  let mosquitto: RunningMosquitto;
  const processes: ServiceProcess[] = [];
  let dropDatabase = async () => {};
  afterAll(async () => {
    for (const p of processes) await p.stop("SIGKILL");
    await mosquitto?.stop();
    await dropDatabase();
  });

  it("refuses the second at start with a message naming the first, and no session is taken over", async () => {
    mosquitto = await startMosquitto([...SYS_AND_LOG_CONFIG, "log_dest stdout"]);
    const server = await createServerDatabase();
    dropDatabase = server.drop;
    const config = await writeConfigFile(["brokers:", "  - name: plant", `    url: ${mosquitto.url}`, "    dialect: mosquitto"]);
    const options = async () => ({
      databaseUrl: server.url,
      dataDir: await mkdtemp(path.join(os.tmpdir(), "bw-names-")),
      bundled: null,
      configPath: config,
      secret: "instance-names-secret",
      instanceName: "0.0.0.0:3000",
      cluster: { ttlMs: 3000, heartbeatMs: 500 },
    });
    const first = spawnService(await options());
    processes.push(first);
    await first.ready;
    const second = spawnService(await options());
    processes.push(second);
    const code = await second.exited;
    expect(code).toBe(1);
    expect(second.log()).toMatch(/instance name "0\.0\.0\.0:3000" is held by another live brokerwatch process/);
    expect(second.log()).not.toMatch(/service ready/);
    // the first keeps watching, and nobody took its session
    expect(first.process.exitCode).toBeNull();
    const takeovers = mosquitto.output.join("").split("\n").filter((l) => /already connected, closing old connection/.test(l));
    expect(takeovers).toEqual([]);
    expect(first.log()).not.toMatch(/ClientID clash|is down/);
  }, 180_000);
});
