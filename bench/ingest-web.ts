import { mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Worker } from "node:worker_threads";
import postgres from "postgres";
import { startApp } from "../test/helpers/app";
import { createServerDatabase } from "../test/helpers/db";
import { startMosquitto } from "../test/helpers/mosquitto";
import { loginCookie } from "../test/helpers/session";
import { GENERATOR, percentile } from "./ingest";

/**
 * ingest-web: the ingest benchmark's burst through `npm start` itself while pages are rendered
 * without pause — does a page render delay ingestion, does a burst slow the pages? Run once with
 * the ingest side in its worker thread (the default on Postgres) and once inline
 * (BROKERWATCH_INGEST=inline, everything on the web thread) to compare; BENCH_INGEST_MODE picks one.
 *
 * The app is a child process, so commits are seen from outside: the bench counts the stored events
 * every POLL_MS, and an event's lag is publish → the first count that includes it (events commit
 * in publish order within a few ms; the poll adds up to POLL_MS).
 */
const TARGET_RATE = Number(process.env.BENCH_INGEST_RATE ?? 25_000);
const SECONDS = Number(process.env.BENCH_INGEST_SECONDS ?? 10);
const PAGE_LOOPS = Number(process.env.BENCH_PAGE_LOOPS ?? 4);
const POLL_MS = 50;
const PAGES = ["/", "/clients", "/clients/dev-1", "/brokers/bench", "/alerts"];
const TARGETS = { lagP99Ms: 1000, pageP95Ms: 1000 };

/** Page loops that fetch PAGES round-robin until stopped: each response time (ms), and the failures. */
function renderPages(
  url: string,
  cookie: string,
  onFailure: (what: string) => void,
): { stop(): Promise<{ times: number[]; failed: number }> } {
  const times: number[] = [];
  let failed = 0;
  let running = true;
  const loop = async (offset: number) => {
    for (let i = offset; running; i++) {
      const page = PAGES[i % PAGES.length];
      const started = performance.now();
      try {
        const res = await fetch(`${url}${page}`, { headers: { cookie } });
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`answered ${res.status}`);
        times.push(performance.now() - started);
      } catch (err) {
        if (failed++ === 0) onFailure(`${page}: ${(err as Error).message}`);
      }
    }
  };
  const loops = Array.from({ length: PAGE_LOOPS }, (_, k) => loop(k));
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return { times: times.sort((a, b) => a - b), failed };
    },
  };
}

function pageFigures({ times, failed }: { times: number[]; failed: number }) {
  return {
    requests: times.length,
    failed,
    p50Ms: Math.round(percentile(Float64Array.from(times), 50)),
    p95Ms: Math.round(percentile(Float64Array.from(times), 95)),
  };
}

