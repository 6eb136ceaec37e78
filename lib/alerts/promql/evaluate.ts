/**
 * PromQL subset, evaluation: a parsed expression × the raw series of its selectors → an instant
 * vector or scalar at one timestamp. Pure; the caller fetches the series (see `selectorWindow`).
 * Semantics follow Prometheus 3 (promql/engine.go, promql/functions.go); the relevant function is
 * cited where behaviour is not obvious.
 */
import { compileLabelRegex } from "./regex";
import {
  DEFAULT_LOOKBACK_MS,
  DEFAULT_MAX_SAMPLES,
  PromqlError,
  type AggregateOp,
  type BinaryOp,
  type EvalResult,
  type Expr,
  type Labels,
  type Matcher,
  type ParsedExpr,
  type Point,
  type RangeFunction,
  type Sample,
  type SelectorData,
  type Selector,
} from "./types";

/**
 * The time window (`fromMs` exclusive, `toMs` inclusive) whose points `evaluate` reads for a selector:
 * the lookback window for instant selectors, the range for `metric[5m]`. Left-open like Prometheus 3.
 */
export function selectorWindow(
  selector: Selector,
  evalTimeMs: number,
  opts: { lookbackMs?: number } = {},
): { fromMs: number; toMs: number } {
  const width =
    selector.rangeSeconds === null ? (opts.lookbackMs ?? DEFAULT_LOOKBACK_MS) : selector.rangeSeconds * 1000;
  return { fromMs: evalTimeMs - width, toMs: evalTimeMs };
}

// ---------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------

const COMPARISON_OPS = new Set<BinaryOp>(["==", "!=", ">", "<", ">=", "<="]);

/** An error Prometheus raises while evaluating; becomes `{ kind: "error" }`. */
class EvalError extends Error {}

type Value = { type: "scalar"; value: number } | { type: "vector"; samples: Sample[] };

interface Context {
  readonly parsed: ParsedExpr;
  readonly data: SelectorData;
  readonly t: number;
  readonly lookbackMs: number;
}

export function evaluate(
  parsed: ParsedExpr,
  data: SelectorData,
  evalTimeMs: number,
  opts: { lookbackMs?: number; maxSamples?: number } = {},
): EvalResult {
  if (data.length !== parsed.selectors.length) {
    throw new PromqlError(
      `evaluate() needs series for ${parsed.selectors.length} selector(s) in the order of parsed.selectors, got ${data.length}`,
      null,
    );
  }
  // Counted before any work, from the lengths alone: the limit must hold the work, not follow it.
  const maxSamples = opts.maxSamples ?? DEFAULT_MAX_SAMPLES;
  let touched = 0;
  for (const series of data) for (const s of series) touched += 1 + s.points.length;
  if (touched > maxSamples) {
    return {
      kind: "error",
      message:
        `the expression would read ${touched} stored samples, more than the limit of ${maxSamples}: ` +
        "narrow its label matchers or shorten its ranges",
    };
  }
  const ctx: Context = { parsed, data, t: evalTimeMs, lookbackMs: opts.lookbackMs ?? DEFAULT_LOOKBACK_MS };
  try {
    const v = evalExpr(ctx, parsed.root);
    return v.type === "scalar" ? { kind: "scalar", value: v.value } : { kind: "vector", samples: v.samples };
  } catch (e) {
    if (e instanceof EvalError) return { kind: "error", message: e.message };
    throw e;
  }
}

function evalExpr(ctx: Context, e: Expr): Value {
  switch (e.kind) {
    case "number":
      return { type: "scalar", value: e.value };
    case "selector":
      return { type: "vector", samples: instantSelector(ctx, e.selector) };
    case "range":
      return { type: "vector", samples: unique(rangeFunction(ctx, e.fn, e.selector)) };
    case "predict_linear": {
      const seconds = evalExpr(ctx, e.seconds);
      if (seconds.type !== "scalar") throw new PromqlError("predict_linear needs a scalar duration", null);
      return { type: "vector", samples: unique(predictLinear(ctx, e.selector, seconds.value)) };
    }
    case "absent": {
      const arg = vectorOf(evalExpr(ctx, e.arg));
      return { type: "vector", samples: arg.length > 0 ? [] : [{ labels: { ...e.labels }, value: 1 }] };
    }
    case "unary": {
      const arg = evalExpr(ctx, e.arg);
      if (e.op === "+") return arg;
      if (arg.type === "scalar") return { type: "scalar", value: -arg.value };
      // engine.go (*UnaryExpr): negation drops the metric name.
      return {
        type: "vector",
        samples: unique(arg.samples.map((s) => ({ labels: dropName(s.labels), value: -s.value }))),
      };
    }
    case "binary":
      return binary(ctx, e);
    case "aggregate":
      return { type: "vector", samples: aggregate(e.op, e.without, e.grouping, vectorOf(evalExpr(ctx, e.arg))) };
  }
}

