import { describe, expect, it } from "vitest";
import type { AlertRuleRow } from "@/db/schema";
import { BUILTIN_RULES, DEFAULT_SEVERITY } from "@/lib/alerts/builtin";
import { evaluate } from "@/lib/alerts/promql";
import { loadRules } from "@/lib/alerts/rules";
import { renderTemplate } from "@/lib/alerts/template";
import { BUILTIN_RULE_NAMES, RuleSchema, type RuleConfig } from "@/lib/config/schema";

const fileRule = (raw: Record<string, unknown>): RuleConfig => RuleSchema.parse(raw);

const uiRule = (over: Partial<AlertRuleRow> & Pick<AlertRuleRow, "name" | "expr">): AlertRuleRow => ({
  id: 1,
  forSeconds: 0,
  keepFiringForSeconds: 0,
  labels: {},
  annotations: {},
  enabled: true,
  kind: "alert",
  groupName: null,
  intervalSeconds: null,
  limit: 0,
  createdAt: new Date(0),
  updatedAt: new Date(0),
  ...over,
});

const load = (fileRules: RuleConfig[] = [], dbRules: AlertRuleRow[] = []) =>
  loadRules({ builtins: BUILTIN_RULES, fileRules, dbRules });

describe("built-in rules (docs/contract.md §6)", () => {
  it("ships the five rules by their contract names, each loading without errors", () => {
    const { rules, errors } = load();
    expect(errors).toEqual([]);
    expect(rules.map((r) => r.name).sort()).toEqual([...BUILTIN_RULE_NAMES].sort());
    expect(rules.every((r) => r.source === "builtin")).toBe(true);
  });

  it("waits and pages as the contract says", () => {
    const byName = Object.fromEntries(load().rules.map((r) => [r.name, r]));
    expect(Object.fromEntries(Object.values(byName).map((r) => [r.name, [r.forSeconds, r.labels.severity]]))).toEqual({
      MQTT_Connection_Saturation: [300, "warning"],
      MQTT_Message_Queue_Backlog: [120, "critical"],
      MQTT_Cluster_Node_Down: [30, "critical"],
      MQTT_Broker_Down: [30, "critical"],
      MQTT_Subscription_Memory: [300, "warning"],
      MQTT_Connection_Saturation_Predicted: [900, "warning"],
    });
    expect(byName.MQTT_Broker_Down.expr).toBe("mqtt_broker_up == 0");
    expect(byName.MQTT_Message_Queue_Backlog.expr).toBe("mqtt_queued_messages > 100000");
    expect(byName.MQTT_Cluster_Node_Down.expr).toBe("mqtt_cluster_nodes_alive < mqtt_cluster_nodes_expected");
    expect(byName.MQTT_Subscription_Memory.expr).toBe("mqtt_memory_bytes > 4294967296");
  });

  it("says which broker and how bad in the summary an operator reads first", () => {
    const byName = Object.fromEntries(load().rules.map((r) => [r.name, r]));
    const summary = (name: string, value: number) =>
      renderTemplate(byName[name].annotations.summary, { labels: { broker: "plant-a", cluster: "plant" }, value });
    expect(summary("MQTT_Connection_Saturation", 0.9123)).toBe("plant-a at 91.23% of its connection capacity");
    expect(summary("MQTT_Message_Queue_Backlog", 250_000)).toBe("plant-a has 250k messages queued");
    expect(summary("MQTT_Cluster_Node_Down", 2)).toBe("Cluster plant has only 2 nodes alive");
    expect(summary("MQTT_Broker_Down", 0)).toBe("Broker plant-a is down");
    expect(summary("MQTT_Subscription_Memory", 5 * 2 ** 30)).toBe("plant-a uses 5GiB of memory");
    for (const rule of BUILTIN_RULES)
      expect(rule.annotations.description).toMatch(/\{\{ \$labels\.(broker|cluster) \}\}/);
  });

  it("saturation of an EMQX cluster adds up every node's connections against the broker's maxConnections", () => {
    const saturation = load().rules.find((r) => r.name === "MQTT_Connection_Saturation")!;
    const t = 1_000_000;
    const current = [
      {
        labels: { __name__: "mqtt_connections_current", broker: "fleet", node: "emqx@10.0.0.11" },
        points: [{ t, v: 500 }],
      },
      {
        labels: { __name__: "mqtt_connections_current", broker: "fleet", node: "emqx@10.0.0.12" },
        points: [{ t, v: 400 }],
      },
      { labels: { __name__: "mqtt_connections_current", broker: "plant-a" }, points: [{ t, v: 10 }] },
    ];
    const max = [
      { labels: { __name__: "mqtt_connections_max", broker: "fleet" }, points: [{ t, v: 1000 }] },
      { labels: { __name__: "mqtt_connections_max", broker: "plant-a" }, points: [{ t, v: 1000 }] },
    ];
    expect(evaluate(saturation.parsed, [current, max], t)).toEqual({
      kind: "vector",
      samples: [{ labels: { broker: "fleet" }, value: 0.9 }],
    });
  });
});

