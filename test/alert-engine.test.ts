import { describe, expect, it, vi } from "vitest";
import {
  createAlertRule,
  deleteAlertRule,
  listAlertHistory,
  listRuleStatus,
  loadAlertStates,
  updateAlertRule,
} from "@/db/alerts";
import { fetchSeries } from "@/db/metrics";
import { metricSamples } from "@/db/schema";
import { BUILTIN_RULES } from "@/lib/alerts/builtin";
import { AlertEngine, type RoundSnapshot } from "@/lib/alerts/engine";
import { loadRules, ruleProvider, type LoadedRules } from "@/lib/alerts/rules";
import { RuleSchema } from "@/lib/config/schema";
import { alertTestDatabase } from "./helpers/alert-db";

// Counted, to show that a round reads each metric once however many rules use it.
vi.mock("@/db/metrics", async (importOriginal) => {
  const original = await importOriginal<typeof import("@/db/metrics")>();
  return { ...original, fetchSeries: vi.fn(original.fetchSeries) };
});

const S = 1000;
const T0 = Date.parse("2026-11-23T08:00:00Z");

const t = alertTestDatabase();
const { engines } = t;

const builtinsOnly = async (): Promise<LoadedRules> =>
  loadRules({ builtins: BUILTIN_RULES, fileRules: [], dbRules: [] });

async function sample(
  metric: string,
  broker: string,
  value: number,
  at: number,
  opts: { node?: string; labels?: Record<string, string> } = {},
): Promise<void> {
  await t.database.db
    .insert(metricSamples)
    .values({ broker, node: opts.node ?? "", metric, labels: opts.labels ?? {}, ts: new Date(at), value });
}

/** An engine on a fake clock; rounds run only when the test asks (the interval is an hour). */
class Harness {
  clock: number;
  readonly rounds: RoundSnapshot[] = [];
  readonly engine: AlertEngine;
  constructor(start: number, rules: () => Promise<LoadedRules> = builtinsOnly) {
    this.clock = start;
    this.engine = new AlertEngine(t.database, {
      intervalMs: 3600 * S,
      rules,
      onRound: async (snapshot) => {
        this.rounds.push(snapshot);
      },
      now: () => this.clock,
      log: () => {},
      externalURL: "http://brokerwatch.test/",
    });
    engines.push(this.engine);
  }
  async start(): Promise<RoundSnapshot> {
    await this.engine.start();
    return this.rounds.at(-1)!;
  }
  async roundAt(at: number): Promise<RoundSnapshot> {
    this.clock = at;
    this.engine.evaluateNow("test");
    await this.engine.idle();
    return this.rounds.at(-1)!;
  }
  alert(alertname: string) {
    return this.engine.alerts().find((a) => a.alertname === alertname);
  }
}

const named = (snapshot: RoundSnapshot, alertname: string) =>
  snapshot.alerts.filter((a) => a.labels.alertname === alertname);

/** A broker at 90% of capacity, reporting every 10 s over [from, to]. */
async function saturated(broker: string, from: number, to: number): Promise<void> {
  for (let at = from; at <= to; at += 10 * S) {
    await sample("mqtt_broker_up", broker, 1, at);
    await sample("mqtt_connections_current", broker, 900, at);
    await sample("mqtt_connections_max", broker, 1000, at);
  }
}

