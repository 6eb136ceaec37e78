import { describe, expect, it } from "vitest";
import {
  decodeValue,
  fingerprint,
  step,
  type AlertRule,
  type AlertStateMap,
  type StepResult,
} from "../lib/alerts/state";

const S = 1000;
const T0 = 1_700_000_000 * S;
const INTERVAL = 15 * S;

const brokerDown: AlertRule = {
  name: "MQTT_Broker_Down",
  forSeconds: 30,
  keepFiringForSeconds: 0,
  labels: { severity: "critical" },
  annotations: { summary: "Broker {{ $labels.broker }} is down (up={{ $value }})" },
};

const down = (broker: string, value = 0) => ({ labels: { __name__: "mqtt_broker_up", broker }, value });

/** Drives a rule with a fake clock: one evaluation every 15 s, results given per tick. */
class Clock {
  now = T0;
  state: AlertStateMap = {};
  constructor(private readonly rule: AlertRule) {}
  tick(results: { labels: Record<string, string>; value: number }[]): StepResult {
    const r = step(this.state, this.rule, results, this.now);
    this.state = r.next;
    this.now += INTERVAL;
    return r;
  }
  only() {
    const alerts = Object.values(this.state);
    expect(alerts).toHaveLength(1);
    return alerts[0];
  }
}

describe("for: pending before firing", () => {
  it("a broken broker pages only after `for` has elapsed, with firedAt at that evaluation", () => {
    const c = new Clock(brokerDown);
    const first = c.tick([down("b1")]);
    expect(first.transitions.map((t) => t.type)).toEqual(["pending"]);
    expect(c.only()).toMatchObject({ state: "pending", activeAt: T0, firedAt: null });
    expect(c.tick([down("b1")]).transitions).toEqual([]); // T0+15s
    const fired = c.tick([down("b1")]); // T0+30s: 30 s ≥ for
    expect(fired.transitions.map((t) => t.type)).toEqual(["firing"]);
    expect(c.only()).toMatchObject({ state: "firing", activeAt: T0, firedAt: T0 + 30 * S, lastSeenAt: T0 + 30 * S });
    expect(c.tick([down("b1")]).transitions).toEqual([]); // no re-notification while firing
  });

  it("for = 0 fires on the first evaluation, as a single transition", () => {
    const c = new Clock({ ...brokerDown, forSeconds: 0 });
    const r = c.tick([down("b1")]);
    expect(r.transitions.map((t) => [t.type, t.alert.state])).toEqual([["firing", "firing"]]);
    expect(c.only()).toMatchObject({ activeAt: T0, firedAt: T0 });
  });

  it("a blip shorter than `for` is dropped silently and restarts the timer when it returns", () => {
    const c = new Clock(brokerDown);
    c.tick([down("b1")]);
    const gone = c.tick([]);
    expect(gone.transitions.map((t) => t.type)).toEqual(["dropped"]);
    expect(gone.next).toEqual({});
    const back = c.tick([down("b1")]);
    expect(back.transitions.map((t) => t.type)).toEqual(["pending"]);
    expect(c.only().activeAt).toBe(T0 + 30 * S);
  });

  it("tracks each series of a rule on its own", () => {
    const c = new Clock(brokerDown);
    c.tick([down("b1")]);
    c.tick([down("b1"), down("b2")]);
    const r = c.tick([down("b1"), down("b2")]);
    expect(r.transitions.map((t) => [t.type, t.alert.labels.broker])).toEqual([["firing", "b1"]]);
    expect(Object.values(c.state).map((a) => [a.labels.broker, a.state])).toEqual([
      ["b1", "firing"],
      ["b2", "pending"],
    ]);
  });
});

describe("resolution and keep_firing_for", () => {
  it("a firing alert resolves on the first evaluation without its series and leaves the map", () => {
    const c = new Clock({ ...brokerDown, forSeconds: 0 });
    c.tick([down("b1")]);
    const r = c.tick([]);
    expect(r.transitions).toHaveLength(1);
    expect(r.transitions[0]).toMatchObject({
      type: "resolved",
      alert: { state: "inactive", resolvedAt: T0 + 15 * S, firedAt: T0, labels: { broker: "b1" } },
    });
    expect(r.next).toEqual({});
  });

  it("keep_firing_for holds a flapping alert firing until the series has been gone that long", () => {
    const c = new Clock({ ...brokerDown, forSeconds: 0, keepFiringForSeconds: 60 });
    c.tick([down("b1")]); // T0 fires
    expect(c.tick([]).transitions).toEqual([]); // T0+15s: gone, kept
    expect(c.only()).toMatchObject({ state: "firing", keepFiringSince: T0 + 15 * S });
    c.tick([down("b1")]); // T0+30s: back, the keep-firing clock resets
    expect(c.only()).toMatchObject({ state: "firing", keepFiringSince: null, firedAt: T0 });
    for (const at of [45, 60, 75, 90]) {
      expect(c.tick([]).transitions, `at +${at}s`).toEqual([]);
    }
    expect(c.only().keepFiringSince).toBe(T0 + 45 * S);
    const r = c.tick([]); // T0+105s: absent for 60 s
    expect(r.transitions.map((t) => [t.type, t.alert.resolvedAt])).toEqual([["resolved", T0 + 105 * S]]);
    expect(r.next).toEqual({});
  });

  it("keep_firing_for does not apply to pending alerts", () => {
    const c = new Clock({ ...brokerDown, keepFiringForSeconds: 600 });
    c.tick([down("b1")]);
    expect(c.tick([]).transitions.map((t) => t.type)).toEqual(["dropped"]);
  });

  it("flapping: fires, resolves, then fires again as a new alert with a new activeAt", () => {
    const c = new Clock(brokerDown);
    c.tick([down("b1")]);
    c.tick([down("b1")]);
    c.tick([down("b1")]); // fires at +30s
    expect(c.tick([]).transitions.map((t) => t.type)).toEqual(["resolved"]); // +45s
    const again = c.tick([down("b1")]); // +60s
    expect(again.transitions.map((t) => t.type)).toEqual(["pending"]);
    expect(c.only()).toMatchObject({ state: "pending", activeAt: T0 + 60 * S, firedAt: null });
    c.tick([down("b1")]);
    expect(c.tick([down("b1")]).transitions.map((t) => [t.type, t.alert.firedAt])).toEqual([["firing", T0 + 90 * S]]);
  });
});

