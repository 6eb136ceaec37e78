import { describe, expect, it } from "vitest";
import {
  evaluate,
  parseExpr,
  PromqlError,
  selectorWindow,
  type EvalResult,
  type Labels,
  type Sample,
  type Series,
} from "../lib/alerts/promql";
import { refusal } from "./helpers/promql";

// Expected values below are worked out by hand from Prometheus' semantics (promql/engine.go,
// promql/functions.go); the arithmetic is spelled out next to each non-obvious one.

const S = 1000;
const T = 1_700_000_000 * S; // evaluation time used by most tests

/** A series with points given as [seconds relative to T, value]. */
function series(labels: Labels, points: [number, number][]): Series {
  return { labels, points: points.map(([sec, v]) => ({ t: T + sec * S, v })) };
}

/** One point 10 s before T. */
function gauge(labels: Labels, v: number): Series {
  return series(labels, [[-10, v]]);
}

/** Evaluates with a fake store: every selector gets all stored series of its metric (a superset). */
function run(expr: string, store: Series[], at = T, opts?: { lookbackMs?: number }): EvalResult {
  const parsed = parseExpr(expr);
  const data = parsed.selectors.map((sel) => store.filter((s) => !sel.metric || s.labels.__name__ === sel.metric));
  return evaluate(parsed, data, at, opts);
}

function samples(expr: string, store: Series[], at = T, opts?: { lookbackMs?: number }): Sample[] {
  const r = run(expr, store, at, opts);
  if (r.kind !== "vector") throw new Error(`expected a vector, got ${JSON.stringify(r)}`);
  return r.samples;
}

function scalar(expr: string): number {
  const r = run(expr, []);
  if (r.kind !== "scalar") throw new Error(`expected a scalar, got ${JSON.stringify(r)}`);
  return r.value;
}

describe("refusing what is out of the language, with the position", () => {
  it("names a function that is out, and why", () => {
    const e = refusal("histogram_count(mqtt_queued_messages)");
    expect(e.message).toBe(
      'function "histogram_count" is not supported: native histograms are not stored by brokerwatch at position 0',
    );
    expect(e.position).toBe(0);
    expect(refusal("mqtt_queued_messages + mad_over_time(x[5m])").message).toBe(
      'function "mad_over_time" is not supported: an experimental Prometheus feature (behind --enable-feature) at position 23',
    );
    expect(refusal("limitk(2, x)").reason).toBe(
      'aggregation "limitk" is not supported: it is an experimental Prometheus feature (behind --enable-feature)',
    );
  });

  it("names a function PromQL does not know at all", () => {
    expect(refusal("rat(mqtt_queued_messages[5m])").message).toBe('unknown function "rat" at position 0');
  });

  it("refuses the experimental modifiers and duration expressions at the modifier", () => {
    expect(refusal("x anchored").message).toBe(
      "the anchored modifier is not supported: it is an experimental Prometheus feature (behind --enable-feature) at position 2",
    );
    expect(refusal("rate(x[5m+1m])").position).toBe(7);
    expect(refusal("rate(x[5m+1m])").reason).toMatch(/^duration expressions are not supported/);
    expect(refusal("x + fill(0) y").reason).toMatch(/^fill modifiers are not supported/);
  });

  it("refuses results a rule cannot have: range vectors and strings", () => {
    expect(refusal("mqtt_queued_messages[5m]").reason).toMatch(/^a range vector is not a rule result/);
    expect(refusal('"text"').reason).toMatch(/^a string is not a rule result/);
  });

  it("reports syntax errors at the offending offset", () => {
    expect(refusal("mqtt_broker_up ==").message).toBe("syntax error: unexpected end of input at position 17");
    expect(refusal("mqtt_broker_up{broker=").position).toBe(22);
    expect(refusal('mqtt_broker_up{broker="b1}').message).toBe("unterminated quoted string at position 22");
    expect(refusal("sum(x))").message).toBe('syntax error: unexpected ")" at position 6');
  });

  it("applies Prometheus' own checks, with its messages", () => {
    expect(refusal("1 > 2").message).toBe("comparisons between scalars must use BOOL modifier at position 2");
    expect(refusal("x + bool 1").message).toBe("bool modifier can only be used on comparison operators at position 4");
    expect(refusal("1 and x").message).toBe('set operator "and" not allowed in binary scalar expression at position 0');
    expect(refusal("x + on(a) 1").message).toBe("vector matching only allowed between instant vectors at position 0");
    expect(refusal("sum(1)").message).toBe(
      "expected type instant vector in aggregation expression, got scalar at position 4",
    );
    expect(refusal("rate(mqtt_messages_dropped_total)").message).toBe(
      'expected type range vector in call to function "rate", got instant vector at position 5',
    );
    expect(refusal("x and on(a) group_left y").reason).toBe('no grouping allowed for "and" operation');
    expect(refusal("x / on(a) group_left(a) y").reason).toBe('label "a" must not occur in ON and GROUP clause at once');
    expect(refusal("sum(x) offset 5m").reason).toBe(
      "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery",
    );
    expect(refusal("x offset 1m offset 2m").reason).toBe("offset may not be set multiple times");
    expect(refusal("rate(x[5m])[10m]").reason).toBe("ranges only allowed for vector selectors");
    expect(refusal("x[5m][10m:]").reason).toBe("subquery is only allowed on instant vector, got range vector");
    expect(refusal("topk(x, y)").reason).toBe("expected type scalar in aggregation parameter, got instant vector");
    expect(refusal('count_values("a-b", x)').reason).toBe('invalid label name "a-b"');
    expect(refusal("round(x, 1, 2)").reason).toBe('expected at most 2 argument(s) in call to "round", got 3');
    expect(refusal('label_replace(x, "a-b", "", "c", "")').reason).toBe(
      "invalid destination label name in label_replace(): a-b",
    );
  });

  it("refuses selectors that would select every series, and bad regexes", () => {
    expect(refusal('{job=~".*"}').reason).toBe("vector selector must contain at least one non-empty matcher");
    expect(refusal('x{broker=~"("}').reason).toMatch(/^invalid regular expression "\("/);
    expect(refusal('x{broker=~"("}').position).toBe(10); // the string literal
  });
});