describe("saturation", () => {
  it("a broker at 90% of its capacity goes pending, then pages after 5 minutes with broker and severity labels", async () => {
    await saturated("plant-a", T0, T0 + 5 * 60 * S);
    const h = new Harness(T0);
    expect(named(await h.start(), "MQTT_Connection_Saturation")).toEqual([]);
    expect(h.alert("MQTT_Connection_Saturation")).toMatchObject({
      state: "pending",
      activeAt: new Date(T0),
      firedAt: null,
    });

    expect(named(await h.roundAt(T0 + 299 * S), "MQTT_Connection_Saturation")).toEqual([]);
    const fired = named(await h.roundAt(T0 + 300 * S), "MQTT_Connection_Saturation");
    expect(fired).toEqual([
      {
        fingerprint: expect.stringMatching(/^[0-9a-f]{16}$/),
        labels: { alertname: "MQTT_Connection_Saturation", broker: "plant-a", severity: "warning" },
        annotations: expect.objectContaining({ summary: "plant-a at 90% of its connection capacity" }),
        state: "firing",
        startsAt: new Date(T0 + 300 * S),
        endsAt: null,
        generatorURL: "http://brokerwatch.test/alerts?rule=MQTT_Connection_Saturation",
      },
    ]);
    expect(h.alert("MQTT_Connection_Saturation")).toMatchObject({ state: "firing", value: 0.9 });
  });

  it("a crashed broker's last connection count does not keep the saturation alert firing", async () => {
    await saturated("plant-a", T0, T0 + 300 * S);
    const h = new Harness(T0);
    await h.start();
    expect(named(await h.roundAt(T0 + 300 * S), "MQTT_Connection_Saturation")).toHaveLength(1);

    // The collector marks it down; its last connection count is 5 s old, well inside the lookback.
    await sample("mqtt_broker_up", "plant-a", 0, T0 + 305 * S);
    await sample("mqtt_connections_max", "plant-a", 1000, T0 + 305 * S);
    const round = await h.roundAt(T0 + 306 * S);
    expect(named(round, "MQTT_Connection_Saturation")).toEqual([
      expect.objectContaining({ state: "resolved", endsAt: new Date(T0 + 306 * S) }),
    ]);
    expect(h.alert("MQTT_Connection_Saturation")).toBeUndefined();
    expect(h.alert("MQTT_Broker_Down")).toMatchObject({ state: "pending", labels: { broker: "plant-a" } });
  });

  it("a saturated broker that is down never starts the saturation timer", async () => {
    await sample("mqtt_connections_current", "plant-b", 990, T0 - 20 * S);
    await sample("mqtt_connections_max", "plant-b", 1000, T0 - 20 * S);
    await sample("mqtt_broker_up", "plant-b", 0, T0 - 10 * S);
    const h = new Harness(T0);
    await h.start();
    expect(h.engine.alerts().map((a) => a.alertname)).toEqual(["MQTT_Broker_Down"]);
  });
});

describe("a broker's series end when it goes down (staleness markers)", () => {
  it("instant selectors drop a crashed broker at once, range functions still see its samples from before, and it comes back", async () => {
    const fileRules = [
      RuleSchema.parse({ alert: "Was_Busy", expr: "max_over_time(mqtt_connections_current[10m]) > 500" }),
      RuleSchema.parse({ alert: "Is_Busy", expr: "mqtt_connections_current > 500" }),
    ];
    await saturated("plant-a", T0, T0 + 60 * S);
    await sample("mqtt_broker_up", "plant-a", 0, T0 + 65 * S);
    const h = new Harness(T0 + 70 * S, async () => loadRules({ builtins: [], fileRules, dbRules: [] }));
    await h.start();
    // The last count (T0 + 60 s) is inside the lookback, but the broker went down at T0 + 65 s.
    expect(h.alert("Is_Busy")).toBeUndefined();
    // What it did before the crash is still history, as in Prometheus.
    expect(h.alert("Was_Busy")).toMatchObject({ labels: { broker: "plant-a" } });

    // Back up and reporting: the series is live again.
    await saturated("plant-a", T0 + 80 * S, T0 + 90 * S);
    await h.roundAt(T0 + 95 * S);
    expect(h.alert("Is_Busy")).toMatchObject({ labels: { broker: "plant-a" } });
  });
});

