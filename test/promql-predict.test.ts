import { describe, expect, it } from "vitest";
import { evaluate, parseExpr, PromqlError, type EvalResult, type Series } from "../lib/alerts/promql";

// Prometheus semantics (promql/functions.go funcDeriv, funcPredictLinear, linearRegression):
// least squares over the points of the range; deriv is the slope per second, predict_linear(v[d], t)
// the line's value t seconds after the evaluation time.

const S = 1000;
const T = 1_700_000_000 * S;

function series(points: [number, number][], labels: Record<string, string> = { broker: "a" }): Series {
  return { labels: { __name__: "mqtt_connections_current", ...labels }, points: points.map(([sec, v]) => ({ t: T + sec * S, v })) };
}

function run(expr: string, store: Series[]): EvalResult {
  const parsed = parseExpr(expr);
  return evaluate(parsed, parsed.selectors.map(() => store), T);
}

function values(r: EvalResult): number[] {
  if (r.kind !== "vector") throw new Error(`expected a vector, got ${JSON.stringify(r)}`);
  return r.samples.map((s) => s.value);
}

describe("deriv and predict_linear", () => {
  // 100 connections at T-300 s growing by 1 every 10 s: slope 0.1/s, 130 at T.
  const growing = series([
    [-300, 100],
    [-200, 110],
    [-100, 120],
    [0, 130],
  ]);

  it("deriv is the least-squares slope per second", () => {
    expect(values(run("deriv(mqtt_connections_current[10m])", [growing]))[0]).toBeCloseTo(0.1, 10);
  });

  it("predict_linear projects the regression line t seconds past the evaluation time", () => {
    // 130 + 0.1 × 3600 = 490
    expect(values(run("predict_linear(mqtt_connections_current[10m], 3600)", [growing]))[0]).toBeCloseTo(490, 8);
    // the duration may be any scalar expression: 4 * 3600 → 130 + 1440
    expect(values(run("predict_linear(mqtt_connections_current[10m], 4 * 3600)", [growing]))[0]).toBeCloseTo(1570, 8);
  });

  it("fits noisy points by least squares, not by the first and last point", () => {
    // x = -20,-10,0 s; y = 0, 12, 18: slope = Σ(x-x̄)(y-ȳ)/Σ(x-x̄)² = (−10·−10 + 0 + 10·8)/(100+0+100) = 0.9
    const noisy = series([
      [-20, 0],
      [-10, 12],
      [0, 18],
    ]);
    expect(values(run("deriv(mqtt_connections_current[1m])", [noisy]))[0]).toBeCloseTo(0.9, 10);
    // intercept at T: ȳ − slope·x̄ = 10 − 0.9·(−10) = 19; +100 s → 109
    expect(values(run("predict_linear(mqtt_connections_current[1m], 100)", [noisy]))[0]).toBeCloseTo(109, 10);
  });

  it("a constant series has slope 0 and predicts its value; one point gives nothing", () => {
    const flat = series([
      [-60, 5],
      [-30, 5],
      [0, 5],
    ]);
    expect(values(run("deriv(mqtt_connections_current[5m])", [flat]))).toEqual([0]);
    expect(values(run("predict_linear(mqtt_connections_current[5m], 1000)", [flat]))).toEqual([5]);
    expect(values(run("deriv(mqtt_connections_current[5m])", [series([[0, 1]])]))).toEqual([]);
  });

  it("drops the metric name and keeps the other labels, as range functions do", () => {
    const r = run("predict_linear(mqtt_connections_current[10m], 60)", [growing]);
    expect(r.kind === "vector" && r.samples[0].labels).toEqual({ broker: "a" });
  });

  it("refuses the wrong argument types with Prometheus' messages", () => {
    expect(() => parseExpr("predict_linear(mqtt_connections_current, 60)")).toThrow(/expected type range vector/);
    expect(() => parseExpr("predict_linear(mqtt_connections_current[5m])")).toThrow(/expected 2 argument/);
    expect(() => parseExpr("predict_linear(mqtt_connections_current[5m], mqtt_connections_max)")).toThrow(
      /expected type scalar/,
    );
    expect(() => parseExpr("deriv(mqtt_connections_current)")).toThrow(PromqlError);
  });
});