describe("restart safety (the map is persisted as JSON)", () => {
  it("restoring mid-pending keeps the timer: it fires at activeAt + for, not later", () => {
    const c = new Clock(brokerDown);
    c.tick([down("b1")]); // T0 pending
    c.state = JSON.parse(JSON.stringify(c.state)) as AlertStateMap; // restart
    c.tick([down("b1")]); // T0+15s
    const r = c.tick([down("b1")]); // T0+30s
    expect(r.transitions.map((t) => t.type)).toEqual(["firing"]);
    expect(c.only()).toMatchObject({ activeAt: T0, firedAt: T0 + 30 * S });
  });

  it("restoring a firing alert does not notify it again", () => {
    const c = new Clock({ ...brokerDown, forSeconds: 0 });
    c.tick([down("b1")]);
    c.state = JSON.parse(JSON.stringify(c.state)) as AlertStateMap;
    expect(c.tick([down("b1")]).transitions).toEqual([]);
    expect(c.only()).toMatchObject({ state: "firing", firedAt: T0 });
  });

  it("keeps non-finite values through JSON", () => {
    const c = new Clock({ ...brokerDown, forSeconds: 0 });
    c.tick([
      { labels: { broker: "b1" }, value: Infinity },
      { labels: { broker: "b2" }, value: NaN },
    ]);
    const restored = JSON.parse(JSON.stringify(c.state)) as AlertStateMap;
    const values = Object.values(restored).map((a) => decodeValue(a.value));
    expect(values).toEqual([Infinity, NaN]);
    expect(Object.values(restored).map((a) => a.value)).toEqual(["+Inf", "NaN"]);
  });
});

describe("labels, annotations and identity", () => {
  it("builds the alert label set from the series without __name__, the rule labels and alertname", () => {
    const rule: AlertRule = {
      ...brokerDown,
      forSeconds: 0,
      labels: { severity: "critical", broker: "{{ $labels.broker | toUpper }}", team: "" },
    };
    const r = step({}, rule, [{ labels: { __name__: "mqtt_broker_up", broker: "b1", team: "x" }, value: 0 }], T0);
    const [alert] = Object.values(r.next);
    // A rule label that expands to "" removes the label, as labels.Builder.Set does.
    expect(alert.labels).toEqual({ alertname: "MQTT_Broker_Down", broker: "B1", severity: "critical" });
    expect(alert.fingerprint).toBe(fingerprint(alert.labels));
    expect(Object.keys(r.next)).toEqual([alert.fingerprint]);
  });

  it("re-renders annotations with the current value every evaluation", () => {
    const rule: AlertRule = {
      ...brokerDown,
      annotations: { summary: "{{ $labels.broker }} queue at {{ $value | humanize }}" },
    };
    const c = new Clock(rule);
    c.tick([{ labels: { __name__: "mqtt_queued_messages", broker: "b1" }, value: 150000 }]);
    expect(c.only()).toMatchObject({ value: 150000, annotations: { summary: "b1 queue at 150k" } });
    c.tick([{ labels: { __name__: "mqtt_queued_messages", broker: "b1" }, value: 1234567 }]);
    expect(c.only()).toMatchObject({ value: 1234567, annotations: { summary: "b1 queue at 1.235M" }, activeAt: T0 });
  });

  it("refuses results that collide once __name__ is dropped, leaving the state untouched", () => {
    const prev: AlertStateMap = step({}, brokerDown, [down("b1")], T0).next;
    const r = step(
      prev,
      brokerDown,
      [
        { labels: { __name__: "a", broker: "b1" }, value: 1 },
        { labels: { __name__: "b", broker: "b1" }, value: 2 },
      ],
      T0 + INTERVAL,
    );
    expect(r.error).toBe("vector contains metrics with the same labelset after applying alert labels");
    expect(r.next).toBe(prev);
    expect(r.transitions).toEqual([]);
  });

  it("fingerprints like Alertmanager: FNV-1a 64 of the sorted labels, independent of key order", () => {
    expect(fingerprint({})).toBe("cbf29ce484222325"); // the FNV-64 offset basis
    // Reference value computed with an independent FNV-1a implementation over
    // "alertname\xffMQTT_Broker_Down\xffbroker\xffb1\xffseverity\xffcritical\xff".
    expect(fingerprint({ severity: "critical", broker: "b1", alertname: "MQTT_Broker_Down" })).toBe("76d35e009fde2e4b");
    expect(fingerprint({ alertname: "MQTT_Broker_Down", broker: "b1", severity: "critical" })).toBe("76d35e009fde2e4b");
    expect(fingerprint({ a: "b1" })).not.toBe(fingerprint({ a: "b2" }));
    expect(fingerprint({ a: "bc" })).not.toBe(fingerprint({ ab: "c" }));
  });
});
