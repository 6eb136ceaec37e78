import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { parser } from "@prometheus-io/lezer-promql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import packageJson from "@/package.json";
import { METRIC_NAMES } from "@/lib/metrics";
import { renderMetrics } from "@/lib/metrics-export";
import { setRuntime, type CollectorView, type Runtime } from "@/lib/runtime";
import { freshDatabase, type TestDatabase } from "./helpers/db";
import { describeIf, needs, PROMTOOL } from "./helpers/require";

const ROOT = path.resolve(import.meta.dirname, "..");

/**
 * /metrics with every series it can export present: a broker reporting every metric of
 * docs/contract.md §3, the writer, the alert engine with a firing alert, the delivery worker.
 */
let t: TestDatabase | undefined;
let body = "";
beforeAll(async () => {
  t = await freshDatabase();
  const latest = new Map<string, CollectorView["latest"] extends ReadonlyMap<string, infer V> ? V : never>();
  for (const metric of METRIC_NAMES) {
    const labels: Record<string, string> =
      metric === "mqtt_disconnects_per_minute" ? { reason: "keepalive_timeout" } : {};
    latest.set(metric, { metric, node: "", labels, value: 7, ts: new Date() });
  }
  const collector: CollectorView = {
    broker: { name: "plant-a", clientId: "brokerwatch-1" },
    status: "up",
    lastSeenAt: new Date(),
    latest,
  };
  const runtime: Runtime = {
    database: t.database,
    startedAt: new Date(),
    bundledBrokerUrl: null,
    collectors: {
      list: () => [collector],
      get: () => collector,
      clusters: () => new Map([["plant", { alive: 1, expected: 2 }]]),
      noteShippedEvents: () => {},
      reload: async () => {},
    },
    writer: {
      stats: {
        eventsWritten: 10,
        samplesWritten: 20,
        unparsedWritten: 1,
        writeErrors: 0,
        duplicatesDropped: 0,
        backpressureEpisodes: 0,
        lastLagMs: 12,
        lastFlushMs: 3,
      },
      eventsPerSecond: () => 2,
      queued: 0,
      isFull: false,
      on: () => undefined,
      off: () => undefined,
    },
    alertEngine: {
      alerts: () => [],
      ruleStates: () => [],
      metrics: () => ({
        alerts: [{ labels: { alertname: "MQTT_Broker_Down", alertstate: "firing", broker: "plant-a" }, value: 1 }],
        ruleEvaluationSeconds: [{ rule: "MQTT_Broker_Down", seconds: 0.002 }],
        ruleEvaluationFailures: [{ rule: "MQTT_Broker_Down", count: 1 }],
        lastRoundSeconds: 0.01,
      }),
    } as unknown as Runtime["alertEngine"],
    deliveryWorker: { stats: { delivered: 3, failedAttempts: 1, permanentFailures: 0, pending: 2 } },
  };
  setRuntime(runtime);
  body = (await renderMetrics()).body;
});
afterAll(async () => {
  setRuntime(undefined);
  await t?.drop();
});

/** `# TYPE name type` of the exposition. */
function types(text: string): Map<string, string> {
  return new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]));
}

describe("GET /metrics as Prometheus users expect it", () => {
  it("types the brokers' running totals as counters and keeps every contract name (docs/contract.md §3)", () => {
    const typed = types(body);
    expect(typed.get("mqtt_messages_dropped_total")).toBe("counter");
    for (const name of METRIC_NAMES) expect(typed.has(name), name).toBe(true);
    for (const [name, type] of typed) {
      if (type !== "counter") expect(name, `${name} is a ${type} named like a counter`).not.toMatch(/_total$/);
    }
  });

  it("exports the process's own process_* and nodejs_* series and brokerwatch_build_info", () => {
    const typed = types(body);
    for (const name of ["process_cpu_seconds_total", "process_resident_memory_bytes", "nodejs_eventloop_lag_seconds"]) {
      expect(typed.has(name), name).toBe(true);
    }
    expect(body).toContain(
      `brokerwatch_build_info{version="${packageJson.version}",nodejs_version="${process.versions.node}"} 1`,
    );
  });

  it("has every metric the Grafana dashboard in docs/ queries", () => {
    const dashboard = JSON.parse(readFileSync(path.join(ROOT, "docs/grafana-dashboard.json"), "utf8"));
    const exprs: string[] = [];
    for (const panel of dashboard.panels) for (const target of panel.targets ?? []) exprs.push(target.expr);
    for (const variable of dashboard.templating.list) if (variable.query?.query) exprs.push(variable.query.query);
    expect(exprs.length).toBeGreaterThan(20);
    const queried = new Set<string>();
    for (const expr of exprs) {
      // Grafana's variables are not PromQL: give them a value the grammar reads.
      const promql = expr.replaceAll("$__rate_interval", "5m").replace(/^label_values\((\w+), \w+\)$/, "$1");
      const tree = parser.parse(promql);
      tree.iterate({
        enter(node) {
          expect(node.type.isError, `${expr} does not parse`).toBe(false);
          if (node.name === "Identifier" && node.node.parent?.name === "VectorSelector") {
            queried.add(promql.slice(node.from, node.to));
          }
        },
      });
    }
    expect(queried.size).toBeGreaterThan(25);
    const exported = types(body);
    const missing = [...queried].filter((name) => !exported.has(name));
    expect(missing).toEqual([]);
  });
});

describeIf(needs({ promtool: true }), "promtool check metrics on /metrics", () => {
  it("exits 0 with every series present", () => {
    try {
      execFileSync(PROMTOOL!, ["check", "metrics"], { input: body, encoding: "utf8", stdio: "pipe" });
    } catch (err) {
      const e = err as { status: number; stdout: string; stderr: string };
      throw new Error(`promtool check metrics exited ${e.status}:\n${e.stdout}${e.stderr}`);
    }
  });
});
