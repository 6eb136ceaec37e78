import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { freePort, waitFor } from "./ports";
import { RABBITMQ_SERVER } from "./require";

export interface RunningRabbitMq {
  /** `amqp://guest:guest@127.0.0.1:<port>` (guest may log in over loopback: `loopback_users = none`) */
  amqpUrl: string;
  mqttUrl: string;
  mqttPort: number;
  /** the Prometheus endpoint, `http://127.0.0.1:<port>/metrics` */
  metricsUrl: string;
  dir: string;
  output: string[];
  /** SIGTERM, wait (it stops slowly), then kill what is left of its process group */
  stop(): Promise<void>;
}

/**
 * A private RabbitMQ node from Debian's `rabbitmq-server` on free loopback ports, with the MQTT,
 * Prometheus and event-exchange plugins and the log exchange on (docs/brokers.md, RabbitMQ). Its
 * own node name, distribution port and directories, so it never meets the machine's own node
 * (5672/25672). Starting takes ~12 s: one node per test file, stopped in afterAll.
 */
export async function startRabbitMq(): Promise<RunningRabbitMq> {
  if (!RABBITMQ_SERVER) throw new Error("rabbitmq-server not found");
  const dir = await mkdtemp(path.join(os.tmpdir(), "bw-rabbitmq-"));
  const [amqpPort, mqttPort, metricsPort, distPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const nodeName = `bw${process.pid}x${amqpPort}@localhost`;
  await mkdir(path.join(dir, "mnesia"));
  await mkdir(path.join(dir, "log"));
  await writeFile(
    path.join(dir, "rabbitmq.conf"),
    [
      `listeners.tcp.1 = 127.0.0.1:${amqpPort}`,
      `mqtt.listeners.tcp.1 = 127.0.0.1:${mqttPort}`,
      "prometheus.tcp.ip = 127.0.0.1",
      `prometheus.tcp.port = ${metricsPort}`,
      "mqtt.allow_anonymous = true",
      "loopback_users = none",
      "log.exchange = true",
      "log.exchange.level = info",
      "log.console = true",
      "log.console.level = info",
      "",
    ].join("\n"),
  );
  await writeFile(
    path.join(dir, "enabled_plugins"),
    "[rabbitmq_mqtt,rabbitmq_prometheus,rabbitmq_event_exchange].\n",
  );
  const env = {
    ...process.env,
    RABBITMQ_NODENAME: nodeName,
    RABBITMQ_NODE_PORT: String(amqpPort),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_CONFIG_FILE: path.join(dir, "rabbitmq"),
    RABBITMQ_ENABLED_PLUGINS_FILE: path.join(dir, "enabled_plugins"),
    RABBITMQ_MNESIA_BASE: path.join(dir, "mnesia"),
    RABBITMQ_LOG_BASE: path.join(dir, "log"),
    RABBITMQ_PID_FILE: path.join(dir, "rabbitmq.pid"),
    HOME: dir,
  };
  const output: string[] = [];
  // detached: its own process group (epmd, erl_child_setup, …), killed as one at the end
  const child: ChildProcess = spawn(RABBITMQ_SERVER, [], { env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout!.on("data", (d) => output.push(String(d)));
  child.stderr!.on("data", (d) => output.push(String(d)));
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;

  const running: RunningRabbitMq = {
    amqpUrl: `amqp://guest:guest@127.0.0.1:${amqpPort}`,
    mqttUrl: `mqtt://127.0.0.1:${mqttPort}`,
    mqttPort,
    metricsUrl,
    dir,
    output,
    async stop() {
      const pid = child.pid;
      if (child.exitCode === null && child.signalCode === null) {
        const done = new Promise<void>((resolve) => child.once("exit", () => resolve()));
        child.kill("SIGTERM");
        await Promise.race([done, new Promise((r) => setTimeout(r, 15_000))]);
      }
      if (pid) {
        try {
          process.kill(-pid, "SIGKILL");
        } catch {
          // the group is gone already
        }
      }
      await rm(dir, { recursive: true, force: true }).catch(() => {});
    },
  };
  try {
    // Ready when the Prometheus endpoint answers and the MQTT listener is up (the plugins start last).
    await waitFor(
      "the private RabbitMQ node",
      async () => {
        if (child.exitCode !== null) throw new Error(`rabbitmq-server exited (${child.exitCode}): ${output.join("")}`);
        const res = await fetch(metricsUrl);
        return res.ok && output.join("").includes("MQTT");
      },
      60_000,
      250,
    );
  } catch (err) {
    await running.stop();
    throw err;
  }
  return running;
}