function vectorOf(v: Value): Sample[] {
  if (v.type !== "vector") throw new PromqlError("internal error: expected an instant vector", null);
  return v.samples;
}

function seriesFor(ctx: Context, index: number): { labels: Labels; points: readonly Point[] }[] {
  const selector = ctx.parsed.selectors[index];
  const tests = selector.matchers.map(matcherTest);
  const out: { labels: Labels; points: readonly Point[] }[] = [];
  for (const s of ctx.data[index]) {
    const labels = normaliseLabels(s.labels, selector.metric);
    if (labels.__name__ !== selector.metric) continue;
    if (tests.every((test) => test(labels))) out.push({ labels, points: s.points });
  }
  return out;
}

/** Prometheus has no empty label values: `{a=""}` is the absence of `a`. */
function normaliseLabels(labels: Labels, metric: string): Labels {
  const out: Labels = { __name__: metric };
  for (const [k, v] of Object.entries(labels)) if (v !== "") out[k] = v;
  return out;
}

function matcherTest(m: Matcher): (labels: Labels) => boolean {
  const value = (labels: Labels) => labels[m.name] ?? "";
  switch (m.op) {
    case "=":
      return (l) => value(l) === m.value;
    case "!=":
      return (l) => value(l) !== m.value;
    case "=~": {
      const re = compileLabelRegex(m.value, { dotAll: true });
      return (l) => re.matches(value(l));
    }
    case "!~": {
      const re = compileLabelRegex(m.value, { dotAll: true });
      return (l) => !re.matches(value(l));
    }
  }
}

/**
 * engine.go vectorSelectorSingle: the newest point in (t - lookback, t]. A series whose newest point
 * is older is absent: a broker that stopped reporting must not keep satisfying rules.
 */
function instantSelector(ctx: Context, index: number): Sample[] {
  const { fromMs, toMs } = selectorWindow(ctx.parsed.selectors[index], ctx.t, { lookbackMs: ctx.lookbackMs });
  const out: Sample[] = [];
  for (const s of seriesFor(ctx, index)) {
    let latest: Point | null = null;
    for (const p of s.points) if (p.t > fromMs && p.t <= toMs && (!latest || p.t >= latest.t)) latest = p;
    if (latest) out.push({ labels: s.labels, value: latest.v });
  }
  return out;
}

/** Points in (t - range, t] (engine.go matrixIterSlice, left-open since Prometheus 3), sorted, one per timestamp. */
function rangePoints(points: readonly Point[], fromMs: number, toMs: number): Point[] {
  const byTime = new Map<number, Point>();
  for (const p of points) if (p.t > fromMs && p.t <= toMs) byTime.set(p.t, p);
  return [...byTime.values()].sort((a, b) => a.t - b.t);
}

function rangeFunction(ctx: Context, fn: RangeFunction, index: number): Sample[] {
  const selector = ctx.parsed.selectors[index];
  const { fromMs, toMs } = selectorWindow(selector, ctx.t);
  const out: Sample[] = [];
  for (const s of seriesFor(ctx, index)) {
    const points = rangePoints(s.points, fromMs, toMs);
    const value = applyRangeFunction(fn, points, fromMs, toMs, selector.rangeSeconds!);
    // Range functions drop the metric name (engine.go, *parser.Call with a matrix argument).
    if (value !== null) out.push({ labels: dropName(s.labels), value });
  }
  return out;
}

