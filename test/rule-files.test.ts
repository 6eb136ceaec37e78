import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { GET as getRules } from "@/app/api/rules/route";
import { GET as exportRules } from "@/app/api/rules/export/route";
import { POST as importRules } from "@/app/api/rules/import/route";
import { listAlertRules } from "@/db/alerts";
import { fetchSeries } from "@/db/metrics";
import { brokers, metricSamples } from "@/db/schema";
import { GET as getSeries } from "@/app/api/brokers/[name]/series/route";
import { AlertEngine } from "@/lib/alerts/engine";
import { readRuleFile } from "@/lib/alerts/rule-file";
import { loadRules, ruleProvider } from "@/lib/alerts/rules";
import { loadRuleFiles } from "@/lib/config/rule-files";
import { isMetricName } from "@/lib/metrics";
import { apiRequest, engineRuntime } from "./helpers/route-api";

const S = 1000;
const known = { isKnownMetric: isMetricName };

describe("reading a Prometheus rule file", () => {
  it("reports each rule on its own: imported, refused at the line and column of the error, or reading metrics brokerwatch lacks", () => {
    const file = [
      "groups:", //                                                          1
      "  - name: plant", //                                                  2
      "    interval: 30s", //                                                3
      "    rules:", //                                                       4
      "      - record: broker:connections:sum", //                           5
      "        expr: sum by (broker) (mqtt_connections_current)", //       6
      "      - alert: PlantBusy", //                                         7
      "        expr: broker:connections:sum > 100", //                       8
      "        for: 5m", //                                                  9
      "        keep_firing_for: 1m", //                                     10
      "        labels: { severity: critical }", //                          11
      "        annotations: { summary: '{{ $labels.broker }} is busy' }", // 12
      "      - alert: Typo", //                                             13
      "        expr: sum(mqtt_sessions) >", //                              14
      "      - alert: NodeExporterDown", //                                 15
      '        expr: up{job="node"} == 0', //                             16
      "      - alert: Misspelt", //                                         17
      "        exprr: mqtt_sessions > 1", //                                18
      "      - record: bad", //                                             19
      "        expr: mqtt_sessions", //                                     20
      "        for: 1m", //                                                 21
    ].join("\n");
    const { fileErrors, rules } = readRuleFile(file, known);
    expect(fileErrors).toEqual([]);
    expect(rules.map((r) => [r.name, r.status])).toEqual([
      ["broker:connections:sum", "imported"],
      ["PlantBusy", "imported"],
      ["Typo", "refused"],
      ["NodeExporterDown", "unknown_metrics"],
      ["Misspelt", "refused"],
      ["bad", "refused"],
    ]);
    const [record, alert, typo, unknown, misspelt, bad] = rules;
    expect(record.rule).toMatchObject({ kind: "record", group: "plant", intervalSeconds: 30, labels: {} });
    expect(alert.rule).toMatchObject({
      kind: "alert",
      forSeconds: 300,
      keepFiringForSeconds: 60,
      labels: { severity: "critical" },
      annotations: { summary: "{{ $labels.broker }} is busy" },
    });
    // The expression ends after `>`: the error is at its end, line 14, in the file's columns.
    expect(typo.exprPosition).toBe("sum(mqtt_sessions) >".length);
    expect(typo.position).toEqual({ line: 14, column: 15 + "sum(mqtt_sessions) >".length });
    expect(typo.message).toMatch(/^Typo: expr: /);
    expect(unknown.unknownMetrics).toEqual(["up"]);
    expect(unknown.rule).not.toBeNull();
    expect(misspelt.message).toMatch(/exprr/);
    expect(misspelt.position.line).toBe(18); // at the typo itself
    expect(bad.message).toMatch(/for: belongs to alerting rules/);
    expect(bad.position.line).toBe(21);
  });

  it("places an error inside a `|` block on its own line", () => {
    const file =
      "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: |\n      sum(mqtt_sessions)\n        > on(broker) )\n";
    const [rule] = readRuleFile(file, known).rules;
    expect(rule.status).toBe("refused");
    expect(rule.position.line).toBe(7);
  });

  it("refuses the file as a whole when it is not a groups: file, with where", () => {
    expect(readRuleFile("groups:\n  - name: [unclosed\n", known).fileErrors[0].position?.line).toBeGreaterThanOrEqual(
      2,
    );
    expect(readRuleFile("rules:\n  - alert: A\n", known).fileErrors[0].message).toMatch(/groups: list/);
    expect(readRuleFile("x".repeat(200 * 1024), known).fileErrors[0].message).toMatch(/larger than/);
  });

  it("refuses the second rule of a name (brokerwatch keys alerts by rule name) and a group named twice", () => {
    const file = [
      "groups:",
      "- name: a",
      "  rules:",
      "  - { alert: Busy, expr: 'mqtt_sessions > 10', labels: { severity: warning } }",
      "  - { alert: Busy, expr: 'mqtt_sessions > 100', labels: { severity: critical } }",
      "- name: a",
      "  rules: []",
    ].join("\n");
    const { rules } = readRuleFile(file, known);
    expect(rules.map((r) => r.status)).toEqual(["imported", "refused", "refused"]);
    expect(rules[1].message).toMatch(/another rule of this file .* has this name/);
    expect(rules[2].message).toMatch(/used twice/);
  });

  it("orders recording rules so each runs after the recording rules it reads, and refuses a cycle", () => {
    const file = [
      "groups:",
      "- name: g",
      "  rules:",
      "  - { alert: High, expr: 'level:two > 1' }",
      "  - { record: 'level:two', expr: 'level:one * 2' }",
      "  - { record: 'level:one', expr: 'sum(mqtt_sessions)' }",
      "  - { record: 'loop:a', expr: 'loop:b' }",
      "  - { record: 'loop:b', expr: 'loop:a' }",
    ].join("\n");
    const ruleFileRules = readRuleFile(file, known).rules.map((r) => r.rule!);
    const loaded = loadRules({ builtins: [], fileRules: [], dbRules: [], ruleFileRules });
    expect(loaded.rules.map((r) => r.name)).toEqual(["level:one", "level:two", "High"]);
    expect(loaded.errors.map((e) => e.rule).sort()).toEqual(["loop:a", "loop:b"]);
  });

  it("refuses a recording rule that would write into a metric brokerwatch collects", () => {
    const [rule] = readRuleFile(
      "groups:\n- name: g\n  rules:\n  - { record: mqtt_sessions, expr: '1' }\n",
      known,
    ).rules;
    const loaded = loadRules({ builtins: [], fileRules: [], dbRules: [], ruleFileRules: [rule.rule!] });
    expect(loaded.errors[0].message).toMatch(/is a metric brokerwatch collects/);
  });
});