describe("keywords and syntax as Prometheus accepts them", () => {
  it("reads aggregation keywords and modifiers in any case", () => {
    const store = [gauge({ __name__: "x", job: "a" }, 1), gauge({ __name__: "x", job: "a", i: "2" }, 2)];
    expect(samples("SUM(x) BY (job)", store)).toEqual([{ labels: { job: "a" }, value: 3 }]);
    expect(samples("Sum By (job) (x) > BOOL 2", store)).toEqual([{ labels: { job: "a" }, value: 1 }]);
    expect(samples("x OFFSET 0s", store)).toHaveLength(2);
  });

  it("accepts a parenthesised range selector", () => {
    const store = [series({ __name__: "c" }, [[-60, 0], [0, 60]])];
    expect(samples("rate((c[2m]))", store)).toEqual(samples("rate(c[2m])", store));
  });
});

describe("what the parser hands the caller", () => {
  const plain = { offsetSeconds: 0, at: null, reachSeconds: 0, anchorSeconds: null };
  it("lists each distinct selector once, with matchers and range, so only that data is fetched", () => {
    const p = parseExpr(
      'rate(mqtt_messages_dropped_total{broker=~"b.*"}[5m]) > 0 and on(broker) mqtt_broker_up{job!="x"} == 1 and on(broker) mqtt_broker_up{job!="x"}',
    );
    expect(p.type).toBe("vector");
    expect(p.selectors).toEqual([
      {
        metric: "mqtt_messages_dropped_total",
        matchers: [{ name: "broker", op: "=~", value: "b.*" }],
        rangeSeconds: 300,
        ...plain,
      },
      { metric: "mqtt_broker_up", matchers: [{ name: "job", op: "!=", value: "x" }], rangeSeconds: null, ...plain },
    ]);
  });

  it("accepts the metric name as __name__ and Go string escapes", () => {
    const p = parseExpr('{__name__="mqtt_broker_up", broker="a\\"b", node=`c\\d`}');
    expect(p.selectors[0]).toEqual({
      metric: "mqtt_broker_up",
      matchers: [
        { name: "broker", op: "=", value: 'a"b' },
        { name: "node", op: "=", value: "c\\d" },
      ],
      rangeSeconds: null,
      ...plain,
    });
  });

  it("gives the caller the window to fetch, moved by offset and @ and widened by subqueries", () => {
    const [instant, range] = parseExpr("x + rate(y[2m])").selectors;
    expect(selectorWindow(instant, T)).toEqual({ fromMs: T - 300 * S, toMs: T });
    expect(selectorWindow(instant, T, { lookbackMs: 60 * S })).toEqual({ fromMs: T - 60 * S, toMs: T });
    expect(selectorWindow(range, T)).toEqual({ fromMs: T - 120 * S, toMs: T });
    const [offset] = parseExpr("rate(y[2m] offset 1h)").selectors;
    expect(selectorWindow(offset, T)).toEqual({ fromMs: T - 3720 * S, toMs: T - 3600 * S });
    const [at] = parseExpr("y @ 1000").selectors;
    expect(selectorWindow(at, T)).toEqual({ fromMs: 1000 * S - 300 * S, toMs: 1000 * S });
    const [inner] = parseExpr("max_over_time(rate(y[2m])[1h:1m])").selectors;
    expect(selectorWindow(inner, T)).toEqual({ fromMs: T - 3720 * S, toMs: T });
  });

  it("throws a PromqlError when the caller supplies data for the wrong number of selectors", () => {
    expect(() => evaluate(parseExpr("x / y"), [[]], T)).toThrow(PromqlError);
  });
});

