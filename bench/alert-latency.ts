import { mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { StatusChange } from "@/lib/collector/collector";
import { startService } from "@/server/service";
import { createServerDatabase } from "../test/helpers/db";
import { startMosquitto } from "../test/helpers/mosquitto";
import { startWebhookReceiver, type ReceivedWebhook } from "../test/helpers/webhook-receiver";

/**
 * alert-latency: how long after a broker dies the on-call receiver has the page.
 *
 * A real Mosquitto (`sys_interval 1`) is watched by the service in-process, with
 * `MQTT_Broker_Down` at `for: 0s` and a signed webhook to a local receiver. Each trial waits
 * until the broker is up and its last alert resolved, SIGKILLs Mosquitto, and measures kill →
 * firing webhook received; then restarts it. Each trial is split into where the time went:
 * detection (kill → collector says down), evaluation + dispatch (down → notification enqueued,
 * which includes getting `mqtt_broker_up 0` into the database) and delivery (enqueued → received).
 */
const TRIALS = Number(process.env.BENCH_ALERT_TRIALS ?? 12);
const TARGETS = { latencyP99Ms: 1000 };
const BROKER = "bench-down";

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const wallNow = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`alert-latency: timed out waiting for ${what}`);
    await sleep(20);
  }
}

interface Trial {
  totalMs: number;
  detectMs: number;
  evaluateAndDispatchMs: number;
  deliverMs: number;
}

export async function runAlertLatencyBenchmark(): Promise<Record<string, unknown>> {
  const log = (line: string) => process.stderr.write(line + "\n");
  const mosquitto = await startMosquitto(["allow_anonymous true", "sys_interval 1", "log_dest topic"]);
  const receiver = await startWebhookReceiver();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "bw-bench-alert-"));
  const server = process.env.DATABASE_URL ? await createServerDatabase() : null;
  const configPath = path.join(dataDir, "brokerwatch.yaml");
  await writeFile(
    configPath,
    [
      "brokers:",
      `  - name: ${BROKER}`,
      `    url: ${mosquitto.url}`,
      "    dialect: mosquitto",
      "rules:",
      "  - alert: MQTT_Broker_Down",
      "    expr: mqtt_broker_up == 0",
      "    for: 0s",
      "    labels: { severity: critical }",
      "webhooks:",
      "  - name: bench-oncall",
      `    url: ${receiver.url}`,
      `    secret: ${receiver.secret}`,
      "    sendResolved: true",
    ].join("\n"),
  );

  // Timestamps of the steps between kill and page, from the service's own signals: the collector's
  // status change, and the dispatcher's log line when it enqueues a notification.
  let downAt = 0;
  let enqueuedAt = 0;
  const serviceLog = (line: string) => {
    if (/^brokerwatch: webhook bench-oncall: firing /.test(line)) enqueuedAt ||= wallNow();
    if (process.env.BENCH_VERBOSE) log(line);
  };
  const service = await startService({
    databaseUrl: server?.url,
    dataDir,
    bundled: null,
    configPath,
    log: serviceLog,
  });
  service.collectors.on("status", (change: StatusChange) => {
    if (change.broker === BROKER && change.to === "down") downAt ||= wallNow();
  });
  const collector = () => service.collectors.get(BROKER);
  const firing = (r: ReceivedWebhook, after: number) =>
    r.at > after && r.answered === 200 && r.json?.status === "firing";
  const resolved = (r: ReceivedWebhook, after: number) =>
    r.at > after && r.answered === 200 && r.json?.status === "resolved";

  const trials: Trial[] = [];
  try {
    log(`alert-latency: ${TRIALS} trials, broker killed with SIGKILL (${service.database.kind})`);
    for (let i = 0; i < TRIALS; i++) {
      // Quiet state: broker up with a fresh heartbeat, no alert active, nothing left to deliver.
      await until("the broker up", () => collector()?.status === "up");
      await until("no active alert", () => service.engine.alerts().length === 0);
      await until("an empty outbox", async () => {
        await service.engine.idle();
        return service.deliveryWorker.stats.pending === 0;
      });
      // A heartbeat or two after the reconnect, as a broker that has been up a while.
      await sleep(1500 + Math.random() * 1000);

      downAt = 0;
      enqueuedAt = 0;
      const killedAt = wallNow();
      mosquitto.signal("SIGKILL");
      const page = await receiver.waitFor(`firing after trial ${i + 1}'s kill`, (r) => firing(r, killedAt), 30_000);
      const trial: Trial = {
        totalMs: page.at - killedAt,
        detectMs: downAt - killedAt,
        evaluateAndDispatchMs: enqueuedAt - downAt,
        deliverMs: page.at - enqueuedAt,
      };
      trials.push(trial);
      log(
        `alert-latency: trial ${i + 1}: ${trial.totalMs.toFixed(0)} ms ` +
          `(detect ${trial.detectMs.toFixed(0)}, evaluate+dispatch ${trial.evaluateAndDispatchMs.toFixed(0)}, ` +
          `deliver ${trial.deliverMs.toFixed(0)})`,
      );

      const restartedAt = wallNow();
      await mosquitto.restart();
      await receiver.waitFor(`resolved after trial ${i + 1}`, (r) => resolved(r, restartedAt), 30_000);
    }

    const stats = (pick: (t: Trial) => number) => {
      const sorted = trials.map(pick).sort((a, b) => a - b);
      return {
        p50: Math.round(percentile(sorted, 50)),
        p99: Math.round(percentile(sorted, 99)),
        max: Math.round(sorted.at(-1) ?? NaN),
      };
    };
    const total = stats((t) => t.totalMs);
    const unsigned = receiver.requests.filter((r) => !r.signatureValid).length;
    return {
      backend: service.database.kind,
      trials: trials.length,
      latencyP50Ms: total.p50,
      latencyP99Ms: total.p99,
      latencyMaxMs: total.max,
      breakdownMs: {
        detect: stats((t) => t.detectMs),
        evaluateAndDispatch: stats((t) => t.evaluateAndDispatchMs),
        deliver: stats((t) => t.deliverMs),
      },
      badSignatures: unsigned,
      targets: TARGETS,
      pass: trials.length >= 10 && total.p99 <= TARGETS.latencyP99Ms && unsigned === 0,
    };
  } finally {
    await service.stop();
    await mosquitto.stop();
    await receiver.close();
    await server?.drop();
  }
}