describe("ruleFiles: in brokerwatch.yaml", () => {
  it("reads the globs relative to the config file; a rule may read what another file records; problems carry file:line:col", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "bw-rulefiles-"));
    await mkdir(path.join(dir, "rules.d"));
    await writeFile(
      path.join(dir, "rules.d", "a-record.yml"),
      "groups:\n- name: rec\n  rules:\n  - { record: 'fleet:sessions', expr: 'sum(mqtt_sessions)' }\n",
    );
    await writeFile(
      path.join(dir, "rules.d", "b-alert.yml"),
      [
        "groups:",
        "- name: alerts",
        "  rules:",
        "  - { alert: FleetSessions, expr: 'fleet:sessions > 100' }",
        "  - { alert: NodeDown, expr: 'up == 0' }",
        "  - alert: Broken",
        "    expr: 'sum(mqtt_sessions) >'",
      ].join("\n"),
    );
    const config = path.join(dir, "brokerwatch.yaml");
    const result = await loadRuleFiles(["rules.d/*.yml", "missing/*.yml"], config);
    expect(result.files.map((f) => path.basename(f))).toEqual(["a-record.yml", "b-alert.yml"]);
    expect(result.rules.map((r) => [r.name, r.enabled])).toEqual([
      ["fleet:sessions", true],
      ["FleetSessions", true],
      ["NodeDown", false],
    ]);
    expect(result.problems).toHaveLength(3);
    expect(result.problems[0]).toMatch(/ruleFiles: missing\/\*\.yml matches no file/);
    expect(result.problems[1]).toMatch(/b-alert\.yml:5:\d+: group alerts: NodeDown: reads up/);
    expect(result.problems[2]).toMatch(/b-alert\.yml:7:\d+: group alerts: Broken: expr: /);
    const loaded = loadRules({ builtins: [], fileRules: [], dbRules: [], ruleFileRules: result.rules });
    expect(loaded.rules.map((r) => [r.name, r.source])).toEqual([
      ["fleet:sessions", "file"],
      ["FleetSessions", "file"],
    ]);
    expect(loaded.disabled.map((d) => d.definition.name)).toEqual(["NodeDown"]);
  });
});