describe("instant selectors and staleness", () => {
  const up = (broker: string, points: [number, number][]) => series({ __name__: "mqtt_broker_up", broker }, points);

  it("a down broker whose last sample is older than the lookback no longer satisfies mqtt_broker_up == 0", () => {
    const store = [up("stale", [[-360, 0]]), up("recent", [[-240, 0]])];
    expect(samples("mqtt_broker_up == 0", store)).toEqual([
      { labels: { __name__: "mqtt_broker_up", broker: "recent" }, value: 0 },
    ]);
  });

  it("uses the newest point at or before the evaluation time, never a later one", () => {
    const store = [
      up("b1", [
        [-30, 0],
        [-15, 1],
        [15, 0],
      ]),
    ];
    expect(samples("mqtt_broker_up", store)).toEqual([
      { labels: { __name__: "mqtt_broker_up", broker: "b1" }, value: 1 },
    ]);
  });

  it("treats the lookback window as left-open like Prometheus 3: a point exactly 5m old is gone", () => {
    expect(samples("mqtt_broker_up", [up("b1", [[-300, 1]])])).toEqual([]);
    expect(
      samples("mqtt_broker_up", [{ labels: { __name__: "mqtt_broker_up" }, points: [{ t: T - 300 * S + 1, v: 1 }] }]),
    ).toHaveLength(1);
    expect(samples("mqtt_broker_up", [up("b1", [[-90, 1]])], T, { lookbackMs: 60 * S })).toEqual([]);
  });

  it("filters the supplied series by the matchers, with fully anchored regexes", () => {
    const store = ["b1", "b10", "a1"].map((b) => gauge({ __name__: "mqtt_broker_up", broker: b }, 1));
    const brokers = (expr: string) => samples(expr, store).map((s) => s.labels.broker);
    expect(brokers('mqtt_broker_up{broker="b1"}')).toEqual(["b1"]);
    expect(brokers('mqtt_broker_up{broker!="b1"}')).toEqual(["b10", "a1"]);
    expect(brokers('mqtt_broker_up{broker=~"b1"}')).toEqual(["b1"]);
    expect(brokers('mqtt_broker_up{broker=~"b.*"}')).toEqual(["b1", "b10"]);
    expect(brokers('mqtt_broker_up{broker!~"b.*"}')).toEqual(["a1"]);
    expect(brokers('mqtt_broker_up{broker=~"(?i)B1"}')).toEqual(["b1"]);
  });

  it('matches an absent label as "" and ignores series of other metrics handed in', () => {
    const store = [
      gauge({ __name__: "mqtt_broker_up", broker: "b1" }, 1),
      gauge({ __name__: "mqtt_broker_up", broker: "b2", cluster: "c1" }, 1),
      gauge({ __name__: "mqtt_sessions", broker: "b1" }, 7),
    ];
    const parsed = parseExpr('mqtt_broker_up{cluster=""}');
    const r = evaluate(parsed, [store], T);
    expect(r).toEqual({
      kind: "vector",
      samples: [{ labels: { __name__: "mqtt_broker_up", broker: "b1" }, value: 1 }],
    });
    expect(samples('mqtt_broker_up{cluster!=""}', store).map((s) => s.labels.broker)).toEqual(["b2"]);
  });
});