function applyRangeFunction(
  fn: RangeFunction,
  points: Point[],
  rangeStartMs: number,
  rangeEndMs: number,
  rangeSeconds: number,
): number | null {
  switch (fn) {
    case "rate":
      return extrapolatedRate(points, rangeStartMs, rangeEndMs, rangeSeconds, true, true);
    case "increase":
      return extrapolatedRate(points, rangeStartMs, rangeEndMs, rangeSeconds, true, false);
    case "delta":
      return extrapolatedRate(points, rangeStartMs, rangeEndMs, rangeSeconds, false, false);
    case "deriv":
      // functions.go funcDeriv: the intercept time is the first point's, to keep the sums small
      return points.length < 2 ? null : linearRegression(points, points[0].t).slope;
    case "max_over_time":
      return points.length === 0 ? null : compareOverTime(points, (cur, best) => cur > best);
    case "min_over_time":
      return points.length === 0 ? null : compareOverTime(points, (cur, best) => cur < best);
    case "avg_over_time":
      return points.length === 0 ? null : avgOverTime(points);
  }
}

/**
 * functions.go funcPredictLinear: the least-squares line through the range's points, evaluated
 * `seconds` after the evaluation time (the intercept is taken at the evaluation time).
 */
function predictLinear(ctx: Context, index: number, seconds: number): Sample[] {
  const { fromMs, toMs } = selectorWindow(ctx.parsed.selectors[index], ctx.t);
  const out: Sample[] = [];
  for (const s of seriesFor(ctx, index)) {
    const points = rangePoints(s.points, fromMs, toMs);
    if (points.length < 2) continue;
    const { slope, intercept } = linearRegression(points, ctx.t);
    out.push({ labels: dropName(s.labels), value: slope * seconds + intercept });
  }
  return out;
}

/**
 * functions.go linearRegression: least squares with Kahan-compensated sums, x in seconds from
 * `interceptTimeMs`. A constant series has slope 0 and its value as intercept (no 0/0).
 */
export function linearRegression(points: readonly Point[], interceptTimeMs: number): { slope: number; intercept: number } {
  let n = 0;
  const sumX = kahan();
  const sumY = kahan();
  const sumXY = kahan();
  const sumX2 = kahan();
  const initY = points[0].v;
  let constY = true;
  for (let i = 0; i < points.length; i++) {
    const { t, v } = points[i];
    if (constY && i > 0 && v !== initY) constY = false;
    n += 1;
    const x = (t - interceptTimeMs) / 1000;
    sumX.add(x);
    sumY.add(v);
    sumXY.add(x * v);
    sumX2.add(x * x);
  }
  if (constY) return Number.isFinite(initY) ? { slope: 0, intercept: initY } : { slope: NaN, intercept: NaN };
  const sx = sumX.value();
  const sy = sumY.value();
  const covXY = sumXY.value() - (sx * sy) / n;
  const varX = sumX2.value() - (sx * sx) / n;
  const slope = covXY / varX;
  return { slope, intercept: sy / n - (slope * sx) / n };
}

/** functions.go kahanSumInc: a running sum with its compensation term. */
function kahan(): { add(x: number): void; value(): number } {
  let sum = 0;
  let c = 0;
  return {
    add(x: number) {
      const t = sum + x;
      if (Math.abs(sum) >= Math.abs(x)) c += sum - t + x;
      else c += x - t + sum;
      sum = t;
    },
    value: () => sum + c,
  };
}

/**
 * functions.go extrapolatedRate, float branch, line for line: counter resets add the value before
 * the reset; the increase seen between the first and last point is extrapolated to the range
 * boundaries when they are within 1.1 average intervals (else by half an interval), and for
 * counters never to before the point where the counter would have been zero.
 */
function extrapolatedRate(
  points: Point[],
  rangeStartMs: number,
  rangeEndMs: number,
  rangeSeconds: number,
  isCounter: boolean,
  isRate: boolean,
): number | null {
  if (points.length < 2) return null;
  const first = points[0];
  const last = points[points.length - 1];
  let result = last.v - first.v;
  if (isCounter) {
    for (let i = 1; i < points.length; i++) if (points[i].v < points[i - 1].v) result += points[i - 1].v;
  }

  let durationToStart = (first.t - rangeStartMs) / 1000;
  let durationToEnd = (rangeEndMs - last.t) / 1000;
  const sampledInterval = (last.t - first.t) / 1000;
  const averageDurationBetweenSamples = sampledInterval / (points.length - 1);
  const extrapolationThreshold = averageDurationBetweenSamples * 1.1;

  if (durationToStart >= extrapolationThreshold) durationToStart = averageDurationBetweenSamples / 2;
  if (isCounter) {
    let durationToZero = durationToStart;
    if (result > 0 && first.v >= 0) durationToZero = sampledInterval * (first.v / result);
    if (durationToZero < durationToStart) durationToStart = durationToZero;
  }
  if (durationToEnd >= extrapolationThreshold) durationToEnd = averageDurationBetweenSamples / 2;

  let factor = (sampledInterval + durationToStart + durationToEnd) / sampledInterval;
  if (isRate) factor /= rangeSeconds;
  return result * factor;
}

