import { describe, expect, it } from "vitest";
import { listRuleStatus } from "@/db/alerts";
import { metricSamples, type AlertRuleRow } from "@/db/schema";
import { AlertEngine } from "@/lib/alerts/engine";
import type { Expr, Selector } from "@/lib/alerts/promql";
import { loadRules, type LoadedRules } from "@/lib/alerts/rules";
import { alertTestDatabase } from "./helpers/alert-db";

const S = 1000;
const T0 = Date.parse("2026-11-23T08:00:00Z");

const t = alertTestDatabase();
const { engines } = t;

function uiRule(id: number, name: string, expr: string): AlertRuleRow {
  const at = new Date(T0);
  return {
    id,
    name,
    expr,
    forSeconds: 0,
    keepFiringForSeconds: 0,
    labels: {},
    annotations: {},
    enabled: true,
    kind: "alert",
    groupName: null,
    intervalSeconds: null,
    limit: 0,
    createdAt: at,
    updatedAt: at,
  };
}

/** Three rules over the same metrics; the test then breaks one of them behind the parser's back. */
function threeRules(): LoadedRules {
  const loaded = loadRules({
    builtins: [],
    fileRules: [],
    dbRules: [
      uiRule(1, "BrokerUp", "mqtt_broker_up == 1"),
      uiRule(2, "ManyClients", "mqtt_connections_current > 5"),
      uiRule(3, "Broken", "max_over_time(mqtt_broker_up[5m]) < 2"),
    ],
  });
  expect(loaded.errors).toEqual([]);
  return loaded;
}

function ruleNamed(loaded: LoadedRules, name: string) {
  return loaded.rules.find((r) => r.name === name)!;
}

async function engineOn(loaded: LoadedRules, clock: { now: number }): Promise<AlertEngine> {
  await t.database.db.insert(metricSamples).values([
    { broker: "plant-a", node: "", metric: "mqtt_broker_up", labels: {}, ts: new Date(T0 - 10 * S), value: 1 },
    {
      broker: "plant-a",
      node: "",
      metric: "mqtt_connections_current",
      labels: {},
      ts: new Date(T0 - 10 * S),
      value: 9,
    },
  ]);
  const engine = new AlertEngine(t.database, {
    intervalMs: 3600 * S,
    rules: async () => loaded,
    now: () => clock.now,
    log: () => {},
  });
  engines.push(engine);
  return engine;
}

const status = (engine: AlertEngine, name: string) => engine.ruleStates().find((r) => r.name === name)!;

describe("one failing rule does not stop the others", () => {
  it("a range the parser would refuse ([1e15]) fails only its own rule, not the fetch the others share", async () => {
    const loaded = threeRules();
    // As if it had been stored before ranges were bounded: 1e15 s is past any date the store has.
    (ruleNamed(loaded, "Broken").parsed.selectors as Selector[])[0].rangeSeconds = 1e15;
    const engine = await engineOn(loaded, { now: T0 });
    await engine.start();

    expect(engine.alerts().map((a) => `${a.alertname} ${a.state}`)).toEqual(["BrokerUp firing", "ManyClients firing"]);
    expect(status(engine, "Broken")).toMatchObject({
      lastEvaluatedAt: new Date(T0),
      lastError: "range of 1000000000000000s for mqtt_broker_up is outside 0s to 31622400s",
    });
    expect(status(engine, "BrokerUp").lastError).toBeNull();
    expect(status(engine, "ManyClients").lastError).toBeNull();
    const saved = await listRuleStatus(t.database.db);
    expect(saved.find((r) => r.rule === "Broken")?.lastError).toMatch(/^range of 1000000000000000s/);
  });

  it("a rule that throws during evaluation keeps its alerts and records the error; the others evaluate", async () => {
    const loaded = threeRules();
    const clock = { now: T0 };
    const engine = await engineOn(loaded, clock);
    await engine.start();
    expect(
      engine
        .alerts()
        .map((a) => a.alertname)
        .sort(),
    ).toEqual(["Broken", "BrokerUp", "ManyClients"]);

    // The evaluator meets a node it does not know: a TypeError, not a PromQL error.
    ruleNamed(loaded, "ManyClients").parsed = {
      ...ruleNamed(loaded, "ManyClients").parsed,
      root: { kind: "no-such-node" } as unknown as Expr,
    };
    clock.now = T0 + 60 * S;
    await t.database.db.insert(metricSamples).values({
      broker: "plant-a",
      node: "",
      metric: "mqtt_broker_up",
      labels: {},
      ts: new Date(T0 + 50 * S),
      value: 0,
    });
    engine.evaluateNow("test");
    await engine.idle();

    const manyClients = status(engine, "ManyClients");
    expect(manyClients.lastEvaluatedAt).toEqual(new Date(T0 + 60 * S));
    expect(manyClients.lastError).toMatch(/Cannot read properties of undefined/);
    // Its firing alert stays as it was, as Prometheus leaves alerts alone when the query fails…
    expect(manyClients.state).toBe("firing");
    // …while the other rules saw the broker go down at the same round.
    expect(status(engine, "BrokerUp")).toMatchObject({ lastError: null, state: "inactive" });
    expect(status(engine, "Broken")).toMatchObject({ lastError: null, state: "firing" });
    expect(engine.metrics().ruleEvaluationFailures).toEqual([{ rule: "ManyClients", count: 1 }]);
  });
});
