import { readFile } from "node:fs/promises";
import { insertNewEvents, type EventRow } from "@/db/ingest";
import { createMosquittoDialect } from "@/lib/collector/mosquitto";
import { EventOrdinals } from "@/lib/collector/identity";
import { toEventRow } from "@/lib/collector/collector";
import { freshDatabase } from "../test/helpers/db";

/**
 * ingest-stages: CPU time per event of each stage of the ingest path, measured as CPU time (of this
 * process, and of the Postgres backends serving the benchmark's database), not wall clock, so that
 * other load on the machine changes the figures little. Stages: read (Mosquitto log line → event),
 * identity (ordinal + key), write (batches of `BENCH_STAGES_BATCH` through insertNewEvents, client
 * side: encoding and protocol), and the server's share of the write.
 */
const N = Number(process.env.BENCH_STAGES_EVENTS ?? 100_000);
const BATCH = Number(process.env.BENCH_STAGES_BATCH ?? 5_000);

function lines(n: number): string[] {
  const out: string[] = [];
  const epoch = Math.floor(Date.now() / 1000);
  for (let i = 0; i < n; i++) {
    const id = "dev-" + (i >> 1);
    out.push(
      i % 2 === 0
        ? `${epoch}: New client connected from 10.0.${(i >> 9) & 255}.${(i >> 1) & 255}:${1024 + (i % 60000)} as ${id} (p2, c1, k60, u'fleet').`
        : `${epoch}: Client ${id} disconnected.`,
    );
  }
  return out;
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** utime + stime in ms of these processes (Linux /proc: the database server must run on this machine). */
export async function serverCpuMs(pids: number[]): Promise<number> {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const fields = (await readFile(`/proc/${pid}/stat`, "utf8")).split(") ")[1].split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // not on this machine or gone
    }
  }
  return ticks * 10;
}

export async function runIngestStagesBenchmark(): Promise<Record<string, unknown>> {
  const payloads = lines(N).map((l) => Buffer.from(l));
  const topic = "$SYS/broker/log/N";
  const dialect = createMosquittoDialect();
  dialect.parse("$SYS/broker/version", Buffer.from("mosquitto version 2.0.22"), new Date());
  const perEvent = (ms: number) => Number(((ms * 1000) / N).toFixed(2));

  let t = cpuMs();
  const outputs = payloads.map((p) => dialect.parse(topic, p, new Date()));
  const readUs = perEvent(cpuMs() - t);

  const ordinals = new EventOrdinals();
  t = cpuMs();
  const rows: EventRow[] = [];
  for (const o of outputs) for (const e of o.events) rows.push(toEventRow("bench", e, ordinals.key(e)));
  const identityUs = perEvent(cpuMs() - t);

  const db = await freshDatabase("postgres");
  try {
    const sql = db.database.postgres!;
    // open the pool's connections first, so their pids are known
    await Promise.all([1, 2, 3, 4].map(() => sql`select pg_sleep(0.05)`));
    const pids = (
      await sql<{ pid: number }[]>`select pid from pg_stat_activity where datname = current_database()`
    ).map((r) => r.pid);
    const server0 = await serverCpuMs(pids);
    t = cpuMs();
    const wall = performance.now();
    for (let i = 0; i < rows.length; i += BATCH) await insertNewEvents(db.database, rows.slice(i, i + BATCH));
    const writeWallMs = performance.now() - wall;
    const writeUs = perEvent(cpuMs() - t);
    const serverUs = perEvent((await serverCpuMs(pids)) - server0);
    // the same batches again: every row a copy, the duplicate path
    const server1 = await serverCpuMs(pids);
    t = cpuMs();
    for (let i = 0; i < rows.length; i += BATCH) await insertNewEvents(db.database, rows.slice(i, i + BATCH));
    const dupClientUs = perEvent(cpuMs() - t);
    const dupServerUs = perEvent((await serverCpuMs(pids)) - server1);
    const [{ count }] = await sql<{ count: number }[]>`select count(*)::int as count from connection_events`;
    return {
      events: N,
      batch: BATCH,
      stored: count,
      cpuUsPerEvent: { read: readUs, identity: identityUs, writeClient: writeUs, writeServer: serverUs },
      duplicateBatchCpuUsPerEvent: { client: dupClientUs, server: dupServerUs },
      writeWallEventsPerSecond: Math.round(N / (writeWallMs / 1000)),
    };
  } finally {
    await db.drop();
  }
}