describe("rule precedence: built-in, then brokerwatch.yaml, then the UI", () => {
  it("a file rule with a built-in's name replaces it", () => {
    const { rules, errors } = load([
      fileRule({ alert: "MQTT_Broker_Down", expr: "mqtt_broker_up == 0", for: "2m", labels: { severity: "page" } }),
    ]);
    expect(errors).toEqual([]);
    const down = rules.filter((r) => r.name === "MQTT_Broker_Down");
    expect(down).toHaveLength(1);
    expect(down[0]).toMatchObject({ source: "file", forSeconds: 120, labels: { severity: "page" }, annotations: {} });
  });

  it("enabled: false switches a built-in off and lists it as disabled", () => {
    const { rules, disabled } = load([fileRule({ name: "MQTT_Subscription_Memory", enabled: false })]);
    expect(rules.map((r) => r.name)).not.toContain("MQTT_Subscription_Memory");
    expect(disabled).toEqual([
      { source: "builtin", definition: expect.objectContaining({ name: "MQTT_Subscription_Memory", forSeconds: 300 }) },
    ]);
  });

  it("UI rules add to the file's and get severity warning when they set none", () => {
    const { rules, errors } = load(
      [fileRule({ name: "Plant_Backlog", expr: "mqtt_queued_messages > 10", severity: "critical" })],
      [uiRule({ name: "Many_Sessions", expr: "mqtt_sessions > 1000", forSeconds: 60 })],
    );
    expect(errors).toEqual([]);
    expect(rules.find((r) => r.name === "Plant_Backlog")).toMatchObject({
      source: "file",
      labels: { severity: "critical" },
    });
    expect(rules.find((r) => r.name === "Many_Sessions")).toMatchObject({
      source: "ui",
      forSeconds: 60,
      labels: { severity: DEFAULT_SEVERITY },
    });
  });

  it("a UI rule may not take the name of a built-in or a file rule, even one switched off", () => {
    const { rules, errors } = load(
      [
        fileRule({ name: "MQTT_Broker_Down", enabled: false }),
        fileRule({ name: "Plant_Backlog", expr: "mqtt_queued_messages > 10" }),
      ],
      [
        uiRule({ id: 1, name: "MQTT_Broker_Down", expr: "mqtt_broker_up < 1" }),
        uiRule({ id: 2, name: "Plant_Backlog", expr: "mqtt_queued_messages > 1" }),
        uiRule({ id: 3, name: "MQTT_Message_Queue_Backlog", expr: "mqtt_queued_messages > 1" }),
      ],
    );
    expect(errors.map((e) => [e.rule, e.source, e.message])).toEqual([
      ["MQTT_Broker_Down", "ui", expect.stringContaining("a built-in rule already has this name")],
      ["Plant_Backlog", "ui", expect.stringContaining("a rule in the config file already has this name")],
      ["MQTT_Message_Queue_Backlog", "ui", expect.stringContaining("a built-in rule already has this name")],
    ]);
    expect(rules.filter((r) => r.source === "ui")).toEqual([]);
    expect(rules.find((r) => r.name === "Plant_Backlog")?.expr).toBe("mqtt_queued_messages > 10");
  });

  it("a switched-off UI rule is listed as disabled, not evaluated", () => {
    const { rules, disabled } = load([], [uiRule({ name: "Quiet", expr: "mqtt_sessions > 1", enabled: false })]);
    expect(rules.map((r) => r.name)).not.toContain("Quiet");
    expect(disabled).toEqual([{ source: "ui", definition: expect.objectContaining({ name: "Quiet" }) }]);
  });
});

describe("rule errors at load", () => {
  it("a typo in one rule's expression names the rule and the position, and the other rules still load", () => {
    const { rules, errors } = load([
      fileRule({ alert: "Plant_Queue", expr: 'mqtt_queued_mesages{broker="plant-a"} >> 5' }),
      fileRule({ alert: "Plant_Sessions", expr: "mqtt_sessions > 10" }),
    ]);
    expect(errors).toHaveLength(1);
    // The second ">" of ">>" is where the expression stops making sense.
    expect(errors[0]).toMatchObject({ rule: "Plant_Queue", source: "file", position: 39 });
    expect(errors[0].message).toMatch(/^Plant_Queue: expr: syntax error: .* at position 39$/);
    expect(errors[0].definition.expr).toBe('mqtt_queued_mesages{broker="plant-a"} >> 5');
    expect(rules.map((r) => r.name)).toEqual(expect.arrayContaining(["Plant_Sessions", ...BUILTIN_RULE_NAMES]));
    expect(rules.map((r) => r.name)).not.toContain("Plant_Queue");
  });

  it("an unsupported function is reported where it starts", () => {
    const { errors } = load(
      [],
      [uiRule({ name: "Rated", expr: "mqtt_sessions > 1 and mad_over_time(mqtt_sessions[1m]) > 0" })],
    );
    expect(errors).toEqual([
      expect.objectContaining({ rule: "Rated", source: "ui", position: 22, message: expect.stringContaining("mad_over_time") }),
    ]);
  });

  it("a broken annotation template is reported, and the rule still alerts (with the error in the text)", () => {
    const { rules, errors } = load([
      fileRule({
        alert: "Plant_Down",
        expr: "mqtt_broker_up == 0",
        annotations: { summary: "{{ $labels.broker | nosuchfn }} down" },
      }),
    ]);
    expect(errors).toEqual([
      expect.objectContaining({
        rule: "Plant_Down",
        position: null,
        message: 'Plant_Down: annotations.summary: function "nosuchfn" not defined',
      }),
    ]);
    expect(rules.map((r) => r.name)).toContain("Plant_Down");
  });

  it("a UI rule with a name that cannot be an alertname label is refused", () => {
    const { rules, errors } = load([], [uiRule({ name: "disk full!", expr: "mqtt_sessions > 1" })]);
    expect(errors).toEqual([
      expect.objectContaining({ rule: "disk full!", message: expect.stringContaining("letters") }),
    ]);
    expect(rules.map((r) => r.name)).not.toContain("disk full!");
  });
});
