/**
 * brokerwatch as Prometheus's own tool sees it: `promtool check metrics` on /metrics with every
 * series it can export (rendered in-process) and on the real /metrics of the running app (bundled
 * broker watched, alert engine running); the `ruleFiles:` of brokerwatch.yaml read at start, and
 * GET /api/rules/export in a form `promtool check rules` accepts.
 */
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { appJson, startApp, type RunningApp } from "../helpers/app";
import { renderEveryMetric } from "../helpers/metrics-runtime";
import { waitFor } from "../helpers/ports";
import { describeIf, needs, PROMTOOL } from "../helpers/require";

const TOKEN = "metrics-promtool-e2e-token";
const BUILD_TOLERANT_TIMEOUT_MS = 600_000;

function promtool(args: string[], input?: string): string {
  try {
    return execFileSync(PROMTOOL!, args, { input, encoding: "utf8", stdio: "pipe" });
  } catch (err) {
    const e = err as { status: number; stdout: string; stderr: string };
    throw new Error(`promtool ${args.join(" ")} exited ${e.status}:\n${e.stdout}${e.stderr}`);
  }
}

describeIf(needs({ promtool: true }), "/metrics with every series present, checked by promtool", () => {
  it("exits 0 on every metric name and type brokerwatch can export", async () => {
    promtool(["check", "metrics"], await renderEveryMetric());
  });
});

describeIf(needs({ promtool: true }), "the running service checked by promtool", () => {
  let app: RunningApp;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "bw-promtool-"));
    await mkdir(path.join(dir, "rules.d"));
    await writeFile(
      path.join(dir, "rules.d", "fleet.yml"),
      [
        "groups:",
        "  - name: fleet",
        "    interval: 1s",
        "    rules:",
        "      - record: fleet:mqtt_connections:sum",
        "        expr: sum(mqtt_connections_current)",
        "      - alert: FleetEmpty",
        "        expr: fleet:mqtt_connections:sum < 0",
        "        for: 1m",
        "        keep_firing_for: 30s",
        "        labels: { severity: critical }",
        '        annotations: { summary: "{{ $labels.broker }}: {{ $value | humanize }} connections" }',
        "      - alert: Broken",
        "        expr: sum(mqtt_sessions) >",
      ].join("\n"),
    );
    const config = path.join(dir, "brokerwatch.yaml");
    await writeFile(config, "ruleFiles:\n  - rules.d/*.yml\n");
    app = await startApp({ env: { BROKERWATCH_CONFIG: config, BROKERWATCH_API_TOKEN: TOKEN } });
  }, BUILD_TOLERANT_TIMEOUT_MS);

  afterAll(async () => {
    await app?.stop();
  });

  it("passes promtool check metrics on /metrics once the bundled broker reports", async () => {
    const body = await waitFor(
      "/metrics with the bundled broker's series",
      async () => {
        const res = await fetch(`${app.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
        const text = await res.text();
        return /^mqtt_connections_current\{/m.test(text) ? text : null;
      },
      60_000,
      500,
    );
    expect(body).toMatch(/^# TYPE process_cpu_seconds_total counter$/m);
    expect(body).toMatch(/^brokerwatch_build_info\{/m);
    promtool(["check", "metrics"], body);
  });

  it("reads ruleFiles: at start, logs the refused rule with file:line:col, and exports what promtool accepts", async () => {
    const { rules } = await appJson<{ rules: { name: string; kind: string; source: string; group: string | null }[] }>(
      app,
      TOKEN,
      "/api/rules",
    );
    expect(rules.find((r) => r.name === "fleet:mqtt_connections:sum")).toMatchObject({
      kind: "record",
      source: "file",
      group: "fleet",
    });
    expect(rules.some((r) => r.name === "Broken")).toBe(false);
    expect(app.output.join("")).toMatch(/rule file .*fleet\.yml:14:\d+: group fleet: Broken: expr: /);

    const res = await fetch(`${app.url}/api/rules/export`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    const file = path.join(dir, "export.yml");
    await writeFile(file, await res.text());
    expect(promtool(["check", "rules", file])).toMatch(/SUCCESS/);
  });
});