/** functions.go compareOverTime: a NaN is replaced by any later value. */
function compareOverTime(points: Point[], better: (cur: number, best: number) => boolean): number {
  let best = points[0].v;
  for (const p of points) if (better(p.v, best) || Number.isNaN(best)) best = p.v;
  return best;
}

/** functions.go funcAvgOverTime: Kahan-compensated sum, switching to an incremental mean on overflow. */
function avgOverTime(points: Point[]): number {
  let sum = points[0].v;
  let count = 1;
  let mean = 0;
  let c = 0;
  let incremental = false;
  for (let i = 1; i < points.length; i++) {
    const f = points[i].v;
    count = i + 1;
    if (!incremental) {
      const [newSum, newC] = kahanSumInc(f, sum, c);
      if (!isInf(newSum)) {
        sum = newSum;
        c = newC;
        continue;
      }
      incremental = true;
      mean = sum / (count - 1);
      c /= count - 1;
    }
    const q = (count - 1) / count;
    [mean, c] = kahanSumInc(f / count, q * mean, q * c);
  }
  return incremental ? mean + c : sum / count + c / count;
}

/** util/kahansum Inc: Neumaier's variant of Kahan summation. */
function kahanSumInc(inc: number, sum: number, c: number): [number, number] {
  const t = sum + inc;
  if (isInf(t)) c = 0;
  else if (Math.abs(sum) >= Math.abs(inc)) c += sum - t + inc;
  else c += inc - t + sum;
  return [t, c];
}

function isInf(v: number): boolean {
  return v === Infinity || v === -Infinity;
}

// --- binary operators --------------------------------------------------------------------------

function binary(ctx: Context, e: Extract<Expr, { kind: "binary" }>): Value {
  const lhs = evalExpr(ctx, e.lhs);
  const rhs = evalExpr(ctx, e.rhs);
  if (lhs.type === "scalar" && rhs.type === "scalar") {
    const [value, keep] = elemBinop(e.op, lhs.value, rhs.value);
    // Comparisons between scalars always carry `bool` (enforced at parse time).
    return { type: "scalar", value: COMPARISON_OPS.has(e.op) ? (keep ? 1 : 0) : value };
  }
  if (lhs.type === "vector" && rhs.type === "vector") {
    const matching = e.matching!;
    const out =
      e.op === "and"
        ? setAnd(lhs.samples, rhs.samples, matching)
        : e.op === "or"
          ? setOr(lhs.samples, rhs.samples, matching)
          : e.op === "unless"
            ? setUnless(lhs.samples, rhs.samples, matching)
            : vectorBinop(e.op, lhs.samples, rhs.samples, matching, e.returnBool);
    return { type: "vector", samples: unique(out) };
  }
  // One side is a scalar: engine.go VectorscalarBinop, told whether the scalar came first.
  return lhs.type === "vector"
    ? {
        type: "vector",
        samples: unique(vectorScalarBinop(e.op, lhs.samples, vectorScalarValue(rhs), false, e.returnBool)),
      }
    : { type: "vector", samples: unique(vectorScalarBinop(e.op, vectorOf(rhs), lhs.value, true, e.returnBool)) };
}

function vectorScalarValue(v: Value): number {
  if (v.type !== "scalar") throw new PromqlError("internal error: expected a scalar", null);
  return v.value;
}

