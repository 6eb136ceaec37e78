import { describe, expect, it } from "vitest";
import { parseExpr } from "@/lib/alerts/promql";
import { ruleViews, type RuleStatus } from "@/lib/alerts/rule-view";
import type { LoadedRules } from "@/lib/alerts/rules";
import { retire, step, type AlertRule, type AlertStateMap } from "@/lib/alerts/state";

const S = 1000;
const T0 = 1_700_000_000 * S;

const rule: AlertRule = {
  name: "MQTT_Broker_Down",
  forSeconds: 30,
  keepFiringForSeconds: 0,
  labels: {},
  annotations: {},
};
const down = (broker: string) => ({ labels: { broker }, value: 0 });

describe("step() reports every transition the engine persists and notifies", () => {
  it("says pending, firing, dropped and resolved per fingerprint, once each", () => {
    const first = step({}, rule, [down("a"), down("b")], T0);
    expect(first.transitions.map((t) => [t.type, t.alert.labels.broker])).toEqual([
      ["pending", "a"],
      ["pending", "b"],
    ]);
    const still = step(first.next, rule, [down("a"), down("b")], T0 + 15 * S);
    expect(still.transitions).toEqual([]);
    const fired = step(still.next, rule, [down("a")], T0 + 30 * S);
    expect(fired.transitions.map((t) => [t.type, t.alert.labels.broker])).toEqual([
      ["firing", "a"],
      ["dropped", "b"],
    ]);
    const resolved = step(fired.next, rule, [], T0 + 45 * S);
    expect(resolved.transitions).toEqual([
      { type: "resolved", alert: expect.objectContaining({ state: "inactive", resolvedAt: T0 + 45 * S }) },
    ]);
    expect(resolved.next).toEqual({});
  });

  it("retire() resolves the firing alerts of a removed rule and drops its pending ones", () => {
    const prev: AlertStateMap = {
      ...step({}, { ...rule, forSeconds: 0 }, [down("a")], T0).next, // fires at once
      ...step({}, rule, [down("b")], T0).next, // pending for 30 s
    };
    expect(retire(prev, T0 + 60 * S).map((t) => [t.type, t.alert.labels.broker, t.alert.resolvedAt])).toEqual([
      ["resolved", "a", T0 + 60 * S],
      ["dropped", "b", null],
    ]);
  });
});

describe("the rule view is built outside the evaluation loop", () => {
  it("combines definitions, alert states and the last status into what GET /api/rules shows", () => {
    const parsed = parseExpr("mqtt_broker_up == 0");
    const loaded: LoadedRules = {
      rules: [{ ...rule, name: "Down", expr: "mqtt_broker_up == 0", source: "ui", parsed }],
      errors: [
        {
          rule: "Typo",
          source: "file",
          message: 'unknown function "rat" at position 0',
          position: 0,
          definition: { ...rule, name: "Typo", expr: "rat(x[5m])" },
        },
      ],
      disabled: [],
    };
    const states = new Map<string, AlertStateMap>([["Down", step({}, rule, [down("a")], T0).next]]);
    const status = new Map<string, RuleStatus>([
      ["Down", { lastEvaluatedAt: new Date(T0), lastDurationMs: 2, lastError: null }],
    ]);
    expect(ruleViews({ loaded, states, status })).toEqual([
      expect.objectContaining({
        name: "Down",
        source: "ui",
        enabled: true,
        state: "pending",
        alerts: { pending: 1, firing: 0 },
        lastEvaluatedAt: new Date(T0),
        lastError: null,
        loadErrors: [],
      }),
      expect.objectContaining({
        name: "Typo",
        source: "file",
        state: "inactive",
        lastEvaluatedAt: null,
        lastError: 'unknown function "rat" at position 0',
        loadErrors: [{ message: 'unknown function "rat" at position 0', position: 0 }],
      }),
    ]);
  });
});