async function runOnce(mode: "worker" | "inline", log: (line: string) => void): Promise<Record<string, unknown>> {
  const mosquitto = await startMosquitto(["allow_anonymous true", "max_queued_messages 0", "max_inflight_messages 0"]);
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "bw-bench-web-"));
  const server = await createServerDatabase();
  const sql = postgres(server.url, { max: 1, onnotice: () => {} });
  const configPath = path.join(dataDir, "brokerwatch.yaml");
  await writeFile(
    configPath,
    ["brokers:", "  - name: bench", `    url: ${mosquitto.url}`, "    dialect: mosquitto", "    sysTopicPrefix: bench/"].join(
      "\n",
    ),
  );
  const password = "bench-admin-password";
  const app = await startApp({
    dataDir,
    env: {
      DATABASE_URL: server.url,
      BROKERWATCH_CONFIG: configPath,
      BROKERWATCH_ADMIN_PASSWORD: password,
      BROKERWATCH_INGEST: mode,
      BUNDLED_BROKER: "off",
    },
  });
  const countStored = async () =>
    (await sql<{ n: number }[]>`select count(*)::int as n from connection_events where broker = 'bench'`)[0].n;
  try {
    const cookie = await loginCookie(app.url, "admin", password);
    // The collector is subscribed once the broker shows up; the pages are compiled once.
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const res = await fetch(`${app.url}/api/brokers`, { headers: { cookie } });
      const { brokers } = (await res.json()) as { brokers: { name: string; status: string }[] };
      if (brokers.find((b) => b.name === "bench")?.status === "up") break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const onFailure = (what: string) =>
      log(`ingest-web (${mode}): a page failed: ${what}\n${app.output.join("").slice(-3000)}`);
    const quiet = renderPages(app.url, cookie, onFailure);
    await new Promise((r) => setTimeout(r, 3000));
    const quietTimes = await quiet.stop();

    const total = TARGET_RATE * SECONDS;
    log(`ingest-web (${mode}): ${total} events at ${TARGET_RATE}/s for ${SECONDS}s with ${PAGE_LOOPS} page loops`);
    const counts: { at: number; n: number }[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const n = await countStored();
        counts.push({ at: performance.timeOrigin + performance.now(), n });
        if (n >= total) break;
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    })();
    const busy = renderPages(app.url, cookie, onFailure);
    const generator = new Worker(GENERATOR, {
      eval: true,
      workerData: { url: mosquitto.url, rate: TARGET_RATE, seconds: SECONDS, qos: 0 },
    });
    const { publishTimes } = await new Promise<{ publishTimes: Float64Array }>((resolve, reject) => {
      generator.once("message", resolve);
      generator.once("error", reject);
    });
    const drainDeadline = Date.now() + 60_000;
    while ((counts.at(-1)?.n ?? 0) < total && Date.now() < drainDeadline) await new Promise((r) => setTimeout(r, 100));
    polling = false;
    await poller;
    const busyTimes = await busy.stop();

    const committed = counts.at(-1)?.n ?? 0;
    const lags = new Float64Array(committed);
    let c = 0;
    for (let i = 0; i < committed; i++) {
      while (counts[c].n < i + 1) c++;
      lags[i] = counts[c].at - publishTimes[i];
    }
    lags.sort();
    const lastCommitAt = counts.find((p) => p.n >= committed)?.at ?? NaN;
    const eventsPerSecond = committed / ((lastCommitAt - publishTimes[0]) / 1000);
    return {
      mode,
      published: total,
      committed,
      eventsPerSecond: Math.round(eventsPerSecond),
      lagP50Ms: Math.round(percentile(lags, 50)),
      lagP99Ms: Math.round(percentile(lags, 99)),
      pagesQuiet: pageFigures(quietTimes),
      pagesDuringBurst: pageFigures(busyTimes),
    };
  } finally {
    await app.stop();
    await sql.end();
    await mosquitto.stop();
    await server.drop();
  }
}

export async function runIngestWebBenchmark(): Promise<Record<string, unknown>> {
  const log = (line: string) => process.stderr.write(line + "\n");
  if (!process.env.DATABASE_URL) throw new Error("ingest-web needs DATABASE_URL: ingest runs in a worker on Postgres");
  const wanted = process.env.BENCH_INGEST_MODE;
  const modes: ("worker" | "inline")[] = wanted === "worker" || wanted === "inline" ? [wanted] : ["inline", "worker"];
  const runs: Record<string, unknown>[] = [];
  for (const mode of modes) runs.push(await runOnce(mode, log));
  const worker = runs.find((r) => r.mode === "worker") as
    | {
        committed: number;
        published: number;
        lagP99Ms: number;
        pagesDuringBurst: { p95Ms: number; failed: number };
      }
    | undefined;
  return {
    targetRate: TARGET_RATE,
    seconds: SECONDS,
    pageLoops: PAGE_LOOPS,
    pages: PAGES,
    runs,
    targets: TARGETS,
    pass: worker
      ? worker.committed === worker.published &&
        worker.lagP99Ms < TARGETS.lagP99Ms &&
        worker.pagesDuringBurst.p95Ms < TARGETS.pageP95Ms &&
        worker.pagesDuringBurst.failed === 0
      : false,
  };
}