describe("broker and cluster down", () => {
  it("MQTT_Broker_Down pages 30 s after mqtt_broker_up drops to 0, not sooner", async () => {
    for (let at = T0; at <= T0 + 30 * S; at += 5 * S) await sample("mqtt_broker_up", "plant-a", 0, at);
    const h = new Harness(T0);
    await h.start();
    expect(named(await h.roundAt(T0 + 29 * S), "MQTT_Broker_Down")).toEqual([]);
    const [alert] = named(await h.roundAt(T0 + 30 * S), "MQTT_Broker_Down");
    expect(alert).toMatchObject({
      state: "firing",
      startsAt: new Date(T0 + 30 * S),
      labels: { alertname: "MQTT_Broker_Down", broker: "plant-a", severity: "critical" },
      annotations: { summary: "Broker plant-a is down" },
    });
  });

  it("a cluster missing a node alerts on the cluster, while its down node's own metrics are ignored", async () => {
    for (let at = T0; at <= T0 + 30 * S; at += 5 * S) {
      await sample("mqtt_broker_up", "plant-a", 0, at);
      // Cluster-wide series are stored without a broker.
      await sample("mqtt_cluster_nodes_alive", "", 1, at, { labels: { cluster: "plant" } });
      await sample("mqtt_cluster_nodes_expected", "", 2, at, { labels: { cluster: "plant" } });
    }
    const h = new Harness(T0);
    await h.start();
    const [alert] = named(await h.roundAt(T0 + 30 * S), "MQTT_Cluster_Node_Down");
    expect(alert).toMatchObject({
      state: "firing",
      labels: { alertname: "MQTT_Cluster_Node_Down", cluster: "plant", severity: "critical" },
      annotations: { summary: "Cluster plant has only 1 nodes alive" },
    });
  });
});

describe("restarts", () => {
  it("a restart in the middle of `for` keeps the timer: the alert fires when it would have", async () => {
    for (let at = T0; at <= T0 + 40 * S; at += 5 * S) await sample("mqtt_broker_up", "plant-a", 0, at);
    const before = new Harness(T0);
    await before.start();
    await before.roundAt(T0 + 20 * S);
    await before.engine.stop();

    const after = new Harness(T0 + 30 * S);
    const [alert] = named(await after.start(), "MQTT_Broker_Down");
    expect(alert).toMatchObject({ state: "firing", startsAt: new Date(T0 + 30 * S) });
    expect(after.alert("MQTT_Broker_Down")?.activeAt).toEqual(new Date(T0));
  });

  it("a restart while an alert fires does not page again: same startsAt, one history row", async () => {
    for (let at = T0; at <= T0 + 60 * S; at += 5 * S) await sample("mqtt_broker_up", "plant-a", 0, at);
    const before = new Harness(T0);
    await before.start();
    const [fired] = named(await before.roundAt(T0 + 30 * S), "MQTT_Broker_Down");
    await before.engine.stop();

    const after = new Harness(T0 + 45 * S);
    const [still] = named(await after.start(), "MQTT_Broker_Down");
    expect(still).toEqual(
      expect.objectContaining({ state: "firing", startsAt: fired.startsAt, fingerprint: fired.fingerprint }),
    );
    await after.roundAt(T0 + 50 * S);
    const history = await listAlertHistory(t.database.db, { from: new Date(T0), to: new Date(T0 + 60 * S), limit: 10 });
    expect(history).toHaveLength(1);
    expect(history[0]).toMatchObject({ rule: "MQTT_Broker_Down", firedAt: new Date(T0 + 30 * S), resolvedAt: null });
  });

  it("a pending alert nobody watched for over an hour starts its `for` over", async () => {
    await sample("mqtt_broker_up", "plant-a", 0, T0);
    const before = new Harness(T0);
    await before.start();
    await before.engine.stop();
    expect([...(await loadAlertStates(t.database.db)).keys()]).toEqual(["MQTT_Broker_Down"]);

    const later = T0 + 2 * 3600 * S;
    await sample("mqtt_broker_up", "plant-a", 0, later);
    const after = new Harness(later);
    expect(named(await after.start(), "MQTT_Broker_Down")).toEqual([]);
    expect(after.alert("MQTT_Broker_Down")).toMatchObject({ state: "pending", activeAt: new Date(later) });
  });
});