describe("operators", () => {
  const conn = (broker: string, cur: number, max: number) => [
    gauge({ __name__: "mqtt_connections_current", broker }, cur),
    gauge({ __name__: "mqtt_connections_max", broker }, max),
  ];

  it("computes scalar arithmetic with Prometheus precedence", () => {
    expect(scalar("1 + 2 * 3")).toBe(7);
    expect(scalar("2 ^ 3 ^ 2")).toBe(512); // right-associative
    expect(scalar("-2 ^ 2")).toBe(-4); // the sign binds looser than ^ (parser.y unary_expr %prec MUL)
    expect(scalar("(1 + 2) * 3 % 4")).toBe(1);
    expect(scalar("0x10 + 1e2 + 1_000")).toBe(1116);
    expect(scalar("1 >= bool 1")).toBe(1);
    expect(scalar("1 > bool 2")).toBe(0);
    expect(scalar("2 * -1")).toBe(-2);
  });

  it("divides by zero like Prometheus: ±Inf and NaN, and an Inf ratio still breaches the threshold", () => {
    expect(scalar("1 / 0")).toBe(Infinity);
    expect(scalar("-1 / 0")).toBe(-Infinity);
    expect(scalar("0 / 0")).toBeNaN();
    expect(scalar("5 % 0")).toBeNaN();
    expect(scalar("1 ^ (0 / 0)")).toBe(1); // Go math.Pow(1, NaN) = 1, unlike JS
    const store = [...conn("capless", 10, 0), ...conn("idle", 0, 0)];
    expect(samples("mqtt_connections_current / mqtt_connections_max > 0.85", store)).toEqual([
      { labels: { broker: "capless" }, value: Infinity },
    ]);
    const ratio = samples("mqtt_connections_current / mqtt_connections_max", store);
    expect(ratio[1].value).toBeNaN(); // 0/0 is NaN, which compares false and so never fires
  });

  it("drops the metric name on arithmetic, keeps it on a filtering comparison", () => {
    const store = [gauge({ __name__: "mqtt_queued_messages", broker: "b1" }, 150000)];
    expect(samples("mqtt_queued_messages * 2", store)).toEqual([{ labels: { broker: "b1" }, value: 300000 }]);
    expect(samples("mqtt_queued_messages > 100000", store)).toEqual([
      { labels: { __name__: "mqtt_queued_messages", broker: "b1" }, value: 150000 },
    ]);
    expect(samples("-mqtt_queued_messages", store)).toEqual([{ labels: { broker: "b1" }, value: -150000 }]);
    expect(samples("+mqtt_queued_messages", store)[0].labels.__name__).toBe("mqtt_queued_messages");
  });

  it("filters with a plain comparison but returns 0/1 without the name with bool", () => {
    const store = [
      gauge({ __name__: "mqtt_queued_messages", broker: "busy" }, 150000),
      gauge({ __name__: "mqtt_queued_messages", broker: "calm" }, 10),
    ];
    expect(samples("mqtt_queued_messages > 100000", store).map((s) => s.labels.broker)).toEqual(["busy"]);
    expect(samples("mqtt_queued_messages > bool 100000", store)).toEqual([
      { labels: { broker: "busy" }, value: 1 },
      { labels: { broker: "calm" }, value: 0 },
    ]);
    // Scalar on the left: the vector's value is kept (engine.go VectorscalarBinop).
    expect(samples("100000 < mqtt_queued_messages", store)).toEqual([
      { labels: { __name__: "mqtt_queued_messages", broker: "busy" }, value: 150000 },
    ]);
    expect(samples("100000 - mqtt_queued_messages", store)[1]).toEqual({ labels: { broker: "calm" }, value: 99990 });
  });

  it("matches vectors on all labels but the name by default, and with on()/ignoring()", () => {
    const store = [
      gauge({ __name__: "mqtt_cluster_nodes_alive", cluster: "c1", source: "collector" }, 2),
      gauge({ __name__: "mqtt_cluster_nodes_expected", cluster: "c1", source: "config" }, 3),
    ];
    // Different `source` labels: nothing matches by default.
    expect(samples("mqtt_cluster_nodes_alive < mqtt_cluster_nodes_expected", store)).toEqual([]);
    expect(samples("mqtt_cluster_nodes_alive < on(cluster) mqtt_cluster_nodes_expected", store)).toEqual([
      { labels: { cluster: "c1" }, value: 2 },
    ]);
    expect(samples("mqtt_cluster_nodes_alive < ignoring(source) mqtt_cluster_nodes_expected", store)).toEqual([
      { labels: { __name__: "mqtt_cluster_nodes_alive", cluster: "c1" }, value: 2 },
    ]);
    expect(samples("mqtt_cluster_nodes_expected - ignoring(source) mqtt_cluster_nodes_alive", store)).toEqual([
      { labels: { cluster: "c1" }, value: 1 },
    ]);
    expect(samples("mqtt_cluster_nodes_alive >= bool ignoring(source) mqtt_cluster_nodes_expected", store)).toEqual([
      { labels: { cluster: "c1" }, value: 0 },
    ]);
  });

  it("reports many-to-many matches as an evaluation error instead of crashing or guessing", () => {
    const store = [
      gauge({ __name__: "mqtt_connections_current", broker: "b1", node: "n1" }, 1),
      gauge({ __name__: "mqtt_connections_max", broker: "b1", node: "n1" }, 10),
      gauge({ __name__: "mqtt_connections_max", broker: "b1", node: "n2" }, 10),
    ];
    const right = run("mqtt_connections_current / on(broker) mqtt_connections_max", store);
    expect(right.kind).toBe("error");
    expect(right.kind === "error" && right.message).toMatch(
      /^found duplicate series for the match group \{broker="b1"\} on the right hand-side of the operation/,
    );
    const left = run("mqtt_connections_max / on(broker) mqtt_connections_current", store);
    expect(left).toEqual({
      kind: "error",
      message: "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
    });
  });

  it("reports duplicate series from the store rather than doubling them", () => {
    const twice = gauge({ __name__: "mqtt_sessions", broker: "b1" }, 5);
    expect(run("mqtt_sessions * 2", [twice, twice])).toEqual({
      kind: "error",
      message: "vector cannot contain metrics with the same labelset",
    });
  });

  it("implements and/or/unless on label signatures, keeping the left-hand samples", () => {
    const store = [
      gauge({ __name__: "mqtt_queued_messages", broker: "b1" }, 5),
      gauge({ __name__: "mqtt_queued_messages", broker: "b2" }, 6),
      gauge({ __name__: "mqtt_broker_up", broker: "b2" }, 1),
      gauge({ __name__: "mqtt_broker_up", broker: "b3" }, 1),
    ];
    const brokers = (expr: string) => samples(expr, store).map((s) => `${s.labels.__name__}/${s.labels.broker}`);
    expect(brokers("mqtt_queued_messages and mqtt_broker_up")).toEqual(["mqtt_queued_messages/b2"]);
    expect(brokers("mqtt_queued_messages unless mqtt_broker_up")).toEqual(["mqtt_queued_messages/b1"]);
    expect(brokers("mqtt_queued_messages or mqtt_broker_up")).toEqual([
      "mqtt_queued_messages/b1",
      "mqtt_queued_messages/b2",
      "mqtt_broker_up/b3",
    ]);
    expect(brokers("mqtt_queued_messages and on() mqtt_broker_up")).toHaveLength(2);
    expect(brokers("mqtt_queued_messages unless on(cluster) mqtt_broker_up")).toEqual([]);
  });
});

