import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";
import { listBrokers } from "@/db/brokers";
import packageJson from "@/package.json";
import { instanceViews } from "./cluster/instances";
import { getRuntime } from "./runtime";
import { isCounterMetric, METRIC_HELP } from "./metrics";

/**
 * The process's own `process_*` and `nodejs_*` series (prom-client's default metrics), kept in a
 * registry of their own that lives as long as the process: their counters and histograms must
 * keep counting between scrapes, unlike the per-scrape registry below. One per process, on
 * globalThis, because Next bundles each route separately (lib/runtime.ts says why).
 */
function processRegistry(): Registry {
  const holder = globalThis as { __brokerwatchProcessMetrics?: Registry };
  if (!holder.__brokerwatchProcessMetrics) {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    // prom-client types these totals as gauges, which `promtool check metrics` refuses (a gauge
    // named `_total`); sum(nodejs_active_handles) etc. by type carry the same number.
    for (const name of [
      "nodejs_active_handles_total",
      "nodejs_active_requests_total",
      "nodejs_active_resources_total",
    ]) {
      registry.removeSingleMetric(name);
    }
    holder.__brokerwatchProcessMetrics = registry;
  }
  return holder.__brokerwatchProcessMetrics;
}

/**
 * GET /metrics: the metrics of docs/contract.md §3 per broker, `ALERTS`, and the service's own
 * health, in Prometheus text format. Built from the live collectors at each scrape (a fresh
 * registry, so a broker that was removed doesn't linger as a stale series).
 */