describe("history and notification snapshots", () => {
  it("records when an alert fired and when it resolved, and hands the resolution over exactly once", async () => {
    for (let at = T0; at <= T0 + 30 * S; at += 5 * S) await sample("mqtt_broker_up", "plant-a", 0, at);
    const h = new Harness(T0);
    await h.start();
    await h.roundAt(T0 + 30 * S);
    await sample("mqtt_broker_up", "plant-a", 1, T0 + 35 * S);

    const resolvedRound = await h.roundAt(T0 + 36 * S);
    expect(named(resolvedRound, "MQTT_Broker_Down")).toEqual([
      expect.objectContaining({ state: "resolved", startsAt: new Date(T0 + 30 * S), endsAt: new Date(T0 + 36 * S) }),
    ]);
    expect(named(await h.roundAt(T0 + 37 * S), "MQTT_Broker_Down")).toEqual([]);

    const [row] = await listAlertHistory(t.database.db, { from: new Date(T0), to: new Date(T0 + 60 * S), limit: 10 });
    expect(row).toMatchObject({
      rule: "MQTT_Broker_Down",
      labels: { alertname: "MQTT_Broker_Down", broker: "plant-a", severity: "critical" },
      value: "0",
      activeAt: new Date(T0),
      firedAt: new Date(T0 + 30 * S),
      resolvedAt: new Date(T0 + 36 * S),
    });
    expect(await loadAlertStates(t.database.db)).toEqual(new Map());
  });

  it("a pending alert that clears before `for` leaves no history and is never handed over", async () => {
    await sample("mqtt_broker_up", "plant-a", 0, T0);
    const h = new Harness(T0);
    await h.start();
    await sample("mqtt_broker_up", "plant-a", 1, T0 + 10 * S);
    await h.roundAt(T0 + 40 * S);
    expect(h.rounds.flatMap((r) => r.alerts)).toEqual([]);
    expect(await listAlertHistory(t.database.db, { from: new Date(T0), to: new Date(T0 + 60 * S), limit: 10 })).toEqual(
      [],
    );
  });

  it("switching a rule off while it fires resolves its alerts instead of leaving them open at the receiver", async () => {
    await sample("mqtt_broker_up", "plant-a", 0, T0);
    let fileRules = [RuleSchema.parse({ alert: "Plant_Down", expr: "mqtt_broker_up == 0" })];
    const h = new Harness(T0, async () => loadRules({ builtins: [], fileRules, dbRules: [] }));
    expect(named(await h.start(), "Plant_Down")).toEqual([expect.objectContaining({ state: "firing" })]);
    fileRules = [];
    expect(named(await h.roundAt(T0 + S), "Plant_Down")).toEqual([
      expect.objectContaining({ state: "resolved", endsAt: new Date(T0 + S) }),
    ]);
    expect(h.engine.alerts()).toEqual([]);
  });

  it("a scalar expression alerts as one sample without series labels", async () => {
    const fileRules = [RuleSchema.parse({ alert: "Always", expr: "1 > bool 0" })];
    const h = new Harness(T0, async () => loadRules({ builtins: [], fileRules, dbRules: [] }));
    expect(named(await h.start(), "Always")).toEqual([
      expect.objectContaining({ labels: { alertname: "Always", severity: "warning" } }),
    ]);
  });
});