/** engine.go vectorElemBinop (floats): the value and whether a comparison keeps the element. */
function elemBinop(op: BinaryOp, l: number, r: number): [number, boolean] {
  switch (op) {
    case "+":
      return [l + r, true];
    case "-":
      return [l - r, true];
    case "*":
      return [l * r, true];
    case "/":
      return [l / r, true];
    case "%":
      return [l % r, true]; // JS % and Go math.Mod agree, including x % 0 = NaN.
    case "^":
      return [goPow(l, r), true];
    case "==":
      return [l, l === r];
    case "!=":
      return [l, l !== r];
    case ">":
      return [l, l > r];
    case "<":
      return [l, l < r];
    case ">=":
      return [l, l >= r];
    case "<=":
      return [l, l <= r];
    default:
      throw new PromqlError(`internal error: operator "${op}" is not an arithmetic or comparison operator`, null);
  }
}

/** Go's math.Pow differs from Math.pow in two special cases: Pow(1, y) = 1 and Pow(-1, ±Inf) = 1. */
function goPow(x: number, y: number): number {
  if (x === 1 || (x === -1 && isInf(y))) return 1;
  return Math.pow(x, y);
}

/** engine.go shouldDropMetricName: arithmetic drops `__name__`, filtering comparisons keep it. */
function isArithmetic(op: BinaryOp): boolean {
  return op === "+" || op === "-" || op === "*" || op === "/" || op === "%" || op === "^";
}

function vectorScalarBinop(
  op: BinaryOp,
  vector: Sample[],
  scalar: number,
  swap: boolean,
  returnBool: boolean,
): Sample[] {
  const out: Sample[] = [];
  for (const s of vector) {
    const [l, r] = swap ? [scalar, s.value] : [s.value, scalar];
    let [value, keep] = elemBinop(op, l, r);
    // engine.go VectorscalarBinop: `1 < x` filters but keeps x's value.
    if (COMPARISON_OPS.has(op) && swap) value = r;
    if (returnBool) {
      value = keep ? 1 : 0;
      keep = true;
    }
    if (keep) out.push({ labels: isArithmetic(op) || returnBool ? dropName(s.labels) : s.labels, value });
  }
  return out;
}

type Matching = { on: boolean; labels: string[] };

/** engine.go signatureFunc: `on` keeps the listed labels, otherwise they and `__name__` are ignored. */
function matchedLabels(labels: Labels, m: Matching): Labels {
  const out: Labels = {};
  for (const [k, v] of Object.entries(labels)) {
    const listed = m.labels.includes(k);
    if (m.on ? listed : !listed && k !== "__name__") out[k] = v;
  }
  return out;
}

function signature(labels: Labels, m: Matching): string {
  return labelsKey(matchedLabels(labels, m));
}

/** engine.go VectorBinop for one-to-one matching, with its two many-to-many errors. */
function vectorBinop(op: BinaryOp, lhs: Sample[], rhs: Sample[], m: Matching, returnBool: boolean): Sample[] {
  if (lhs.length === 0 || rhs.length === 0) return [];
  const right = new Map<string, Sample>();
  for (const rs of rhs) {
    const sig = signature(rs.labels, m);
    const dup = right.get(sig);
    if (dup) {
      throw new EvalError(
        `found duplicate series for the match group ${formatLabels(matchedLabels(rs.labels, m))} on the right hand-side of the operation: ` +
          `[${formatLabels(rs.labels)}, ${formatLabels(dup.labels)}];many-to-many matching not allowed: matching labels must be unique on one side`,
      );
    }
    right.set(sig, rs);
  }
  const matched = new Set<string>();
  const out: Sample[] = [];
  for (const ls of lhs) {
    const sig = signature(ls.labels, m);
    const rs = right.get(sig);
    if (!rs) continue;
    let [value, keep] = elemBinop(op, ls.value, rs.value);
    if (returnBool) value = keep ? 1 : 0;
    else if (!keep) continue;
    if (matched.has(sig)) {
      throw new EvalError(
        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
      );
    }
    matched.add(sig);
    out.push({ labels: resultLabels(ls.labels, op, m, returnBool), value });
  }
  return out;
}

/** engine.go resultMetric for one-to-one matching. */
function resultLabels(lhs: Labels, op: BinaryOp, m: Matching, returnBool: boolean): Labels {
  const out: Labels = {};
  for (const [k, v] of Object.entries(lhs)) {
    if (k === "__name__" && (isArithmetic(op) || returnBool)) continue;
    const listed = m.labels.includes(k);
    if (m.on ? listed : !listed) out[k] = v;
  }
  return out;
}

