/**
 * `npm run bench [-- name…]`: runs the benchmarks and prints one JSON object per benchmark on
 * stdout (progress goes to stderr). Targets are part of each result, with `pass`.
 */
const BENCHMARKS: Record<string, () => Promise<Record<string, unknown>>> = {
  ingest: async () => (await import("./ingest")).runIngestBenchmark(),
  "ingest-web": async () => (await import("./ingest-web")).runIngestWebBenchmark(),
  "alert-latency": async () => (await import("./alert-latency")).runAlertLatencyBenchmark(),
  dashboard: async () => (await import("./dashboard")).runDashboardBenchmark(),
  ha: async () => (await import("./ha")).runHaBenchmark(),
  history: async () => (await import("./history")).runHistoryBenchmark(),
  "ingest-stages": async () => (await import("./ingest-stages")).runIngestStagesBenchmark(),
  "promql-parse": async () => (await import("./promql-parse")).runPromqlParseBenchmark(),
  "fast-probe": async () => (await import("./fast-probe")).runFastProbeBenchmark(),
};
/** Benchmarks that need a Postgres server run by default only when DATABASE_URL names one. */
const NEEDS_POSTGRES = new Set(["ha", "history", "ingest-stages", "ingest-web"]);

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-"));
  const names = wanted.length
    ? wanted
    : Object.keys(BENCHMARKS).filter((n) => process.env.DATABASE_URL || !NEEDS_POSTGRES.has(n));
  let failed = false;
  for (const name of names) {
    const run = BENCHMARKS[name];
    if (!run) {
      console.error(`unknown benchmark "${name}"; known: ${Object.keys(BENCHMARKS).join(", ")}`);
      process.exitCode = 2;
      return;
    }
    try {
      console.log(JSON.stringify({ benchmark: name, ...(await run()) }));
    } catch (err) {
      failed = true;
      console.log(JSON.stringify({ benchmark: name, error: (err as Error).message }));
    }
  }
  if (failed) process.exitCode = 1;
}

main().then(() => process.exit());