describe("aggregations", () => {
  const store = [
    gauge({ __name__: "mqtt_broker_up", cluster: "c1", node: "n1" }, 1),
    gauge({ __name__: "mqtt_broker_up", cluster: "c1", node: "n2" }, 0),
    gauge({ __name__: "mqtt_broker_up", cluster: "c1", node: "n3" }, 1),
    gauge({ __name__: "mqtt_broker_up", cluster: "c2", node: "n1" }, 1),
  ];

  it("sum/min/max/avg/count over everything keep no labels", () => {
    expect(samples("sum(mqtt_broker_up)", store)).toEqual([{ labels: {}, value: 3 }]);
    expect(samples("min(mqtt_broker_up)", store)).toEqual([{ labels: {}, value: 0 }]);
    expect(samples("max(mqtt_broker_up)", store)).toEqual([{ labels: {}, value: 1 }]);
    expect(samples("avg(mqtt_broker_up)", store)).toEqual([{ labels: {}, value: 0.75 }]);
    expect(samples("count(mqtt_broker_up)", store)).toEqual([{ labels: {}, value: 4 }]);
  });

  it("keeps only the by() labels, and drops without() labels plus the name", () => {
    expect(samples("count by (cluster) (mqtt_broker_up == 1)", store)).toEqual([
      { labels: { cluster: "c1" }, value: 2 },
      { labels: { cluster: "c2" }, value: 1 },
    ]);
    expect(samples("sum(mqtt_broker_up) by (cluster, missing)", store)).toEqual([
      { labels: { cluster: "c1" }, value: 2 },
      { labels: { cluster: "c2" }, value: 1 },
    ]);
    expect(samples("max without (node) (mqtt_broker_up)", store)).toEqual([
      { labels: { cluster: "c1" }, value: 1 },
      { labels: { cluster: "c2" }, value: 1 },
    ]);
    expect(samples("min without (cluster) (mqtt_broker_up)", store)).toEqual([
      { labels: { node: "n1" }, value: 1 },
      { labels: { node: "n2" }, value: 0 },
      { labels: { node: "n3" }, value: 1 },
    ]);
  });

  it("an aggregation over nothing is empty, not zero", () => {
    expect(samples("sum(mqtt_broker_up)", [])).toEqual([]);
  });

  it("sum keeps a small term next to huge ones (Kahan-Neumaier, as Prometheus)", () => {
    const big = [1e100, 1, -1e100].map((v, i) => gauge({ __name__: "x", i: String(i) }, v));
    expect(samples("sum(x)", big)[0].value).toBe(1); // naive summation gives 0
    expect(samples("avg(x)", big)[0].value).toBeCloseTo(1 / 3, 15);
  });

  it("min/max ignore a NaN when other values exist", () => {
    const withNaN = [NaN, 2, 1].map((v, i) => gauge({ __name__: "x", i: String(i) }, v));
    expect(samples("max(x)", withNaN)[0].value).toBe(2);
    expect(samples("min(x)", withNaN)[0].value).toBe(1);
  });
});