export async function renderMetrics(): Promise<{ contentType: string; body: string }> {
  const runtime = getRuntime();
  const registry = new Registry();
  // `brokerwatch_build_info 1` with the version as labels, as Prometheus' own `prometheus_build_info`.
  new Gauge({
    name: "brokerwatch_build_info",
    help: "Always 1; the labels say which brokerwatch version runs, on which Node.js",
    labelNames: ["version", "nodejs_version"],
    registers: [registry],
  }).set({ version: packageJson.version, nodejs_version: process.versions.node }, 1);
  const gauges = new Map<string, Gauge>();
  const gauge = (name: string, help: string, labelNames: string[]) => {
    let g = gauges.get(name);
    if (!g) {
      g = new Gauge({ name, help, labelNames, registers: [registry] });
      gauges.set(name, g);
    }
    return g;
  };
  /** a running total we keep ourselves: a fresh counter per scrape, incremented to the total */
  const counter = (name: string, help: string, value: number, labels: Record<string, string> = {}) => {
    const c = new Counter({ name, help, labelNames: Object.keys(labels), registers: [registry] });
    c.inc(labels, value);
  };
  const brokerLabels = ["broker", "cluster", "node", "reason"];
  const brokerCounters = new Map<string, Counter>();
  const brokerCounter = (name: keyof typeof METRIC_HELP) => {
    let c = brokerCounters.get(name);
    if (!c) {
      c = new Counter({ name, help: METRIC_HELP[name], labelNames: brokerLabels, registers: [registry] });
      brokerCounters.set(name, c);
    }
    return c;
  };
  const clusters = new Map((await listBrokers(runtime.database.db)).map((b) => [b.name, b.cluster]));

  for (const collector of runtime.collectors?.list() ?? []) {
    const broker = collector.broker.name;
    const cluster = clusters.get(broker) ?? "";
    for (const { metric, node, labels, value } of collector.latest.values()) {
      const seriesLabels = { broker, cluster, node, reason: labels.reason ?? "" };
      // A broker's running total (mqtt_messages_dropped_total) is a counter, as its `_total` says:
      // `rate()` then handles the broker's restarts as resets (docs/contract.md §3).
      if (isCounterMetric(metric)) brokerCounter(metric).inc(seriesLabels, Math.max(0, value));
      else gauge(metric, METRIC_HELP[metric], brokerLabels).set(seriesLabels, value);
    }
  }
  for (const [cluster, { alive, expected }] of runtime.collectors?.clusters() ?? []) {
    gauge("mqtt_cluster_nodes_alive", METRIC_HELP.mqtt_cluster_nodes_alive, ["cluster"]).set({ cluster }, alive);
    gauge("mqtt_cluster_nodes_expected", METRIC_HELP.mqtt_cluster_nodes_expected, ["cluster"]).set(
      { cluster },
      expected,
    );
  }

  const engine = runtime.alertEngine?.metrics();
  if (engine) {
    const names = [...new Set(engine.alerts.flatMap((a) => Object.keys(a.labels)))].filter((l) =>
      /^[a-zA-Z_][a-zA-Z0-9_]*$/.test(l),
    );
    const alerts = gauge("ALERTS", "Active alerts (pending or firing), as Prometheus exports them", names);
    for (const a of engine.alerts) alerts.set(Object.fromEntries(names.map((n) => [n, a.labels[n] ?? ""])), 1);
    const evalSeconds = gauge("brokerwatch_rule_evaluation_seconds", "Duration of the last evaluation of each rule", [
      "rule",
    ]);
    for (const r of engine.ruleEvaluationSeconds) evalSeconds.set({ rule: r.rule }, r.seconds);
    const failures = new Counter({
      name: "brokerwatch_rule_evaluation_failures_total",
      help: "Failed evaluations per rule since start",
      labelNames: ["rule"],
      registers: [registry],
    });
    for (const r of engine.ruleEvaluationFailures) failures.inc({ rule: r.rule }, r.count);
  }

  const writer = runtime.writer;
  if (writer) {
    const s = writer.stats;
    counter(
      "brokerwatch_ingest_events_total",
      "Connection events written to the database since start",
      s.eventsWritten,
    );
    gauge("brokerwatch_ingest_events_per_second", "Connection events written per second, over the last 10 s", []).set(
      writer.eventsPerSecond(),
    );
    counter("brokerwatch_ingest_samples_total", "Metric samples written since start", s.samplesWritten);
    counter(
      "brokerwatch_ingest_unparsed_total",
      "Messages no parser recognised, kept as unparsed records",
      s.unparsedWritten,
    );
    gauge("brokerwatch_write_queue_rows", "Rows waiting in the write queue", []).set(writer.queued);
    gauge("brokerwatch_write_queue_full", "1 while the write queue is full and collectors are paused", []).set(
      writer.isFull ? 1 : 0,
    );
    counter(
      "brokerwatch_write_errors_total",
      "Failed database writes (their rows were kept and retried)",
      s.writeErrors,
    );
    gauge("brokerwatch_ingest_lag_seconds", "Receive-to-commit time of the newest row of the last write", []).set(
      s.lastLagMs / 1000,
    );
  }
  const delivery = runtime.deliveryWorker?.stats;
  if (delivery) {
    counter("brokerwatch_webhook_deliveries_total", "Webhook notifications delivered (2xx)", delivery.delivered);
    counter(
      "brokerwatch_webhook_failed_attempts_total",
      "Webhook attempts that failed and were retried",
      delivery.failedAttempts,
    );
    counter(
      "brokerwatch_webhook_permanent_failures_total",
      "Webhook notifications given up on",
      delivery.permanentFailures,
    );
    gauge("brokerwatch_webhook_pending", "Webhook notifications waiting for delivery", []).set(delivery.pending);
  }
  if (runtime.cluster) {
    // The deployment as this instance sees it in the database: every instance exports the same.
    const up = gauge(
      "brokerwatch_instance_up",
      "1 while the instance's heartbeat is fresh, 0 once it stopped or died",
      ["instance"],
    );
    const leader = gauge("brokerwatch_instance_leader", "1 for the instance that evaluates the alert rules", [
      "instance",
    ]);
    const watching = gauge("brokerwatch_instance_watching", "1 for each broker an instance watches", [
      "instance",
      "broker",
    ]);
    for (const i of await instanceViews()) {
      up.set({ instance: i.name }, i.up ? 1 : 0);
      leader.set({ instance: i.name }, i.leader ? 1 : 0);
      for (const broker of i.watching) watching.set({ instance: i.name, broker }, 1);
    }
  }
  const body = `${await registry.metrics()}\n${await processRegistry().metrics()}`;
  return { contentType: registry.contentType, body };
}