describe("rule errors and status", () => {
  it("a rule with a broken expression is listed with its position while the other rules keep alerting", async () => {
    await sample("mqtt_broker_up", "plant-a", 0, T0);
    const fileRules = [
      RuleSchema.parse({ alert: "Plant_Queue", expr: "mqtt_queued_messages >" }),
      RuleSchema.parse({ alert: "Plant_Down", expr: "mqtt_broker_up == 0" }),
    ];
    const h = new Harness(T0, async () => loadRules({ builtins: BUILTIN_RULES, fileRules, dbRules: [] }));
    expect(named(await h.start(), "Plant_Down")).toHaveLength(1);

    const rules = h.engine.ruleStates();
    expect(rules.find((r) => r.name === "Plant_Queue")).toMatchObject({
      source: "file",
      enabled: true,
      expr: "mqtt_queued_messages >",
      lastEvaluatedAt: null,
      lastError: "Plant_Queue: expr: syntax error: unexpected end of input at position 22",
      loadErrors: [{ position: 22 }],
    });
    expect(rules.find((r) => r.name === "Plant_Down")).toMatchObject({
      state: "firing",
      alerts: { pending: 0, firing: 1 },
      lastEvaluatedAt: new Date(T0),
      lastError: null,
    });
    expect(rules.find((r) => r.name === "MQTT_Broker_Down")).toMatchObject({
      source: "builtin",
      state: "pending",
      alerts: { pending: 1, firing: 0 },
    });
  });

  it("per-node EMQX counts: the plain ratio never matches, ignoring(node) errors, the built-in sums the nodes", async () => {
    await sample("mqtt_connections_current", "fleet", 500, T0, { node: "emqx@10.0.0.11" });
    await sample("mqtt_connections_current", "fleet", 450, T0, { node: "emqx@10.0.0.12" });
    await sample("mqtt_connections_max", "fleet", 1000, T0);
    const fileRules = [
      RuleSchema.parse({ alert: "Plain_Ratio", expr: "mqtt_connections_current / mqtt_connections_max > 0.85" }),
      RuleSchema.parse({
        alert: "Ignoring_Node",
        expr: "mqtt_connections_current / ignoring(node) mqtt_connections_max > 0.85",
      }),
    ];
    const h = new Harness(T0, async () => loadRules({ builtins: BUILTIN_RULES, fileRules, dbRules: [] }));
    await h.start();
    const rules = h.engine.ruleStates();
    expect(rules.find((r) => r.name === "Plain_Ratio")).toMatchObject({ state: "inactive", lastError: null });
    expect(rules.find((r) => r.name === "Ignoring_Node")).toMatchObject({
      state: "inactive",
      lastError: expect.stringContaining("many-to-one matching must be explicit"),
    });
    expect(h.alert("MQTT_Connection_Saturation")).toMatchObject({
      state: "pending",
      labels: { broker: "fleet" },
      value: 0.95,
    });

    const status = await listRuleStatus(t.database.db);
    expect(status.find((s) => s.rule === "Ignoring_Node")?.lastError).toMatch(/many-to-one/);
    expect(status.find((s) => s.rule === "MQTT_Connection_Saturation")).toMatchObject({
      lastEvaluatedAt: new Date(T0),
      lastError: null,
    });
    expect(h.engine.metrics()).toMatchObject({
      alerts: [
        {
          labels: {
            alertname: "MQTT_Connection_Saturation",
            alertstate: "pending",
            broker: "fleet",
            severity: "warning",
          },
          value: 1,
        },
      ],
      ruleEvaluationFailures: [{ rule: "Ignoring_Node", count: 1 }],
    });
  });

  it("reads each metric once per round however many rules use it", async () => {
    const fileRules = [
      RuleSchema.parse({ alert: "Down_Again", expr: "mqtt_broker_up < 1" }),
      RuleSchema.parse({ alert: "Flapping", expr: "min_over_time(mqtt_broker_up[10m]) == 0" }),
    ];
    const h = new Harness(T0, async () => loadRules({ builtins: BUILTIN_RULES, fileRules, dbRules: [] }));
    vi.mocked(fetchSeries).mockClear();
    await h.start();
    const metrics = vi.mocked(fetchSeries).mock.calls.map(([, metric]) => metric);
    expect(metrics.sort()).toEqual(
      [
        "mqtt_broker_up",
        "mqtt_cluster_nodes_alive",
        "mqtt_cluster_nodes_expected",
        "mqtt_connections_current",
        "mqtt_connections_max",
        "mqtt_queued_messages",
        "mqtt_memory_bytes",
      ].sort(),
    );
    // Each metric over the widest window a rule reads it: 10 minutes for the range selector...
    const window = (name: string) => {
      const [, , fromMs, toMs] = vi.mocked(fetchSeries).mock.calls.find(([, metric]) => metric === name)!;
      return toMs - fromMs;
    };
    expect(window("mqtt_queued_messages")).toBe(300 * S);
    // ...and mqtt_broker_up over the widest window of all (the built-in predict_linear's hour): a
    // broker's series end (staleness markers) at every down transition inside what any rule reads.
    expect(window("mqtt_broker_up")).toBe(3600 * S);
  });
});

