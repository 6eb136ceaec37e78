import { mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import { insertEvents, type EventRow } from "@/db/ingest";
import { startService } from "@/server/service";
import { createServerDatabase } from "../test/helpers/db";
import { startMosquitto } from "../test/helpers/mosquitto";

/**
 * ingest: connection events per second through a real broker and the collector into the database,
 * with end-to-end lag, against a raw COPY of the same rows into the same database.
 *
 * A load generator (worker thread) publishes Mosquitto 2.0 connect/disconnect log lines at a fixed
 * rate to `bench/$SYS/broker/log/N` on a real Mosquitto: the path a central broker carrying other
 * brokers' `$SYS` trees through bridges uses (sysTopicPrefix). Each line is one event. Lag is the
 * time from publish to the write that committed the event.
 */
const require = createRequire(import.meta.url);
const TARGET_RATE = Number(process.env.BENCH_INGEST_RATE ?? 25_000);
const SECONDS = Number(process.env.BENCH_INGEST_SECONDS ?? 10);
/**
 * QoS of the generator's publishes, hence of the collector's deliveries (it subscribes with QoS 1).
 * Mosquitto's own log lines reach the collector at QoS 1, so 1 measures acknowledge-after-commit.
 */
const QOS = Number(process.env.BENCH_INGEST_QOS ?? 0) === 1 ? 1 : 0;
const TARGETS = { eventsPerSecond: 20_000, lagP99Ms: 1000, ratioToCopy: 0.5 };

export const GENERATOR = `
const { parentPort, workerData } = require("node:worker_threads");
const mqtt = require(workerData.mqttPath);
const client = mqtt.connect(workerData.url, { clientId: "bench-generator", clean: true });
client.on("connect", () => {
  const { rate, seconds } = workerData;
  const total = rate * seconds;
  const started = Date.now();
  let sent = 0;
  const publishTimes = new Float64Array(total);
  function tick() {
    const due = Math.min(total, Math.floor(((Date.now() - started) / 1000) * rate));
    while (sent < due) {
      const i = sent;
      const epoch = Math.floor(Date.now() / 1000);
      const id = "dev-" + (i >> 1);
      const line = i % 2 === 0
        ? epoch + ": New client connected from 10.0." + ((i >> 9) & 255) + "." + ((i >> 1) & 255) + ":" + (1024 + (i % 60000)) + " as " + id + " (p2, c1, k60, u'fleet')."
        : epoch + ": Client " + id + " disconnected.";
      publishTimes[i] = performance.timeOrigin + performance.now();
      client.publish("bench/$SYS/broker/log/N", line, { qos: workerData.qos });
      sent++;
    }
    if (sent < total) setTimeout(tick, 5);
    else client.end(false, {}, () => parentPort.postMessage({ publishTimes, elapsedMs: Date.now() - started }, [publishTimes.buffer]));
  }
  tick();
});
`;

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export async function runIngestBenchmark(): Promise<Record<string, unknown>> {
  const log = (line: string) => process.stderr.write(line + "\n");
  const mosquitto = await startMosquitto(["allow_anonymous true", "max_queued_messages 0", "max_inflight_messages 0"]);
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "bw-bench-"));
  const server = process.env.DATABASE_URL ? await createServerDatabase() : null;
  const configPath = path.join(dataDir, "brokerwatch.yaml");
  await writeFile(
    configPath,
    [
      "brokers:",
      "  - name: bench",
      `    url: ${mosquitto.url}`,
      "    dialect: mosquitto",
      "    sysTopicPrefix: bench/",
    ].join("\n"),
  );
  const service = await startService({ databaseUrl: server?.url, dataDir, bundled: null, configPath, log });
  const total = TARGET_RATE * SECONDS;
  const committedAt = new Float64Array(total);
  const receivedAt = new Float64Array(total);
  let committed = 0;
  service.writer.on("written", ({ events }) => {
    const now = performance.timeOrigin + performance.now();
    for (const e of events) {
      const n = Number(e.clientId!.slice(4)) * 2 + (e.type === "connected" ? 0 : 1);
      if (n < total && committedAt[n] === 0) {
        committedAt[n] = now;
        receivedAt[n] = e.receivedAt.getTime();
        committed++;
      }
    }
  });
  try {
    // Wait until the collector is subscribed, so nothing published is missed.
    const deadline = Date.now() + 15_000;
    while (!service.collectors.get("bench")?.lastSeenAt && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 500));

    log(`ingest: publishing ${total} events at ${TARGET_RATE}/s for ${SECONDS}s, QoS ${QOS} (${service.database.kind})`);
    const worker = new Worker(GENERATOR, {
      eval: true,
      workerData: { url: mosquitto.url, rate: TARGET_RATE, seconds: SECONDS, qos: QOS, mqttPath: require.resolve("mqtt") },
    });
    const { publishTimes } = await new Promise<{ publishTimes: Float64Array; elapsedMs: number }>((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
    });
    const drainDeadline = Date.now() + 60_000;
    while (committed < total && Date.now() < drainDeadline) await new Promise((r) => setTimeout(r, 50));

    const receiveLags = new Float64Array(committed);
    const lags = new Float64Array(committed);
    let k = 0;
    let lastCommit = 0;
    for (let i = 0; i < total; i++) {
      if (committedAt[i] === 0) continue;
      receiveLags[k] = receivedAt[i] - publishTimes[i];
      lags[k++] = committedAt[i] - publishTimes[i];
      lastCommit = Math.max(lastCommit, committedAt[i]);
    }
    lags.sort();
    receiveLags.sort();
    const eventsPerSecond = committed / ((lastCommit - publishTimes[0]) / 1000);

    // The upper bound: the same rows, COPY'd straight into the same database.
    const rows: EventRow[] = [];
    const now = new Date();
    for (let i = 0; i < total; i++) {
      rows.push({
        ts: now,
        receivedAt: now,
        broker: "bench-copy",
        node: null,
        clientId: `dev-${i >> 1}`,
        type: i % 2 ? "disconnected" : "connected",
        reason: i % 2 ? "normal" : null,
        address: "10.0.0.1",
        port: 1024 + (i % 60000),
        username: "fleet",
        protocolVersion: 4,
        cleanStart: true,
        keepalive: 60,
        sessionSeconds: i % 2 ? 1.5 : null,
        raw:
          i % 2
            ? `1795340000: Client dev-${i >> 1} disconnected.`
            : `1795340000: New client connected from 10.0.0.1:1024 as dev-${i >> 1} (p2, c1, k60, u'fleet').`,
      });
    }
    const copyStarted = performance.now();
    for (let i = 0; i < rows.length; i += 10_000) await insertEvents(service.database, rows.slice(i, i + 10_000));
    const rawCopyEventsPerSecond = rows.length / ((performance.now() - copyStarted) / 1000);

    const result = {
      backend: service.database.kind,
      method:
        service.database.kind === "postgres"
          ? "COPY; a batch holding a copy via staging + ON CONFLICT DO NOTHING"
          : "multi-row INSERT ON CONFLICT DO NOTHING (PGlite)",
      qos: QOS,
      targetRate: TARGET_RATE,
      seconds: SECONDS,
      published: total,
      committed,
      eventsPerSecond: Math.round(eventsPerSecond),
      lagP50Ms: Math.round(percentile(lags, 50)),
      lagP99Ms: Math.round(percentile(lags, 99)),
      lagMaxMs: Math.round(lags[lags.length - 1] ?? NaN),
      /** publish → collector received: the broker's and the network's share of the lag */
      receiveLagP99Ms: Math.round(percentile(receiveLags, 99)),
      rawCopyEventsPerSecond: Math.round(rawCopyEventsPerSecond),
      ratioToCopy: Number((eventsPerSecond / rawCopyEventsPerSecond).toFixed(3)),
      targets: TARGETS,
    };
    return {
      ...result,
      pass:
        committed === total &&
        result.eventsPerSecond >= TARGETS.eventsPerSecond &&
        result.lagP99Ms < TARGETS.lagP99Ms &&
        result.ratioToCopy >= TARGETS.ratioToCopy,
    };
  } finally {
    await service.stop();
    await mosquitto.stop();
    await server?.drop();
  }
}