describe("range functions", () => {
  const counter = (points: [number, number][]) =>
    series({ __name__: "mqtt_messages_dropped_total", broker: "b1" }, points);
  const one = (expr: string, s: Series, at = T) => {
    const out = samples(expr, [s], at);
    expect(out.length).toBeLessThanOrEqual(1);
    return out[0]?.value;
  };

  it("rate over [0,10,20] at 15 s intervals is 0.5/s, extrapolated to the window end but not below zero", () => {
    // Points at T-45s, T-30s, T-15s; window (T-60s, T]. increase seen 20 over 30 s, 15 s from each boundary
    // (< 1.1 × 15 s, so extrapolate fully), but the counter hits 0 at the first point: start gap 0.
    // factor = (30 + 0 + 15) / 30 = 1.5 → increase 30, rate 30 / 60 = 0.5.
    const c = counter([
      [-45, 0],
      [-30, 10],
      [-15, 20],
    ]);
    expect(one("rate(mqtt_messages_dropped_total[1m])", c)).toBeCloseTo(0.5, 12);
    expect(one("increase(mqtt_messages_dropped_total[1m])", c)).toBeCloseTo(30, 12);
    // delta has no zero clamp: factor (30 + 15 + 15) / 30 = 2 → 40.
    expect(one("delta(mqtt_messages_dropped_total[1m])", c)).toBeCloseTo(40, 12);
    expect(samples("rate(mqtt_messages_dropped_total[1m])", [c])[0].labels).toEqual({ broker: "b1" });
  });

  it("extrapolates to the start when the counter could not have been zero there", () => {
    // [10,20,30]: zero point would be 30 s × 10/20 = 15 s before the first sample, not < 15 s,
    // so the full 15 s is used: factor (30 + 15 + 15) / 30 = 2 → increase 40, rate 40/60.
    const c = counter([
      [-45, 10],
      [-30, 20],
      [-15, 30],
    ]);
    expect(one("increase(mqtt_messages_dropped_total[1m])", c)).toBeCloseTo(40, 12);
    expect(one("rate(mqtt_messages_dropped_total[1m])", c)).toBeCloseTo(40 / 60, 12);
  });

  it("a broker restart (counter reset) does not produce a negative or missing rate", () => {
    // 5, 10, 2, 7 at T-45..T: raw 7-5 = 2, plus 10 lost at the reset = 12. Start gap 15 s
    // (zero point 45 × 5/12 = 18.75 s is farther), end gap 0: factor (45 + 15) / 45 → increase 16.
    const c = counter([
      [-45, 5],
      [-30, 10],
      [-15, 2],
      [0, 7],
    ]);
    expect(one("increase(mqtt_messages_dropped_total[1m])", c)).toBeCloseTo(16, 12);
    expect(one("rate(mqtt_messages_dropped_total[1m])", c)).toBeCloseTo(16 / 60, 12);
    // delta treats the drop as a drop: 2 × (45 + 15 + 0) / 45.
    expect(one("delta(mqtt_messages_dropped_total[1m])", c)).toBeCloseTo(8 / 3, 12);
  });

  it("limits extrapolation to half an interval for a series that starts inside the window", () => {
    // Points at T-20s, T-10s, T: 40 s to the window start is beyond 1.1 × 10 s, so only 5 s is added:
    // factor (20 + 5 + 0) / 20 = 1.25 → increase 25.
    const c = counter([
      [-20, 100],
      [-10, 110],
      [0, 120],
    ]);
    expect(one("increase(mqtt_messages_dropped_total[1m])", c)).toBeCloseTo(25, 12);
  });

  it("needs two points in the left-open window", () => {
    expect(one("rate(mqtt_messages_dropped_total[1m])", counter([[-10, 5]]))).toBeUndefined();
    // The point exactly at T-60s is outside (T-60s, T].
    expect(
      one(
        "rate(mqtt_messages_dropped_total[1m])",
        counter([
          [-60, 0],
          [-10, 5],
        ]),
      ),
    ).toBeUndefined();
  });

  it("delta of a gauge extrapolates a decrease", () => {
    // 10 → 5 at T-30s, T-15s: start gap 30 s ≥ 16.5 s → 7.5 s; end gap 15 s: factor (15 + 7.5 + 15) / 15 = 2.5.
    const g = series({ __name__: "mqtt_sessions" }, [
      [-30, 10],
      [-15, 5],
    ]);
    expect(one("delta(mqtt_sessions[1m])", g)).toBeCloseTo(-12.5, 12);
  });

  it("*_over_time reduce the points in (t - range, t]", () => {
    const g = series({ __name__: "mqtt_queued_messages", broker: "b1" }, [
      [-120, 100],
      [-60, 1],
      [-40, NaN],
      [-30, 4],
      [-10, 3],
      [0, 2],
      [5, 99],
    ]);
    expect(one("max_over_time(mqtt_queued_messages[1m])", g)).toBe(4);
    // A NaN is replaced by the next value (functions.go compareOverTime), so it never wins.
    expect(one("min_over_time(mqtt_queued_messages[1m])", g)).toBe(2);
    const noNaN = series({ __name__: "mqtt_queued_messages" }, [
      [-50, 1],
      [-30, 4],
      [-10, 3],
      [0, 2],
    ]);
    expect(one("min_over_time(mqtt_queued_messages[1m])", noNaN)).toBe(1);
    expect(one("avg_over_time(mqtt_queued_messages[1m])", noNaN)).toBe(2.5);
    expect(one("avg_over_time(mqtt_queued_messages[1m])", g, T - 100 * S)).toBe(100);
    expect(samples("max_over_time(mqtt_queued_messages[1m])", [g])[0].labels).toEqual({ broker: "b1" });
  });
});

