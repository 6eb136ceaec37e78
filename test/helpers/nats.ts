import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { NATS_SERVER } from "./require";
import { freePort, waitFor } from "./ports";

/**
 * A real Debian `nats-server` (2.9) with its MQTT listener, on free loopback ports: MQTT needs
 * JetStream and a server_name. MQTT clients log in as `mqttuser`/`mqttpass` in the named account
 * APP (the global account `$G` publishes no connect/disconnect events before 2.12); the system
 * account's user is `sys`/`syspass`.
 */
export interface RunningNats {
  mqttUrl: string;
  monitorUrl: string;
  natsUrl: string;
  mqttPort: number;
  dir: string;
  output: string[];
  process: ChildProcess;
  stop(): Promise<void>;
  signal(sig: NodeJS.Signals): void;
  restart(): Promise<void>;
}

export const NATS_MQTT_USER = { username: "mqttuser", password: "mqttpass" };
export const NATS_SYS_USER = { username: "sys", password: "syspass" };

export async function startNats(): Promise<RunningNats> {
  if (!NATS_SERVER) throw new Error("nats-server binary not found");
  const dir = await mkdtemp(path.join(os.tmpdir(), "bw-nats-"));
  const [port, httpPort, mqttPort] = [await freePort(), await freePort(), await freePort()];
  const conf = `server_name: bw-nats-test
listen: 127.0.0.1:${port}
http: 127.0.0.1:${httpPort}
jetstream {
  store_dir: "${dir}/js"
  max_memory_store: 64MB
  max_file_store: 256MB
}
accounts {
  SYS: { users: [ { user: ${NATS_SYS_USER.username}, password: ${NATS_SYS_USER.password} } ] }
  APP: {
    jetstream: enabled
    users: [ { user: ${NATS_MQTT_USER.username}, password: ${NATS_MQTT_USER.password} } ]
  }
}
system_account: SYS
mqtt {
  listen: 127.0.0.1:${mqttPort}
}
`;
  const confPath = path.join(dir, "nats.conf");
  await writeFile(confPath, conf);
  const output: string[] = [];
  let child!: ChildProcess;
  const monitorUrl = `http://127.0.0.1:${httpPort}`;
  async function launch(): Promise<void> {
    child = spawn(NATS_SERVER!, ["-c", confPath], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout!.on("data", (d) => output.push(String(d)));
    child.stderr!.on("data", (d) => output.push(String(d)));
    const current = child;
    await waitFor("nats-server's /healthz", async () => {
      if (current.exitCode !== null) throw new Error(`nats-server exited (${current.exitCode}): ${output.join("")}`);
      const res = await fetch(`${monitorUrl}/healthz`).catch(() => null);
      return res?.ok ?? false;
    }, 20_000);
  }
  await launch();
  const running: RunningNats = {
    mqttUrl: `mqtt://127.0.0.1:${mqttPort}`,
    monitorUrl,
    natsUrl: `nats://127.0.0.1:${port}`,
    mqttPort,
    dir,
    output,
    get process() {
      return child;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const done = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGCONT");
      child.kill("SIGTERM");
      await done;
    },
    signal(sig) {
      child.kill(sig);
    },
    async restart() {
      await running.stop();
      await launch();
    },
  };
  return running;
}