const ADMIN = "test-admin-token-for-rule-files";
const fixture = engineRuntime(ADMIN, async (database) => {
  // plant-a holds 3 connections, plant-b 1, for the last half minute (handlers use the wall clock).
  await database.db.insert(brokers).values({ name: "plant-a", url: "mqtt://127.0.0.1:1", dialect: "mosquitto" });
  const now = Date.now();
  for (let at = now - 30 * S; at <= now - S; at += 5 * S) {
    for (const [broker, value] of [
      ["plant-a", 3],
      ["plant-b", 1],
    ] as const) {
      await database.db.insert(metricSamples).values([
        { broker, node: "", metric: "mqtt_connections_current", labels: {}, ts: new Date(at), value },
        { broker, node: "", metric: "mqtt_broker_up", labels: {}, ts: new Date(at), value: 1 },
      ]);
    }
  }
  const engine = new AlertEngine(database, {
    intervalMs: 3600 * S,
    rules: ruleProvider(database.db, []),
    log: () => {},
  });
  await engine.start();
  return engine;
});

const post = (body: unknown, token: string | null = ADMIN) =>
  importRules(apiRequest("/api/rules/import", token, { method: "POST", body: JSON.stringify(body) }));

/** Recording and alerting rules in the language the evaluator speaks today. */
const PLANT_RULES = `
groups:
  - name: plant-capacity
    interval: 1s
    rules:
      - record: broker:mqtt_connections:sum
        expr: sum by (broker) (mqtt_connections_current)
      - record: fleet:mqtt_connections:max5m
        expr: max(max_over_time(broker:mqtt_connections:sum[5m]))
        labels:
          team: plant
  - name: plant-alerts
    rules:
      - alert: PlantBusy
        expr: broker:mqtt_connections:sum > 2
        labels:
          severity: critical
        annotations:
          summary: "{{ $labels.broker }} holds {{ $value }} connections"
      - alert: FleetQuiet
        expr: absent(fleet:mqtt_connections:max5m)
      - alert: NodeExporterDown
        expr: up{job="node"} == 0
      - alert: Broken
        expr: rate(mqtt_sessions[5m]
`;