describe("rules created in the UI", () => {
  it("apply at the next round, and switching one off or deleting it resolves its alert", async () => {
    const db = t.database.db;
    await sample("mqtt_sessions", "plant-a", 5000, T0);
    const h = new Harness(T0, ruleProvider(db, []));
    await h.start();
    expect(h.alert("Many_Sessions")).toBeUndefined();

    const rule = await createAlertRule(db, { name: "Many_Sessions", expr: "mqtt_sessions > 1000" });
    expect(named(await h.roundAt(T0 + S), "Many_Sessions")).toEqual([
      expect.objectContaining({
        state: "firing",
        labels: { alertname: "Many_Sessions", broker: "plant-a", severity: "warning" },
      }),
    ]);
    expect(h.engine.ruleStates().find((r) => r.name === "Many_Sessions")).toMatchObject({
      source: "ui",
      state: "firing",
    });

    await updateAlertRule(db, rule.id, { enabled: false });
    expect(named(await h.roundAt(T0 + 2 * S), "Many_Sessions")).toEqual([
      expect.objectContaining({ state: "resolved" }),
    ]);
    expect(h.engine.ruleStates().find((r) => r.name === "Many_Sessions")).toMatchObject({ enabled: false });

    expect(await deleteAlertRule(db, rule.id)).toBe(true);
    await h.roundAt(T0 + 3 * S);
    expect(h.engine.ruleStates().map((r) => r.name)).not.toContain("Many_Sessions");
  });
});

describe("evaluateNow", () => {
  it("requests made while a round runs coalesce into one more round", async () => {
    let calls = 0;
    let release: () => void = () => {};
    let gate: Promise<void> | null = null;
    const h = new Harness(T0, async () => {
      calls++;
      if (gate) await gate;
      return builtinsOnly();
    });
    await h.start();
    expect(calls).toBe(1);

    gate = new Promise((resolve) => (release = resolve));
    h.engine.evaluateNow("broker plant-a went down");
    for (let i = 0; i < 5; i++) h.engine.evaluateNow("broker plant-b went down");
    gate = null;
    release();
    await h.engine.idle();
    expect(calls).toBe(3);
    expect(h.rounds).toHaveLength(3);
  });

  it("rounds also run on their own every interval", async () => {
    const rounds: RoundSnapshot[] = [];
    const engine = new AlertEngine(t.database, {
      intervalMs: 20,
      rules: builtinsOnly,
      onRound: async (snapshot) => {
        rounds.push(snapshot);
      },
      log: () => {},
    });
    engines.push(engine);
    await engine.start();
    await vi.waitFor(() => expect(rounds.length).toBeGreaterThanOrEqual(3));
  });

  it("a database outage is logged once, and its end too", async () => {
    const lines: string[] = [];
    let down = false;
    const engine = new AlertEngine(t.database, {
      intervalMs: 3600 * S,
      rules: async () => {
        if (down) throw new Error("connection refused");
        return builtinsOnly();
      },
      log: (line) => lines.push(line),
    });
    engines.push(engine);
    await engine.start();
    down = true;
    for (let i = 0; i < 3; i++) {
      engine.evaluateNow("test");
      await engine.idle();
    }
    down = false;
    engine.evaluateNow("test");
    await engine.idle();
    expect(lines).toEqual([
      "brokerwatch: alert evaluation (test) failed, retrying every round: connection refused",
      "brokerwatch: alert evaluation works again",
    ]);
  });

  it("does nothing once the engine is stopped", async () => {
    const h = new Harness(T0);
    await h.start();
    await h.engine.stop();
    h.engine.evaluateNow("late");
    await h.engine.idle();
    expect(h.rounds).toHaveLength(1);
  });
});