function setAnd(lhs: Sample[], rhs: Sample[], m: Matching): Sample[] {
  const right = new Set(rhs.map((s) => signature(s.labels, m)));
  return lhs.filter((s) => right.has(signature(s.labels, m)));
}

function setOr(lhs: Sample[], rhs: Sample[], m: Matching): Sample[] {
  const left = new Set(lhs.map((s) => signature(s.labels, m)));
  return [...lhs, ...rhs.filter((s) => !left.has(signature(s.labels, m)))];
}

function setUnless(lhs: Sample[], rhs: Sample[], m: Matching): Sample[] {
  const right = new Set(rhs.map((s) => signature(s.labels, m)));
  return lhs.filter((s) => !right.has(signature(s.labels, m)));
}

// --- aggregation -------------------------------------------------------------------------------

interface Group {
  labels: Labels;
  value: number;
  mean: number;
  kahanC: number;
  count: number;
  incrementalMean: boolean;
}

/** engine.go aggregation (float samples) for sum, avg, min, max and count. */
function aggregate(op: AggregateOp, without: boolean, grouping: string[], samples: Sample[]): Sample[] {
  const groups = new Map<string, Group>();
  for (const s of samples) {
    const labels = groupingLabels(s.labels, without, grouping);
    const key = labelsKey(labels);
    const f = s.value;
    const g = groups.get(key);
    if (!g) {
      groups.set(key, { labels, value: f, mean: f, kahanC: 0, count: 1, incrementalMean: false });
      continue;
    }
    switch (op) {
      case "sum":
        [g.value, g.kahanC] = kahanSumInc(f, g.value, g.kahanC);
        break;
      case "avg":
        addToMean(g, f);
        break;
      case "max":
        if (g.value < f || Number.isNaN(g.value)) g.value = f;
        break;
      case "min":
        if (g.value > f || Number.isNaN(g.value)) g.value = f;
        break;
      case "count":
        g.count++;
        break;
    }
  }
  return [...groups.values()].map((g) => ({ labels: g.labels, value: finishGroup(op, g) }));
}

/** The AVG branch of engine.go aggregation: direct Kahan mean, incremental once the sum would overflow. */
function addToMean(g: Group, f: number): void {
  g.count++;
  if (!g.incrementalMean) {
    const [newV, newC] = kahanSumInc(f, g.value, g.kahanC);
    if (!isInf(newV)) {
      g.value = newV;
      g.kahanC = newC;
      return;
    }
    g.incrementalMean = true;
    g.mean = g.value / (g.count - 1);
    g.kahanC /= g.count - 1;
  }
  if (isInf(g.mean)) {
    if (isInf(f) && g.mean > 0 === f > 0) return;
    if (!isInf(f) && !Number.isNaN(f)) return;
  }
  const currentMean = g.mean + g.kahanC;
  [g.mean, g.kahanC] = kahanSumInc(f / g.count - currentMean / g.count, g.mean, g.kahanC);
}

function finishGroup(op: AggregateOp, g: Group): number {
  switch (op) {
    case "sum":
      return g.value + g.kahanC;
    case "avg":
      return g.incrementalMean ? g.mean + g.kahanC : (g.value + g.kahanC) / g.count;
    case "count":
      return g.count;
    default:
      return g.value;
  }
}

/** engine.go generateGroupingLabels: `by` keeps the listed labels, `without` drops them and `__name__`. */
function groupingLabels(labels: Labels, without: boolean, grouping: string[]): Labels {
  const out: Labels = {};
  for (const [k, v] of Object.entries(labels)) {
    const listed = grouping.includes(k);
    if (without ? !listed && k !== "__name__" : listed) out[k] = v;
  }
  return out;
}

// --- label helpers -----------------------------------------------------------------------------

function dropName(labels: Labels): Labels {
  const { __name__: _dropped, ...rest } = labels;
  return rest;
}

function labelsKey(labels: Labels): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** labels.Labels.String(): `{a="1", b="2"}`. */
function formatLabels(labels: Labels): string {
  const entries = Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", ")}}`;
}

/** engine.go rangeEval: "vector cannot contain metrics with the same labelset". */
function unique(samples: Sample[]): Sample[] {
  const seen = new Set<string>();
  for (const s of samples) {
    const key = labelsKey(s.labels);
    if (seen.has(key)) throw new EvalError("vector cannot contain metrics with the same labelset");
    seen.add(key);
  }
  return samples;
}