describe("POST /api/rules/import and GET /api/rules/export", () => {
  it("imports a rule file: recording rules write series the alerting rules fire on, each rule reported", async () => {
    const res = await post({ file: PLANT_RULES });
    expect(res.status).toBe(200);
    const report = await res.json();
    expect(report).toMatchObject({ dryRun: false, imported: 4, refused: 1, unknownMetrics: 1, fileErrors: [] });
    const broken = report.rules.find((r: { name: string }) => r.name === "Broken");
    expect(broken).toMatchObject({ status: "refused", id: null, position: { line: 25 } });
    expect(broken.exprPosition).toBeGreaterThan(0);
    const stored = await listAlertRules(fixture.database.db);
    expect(stored.find((r) => r.name === "NodeExporterDown")).toMatchObject({ enabled: false });
    expect(stored.find((r) => r.name === "broker:mqtt_connections:sum")).toMatchObject({
      kind: "record",
      groupName: "plant-capacity",
      intervalSeconds: 1,
    });

    // The import asked for a round; the recording rules ran before the alerting rules in it.
    await fixture.engine.idle();
    const recorded = await fetchSeries(
      fixture.database.db,
      "broker:mqtt_connections:sum",
      Date.now() - 60 * S,
      Date.now(),
    );
    expect(recorded.map((s) => [s.labels.broker, s.points.at(-1)!.v]).sort()).toEqual([
      ["plant-a", 3],
      ["plant-b", 1],
    ]);
    const chained = await fetchSeries(
      fixture.database.db,
      "fleet:mqtt_connections:max5m",
      Date.now() - 60 * S,
      Date.now(),
    );
    expect(chained.map((s) => [s.labels.team, s.points.at(-1)!.v])).toEqual([["plant", 3]]);
    const alerts = fixture.engine.alerts();
    expect(alerts.map((a) => [a.alertname, a.labels.broker, a.state])).toEqual([["PlantBusy", "plant-a", "firing"]]);
    expect(alerts[0].annotations.summary).toBe("plant-a holds 3 connections");

    const views = (await (await getRules(apiRequest("/api/rules", fixture.viewer))).json()).rules as {
      name: string;
      kind: string;
      enabled: boolean;
      lastError: string | null;
    }[];
    expect(views.find((r) => r.name === "broker:mqtt_connections:sum")).toMatchObject({
      kind: "record",
      lastError: null,
    });
    expect(views.find((r) => r.name === "NodeExporterDown")).toMatchObject({ enabled: false });

    // Charts read the recorded series by name, as they read collected ones.
    const chart = await getSeries(
      apiRequest("/api/brokers/plant-a/series?metric=broker:mqtt_connections:sum&range=15m", fixture.viewer),
      { params: Promise.resolve({ name: "plant-a" }) },
    );
    expect(chart.status).toBe(200);
    const points = (await chart.json()).series["broker:mqtt_connections:sum"];
    expect(points.at(-1)[1]).toBe(3);

    // Importing again: every name is taken now, nothing is stored twice.
    const again = await (await post({ file: PLANT_RULES })).json();
    expect(again.imported).toBe(0);
    expect(again.rules[0].message).toMatch(/already has this name/);
  });

  it("checks without storing on dryRun, and refuses viewers, unreadable files and oversized bodies", async () => {
    const dry = await (
      await post({
        file: "groups:\n- name: dry\n  rules:\n  - { alert: DryRun, expr: 'mqtt_sessions > 1' }\n",
        dryRun: true,
      })
    ).json();
    expect(dry).toMatchObject({ dryRun: true, imported: 1 });
    expect((await listAlertRules(fixture.database.db)).some((r) => r.name === "DryRun")).toBe(false);
    expect((await post({ file: "groups: [" }, fixture.viewer)).status).toBe(403);
    const unreadable = await post({ file: "groups: [" });
    expect(unreadable.status).toBe(400);
    expect((await unreadable.json()).fileErrors[0].position.line).toBe(1);
    expect((await post({ file: "x".repeat(300 * 1024) })).status).toBe(400);
    expect((await post({ text: "groups: []" })).status).toBe(400);
  });

  it("exports every evaluated rule in the groups: format, which reads back as it was", async () => {
    const text = await (await exportRules(apiRequest("/api/rules/export", fixture.viewer))).text();
    const back = readRuleFile(text, { isKnownMetric: () => true });
    expect(back.fileErrors).toEqual([]);
    expect(back.rules.every((r) => r.status === "imported")).toBe(true);
    const byName = new Map(back.rules.map((r) => [r.name, r.rule!]));
    expect(byName.get("fleet:mqtt_connections:max5m")).toMatchObject({
      kind: "record",
      group: "plant-capacity",
      intervalSeconds: 1,
      labels: { team: "plant" },
    });
    expect(byName.get("PlantBusy")).toMatchObject({ kind: "alert", labels: { severity: "critical" } });
    expect(byName.has("NodeExporterDown")).toBe(false); // switched off: named in the header only
    expect(text).toMatch(/^# .*NodeExporterDown/m);
  });
});