describe("absent", () => {
  it("alerts on a metric that vanished, labelled from the equality matchers", () => {
    expect(samples('absent(mqtt_broker_up{broker="b1", cluster=~"c.*"})', [])).toEqual([
      { labels: { broker: "b1" }, value: 1 },
    ]);
    expect(
      samples('absent(mqtt_broker_up{broker="b1"})', [gauge({ __name__: "mqtt_broker_up", broker: "b1" }, 0)]),
    ).toEqual([]);
  });

  it("counts a stale series as absent", () => {
    const stale = series({ __name__: "mqtt_broker_up", broker: "b1" }, [[-600, 1]]);
    expect(samples('absent(mqtt_broker_up{broker="b1"})', [stale])).toEqual([{ labels: { broker: "b1" }, value: 1 }]);
  });

  it("has no labels for a non-selector argument or a label matched twice", () => {
    expect(samples("absent(sum(mqtt_broker_up))", [])).toEqual([{ labels: {}, value: 1 }]);
    expect(samples('absent(mqtt_broker_up{broker="a", broker="b"})', [])).toEqual([{ labels: {}, value: 1 }]);
  });
});

describe("the built-in rules of docs/contract.md §6", () => {
  it("MQTT_Connection_Saturation: connections/max > 0.85, per broker", () => {
    const store = [
      gauge({ __name__: "mqtt_connections_current", broker: "hot" }, 900),
      gauge({ __name__: "mqtt_connections_max", broker: "hot" }, 1000),
      gauge({ __name__: "mqtt_connections_current", broker: "cool" }, 850),
      gauge({ __name__: "mqtt_connections_max", broker: "cool" }, 1000),
    ];
    expect(samples("mqtt_connections_current / mqtt_connections_max > 0.85", store)).toEqual([
      { labels: { broker: "hot" }, value: 0.9 },
    ]);
  });

  it("MQTT_Message_Queue_Backlog: mqtt_queued_messages > 100000", () => {
    const store = [
      gauge({ __name__: "mqtt_queued_messages", broker: "b1" }, 100001),
      gauge({ __name__: "mqtt_queued_messages", broker: "b2" }, 100000),
    ];
    expect(samples("mqtt_queued_messages > 100000", store)).toEqual([
      { labels: { __name__: "mqtt_queued_messages", broker: "b1" }, value: 100001 },
    ]);
  });

  it("MQTT_Cluster_Node_Down: nodes_alive < nodes_expected, per cluster", () => {
    const store = [
      gauge({ __name__: "mqtt_cluster_nodes_alive", cluster: "c1" }, 2),
      gauge({ __name__: "mqtt_cluster_nodes_expected", cluster: "c1" }, 3),
      gauge({ __name__: "mqtt_cluster_nodes_alive", cluster: "c2" }, 3),
      gauge({ __name__: "mqtt_cluster_nodes_expected", cluster: "c2" }, 3),
    ];
    expect(samples("mqtt_cluster_nodes_alive < mqtt_cluster_nodes_expected", store)).toEqual([
      { labels: { __name__: "mqtt_cluster_nodes_alive", cluster: "c1" }, value: 2 },
    ]);
  });

  it("MQTT_Broker_Down: mqtt_broker_up == 0", () => {
    const store = [
      gauge({ __name__: "mqtt_broker_up", broker: "down" }, 0),
      gauge({ __name__: "mqtt_broker_up", broker: "fine" }, 1),
    ];
    expect(samples("mqtt_broker_up == 0", store)).toEqual([
      { labels: { __name__: "mqtt_broker_up", broker: "down" }, value: 0 },
    ]);
  });

  it("MQTT_Subscription_Memory: mqtt_subscription_memory_bytes > 4294967296 (absent where not reported)", () => {
    const store = [
      gauge({ __name__: "mqtt_subscription_memory_bytes", broker: "big" }, 5 * 2 ** 30),
      gauge({ __name__: "mqtt_subscription_memory_bytes", broker: "small" }, 2 ** 32),
    ];
    expect(samples("mqtt_subscription_memory_bytes > 4294967296", store)).toEqual([
      { labels: { __name__: "mqtt_subscription_memory_bytes", broker: "big" }, value: 5 * 2 ** 30 },
    ]);
    expect(samples("mqtt_subscription_memory_bytes > 4294967296", [])).toEqual([]);
  });
});
