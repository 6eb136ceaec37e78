import { readFileSync } from "node:fs";
import path from "node:path";
import { parser } from "@prometheus-io/lezer-promql";
import { beforeAll, describe, expect, it } from "vitest";
import packageJson from "@/package.json";
import { METRIC_NAMES } from "@/lib/metrics";
import { renderEveryMetric } from "./helpers/metrics-runtime";

const ROOT = path.resolve(import.meta.dirname, "..");

let body = "";
beforeAll(async () => {
  body = await renderEveryMetric();
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
