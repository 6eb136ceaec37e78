/**
 * PromQL evaluation: a parsed expression × the raw series of its selectors → an instant vector or
 * scalar at one timestamp. Pure; the caller fetches the series (see `selectorWindow`). Semantics
 * follow Prometheus 3 for float samples (promql/engine.go, promql/functions.go,
 * promql/quantile.go); the relevant function is cited where behaviour is not obvious.
 *
 * Bounded: every stored point read (again for each step of a subquery) counts against
 * `maxSamples`, and an evaluation that runs past `maxEvalMs` stops; both end in an error result.
 */
import { RE2JS } from "re2js";
import { compileLabelRegex } from "./regex";
import {
  DEFAULT_LOOKBACK_MS,
  DEFAULT_MAX_EVAL_MS,
  DEFAULT_MAX_SAMPLES,
  DEFAULT_SUBQUERY_STEP_MS,
  PromqlError,
  type AggregateOp,
  type BinaryOp,
  type EvalResult,
  type Expr,
  type Labels,
  type Matcher,
  type ParsedExpr,
  type Point,
  type Sample,
  type SelectorData,
  type Selector,
  type VectorMatching,
} from "./types";

/**
 * The time window (`fromMs` exclusive, `toMs` inclusive) whose points `evaluate` reads for a
 * selector at `evalTimeMs`: the lookback window for instant selectors, the range for
 * `metric[5m]`, moved by `offset` and `@`, and widened by the ranges of enclosing subqueries.
 * Left-open like Prometheus 3.
 */
export function selectorWindow(
  selector: Selector,
  evalTimeMs: number,
  opts: { lookbackMs?: number } = {},
): { fromMs: number; toMs: number } {
  const width =
    selector.rangeSeconds === null ? (opts.lookbackMs ?? DEFAULT_LOOKBACK_MS) : selector.rangeSeconds * 1000;
  const pinned = typeof selector.at === "number";
  const anchor = pinned
    ? (selector.at as number) * 1000
    : selector.anchorSeconds != null
      ? selector.anchorSeconds * 1000
      : evalTimeMs;
  const toMs = anchor - (selector.offsetSeconds ?? 0) * 1000;
  const reach = pinned ? 0 : (selector.reachSeconds ?? 0) * 1000;
  return { fromMs: toMs - width - reach, toMs };
}

// ---------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------

const COMPARISON_OPS = new Set<BinaryOp>(["==", "!=", ">", "<", ">=", "<="]);

/** An error Prometheus raises while evaluating (or a limit we impose); becomes `{ kind: "error" }`. */
class EvalError extends Error {}

/** An instant-vector element; `ts` is the stored sample's time where it came straight from a selector. */
interface Elem {
  labels: Labels;
  value: number;
  ts?: number;
}
interface RangeSeries {
  labels: Labels;
  points: Point[];
}
type Value =
  | { type: "scalar"; value: number }
  | { type: "vector"; samples: Elem[] }
  | { type: "matrix"; series: RangeSeries[] }
  | { type: "string"; value: string };

interface Prepared {
  labels: Labels;
  /** sorted by time, one per timestamp */
  points: Point[];
}

interface Context {
  readonly parsed: ParsedExpr;
  readonly data: SelectorData;
  readonly prepared: (Prepared[] | undefined)[];
  /** `@ start()` / `@ end()` */
  readonly startMs: number;
  readonly endMs: number;
  readonly stepMs: number;
  readonly lookbackMs: number;
  readonly subqueryStepMs: number;
  readonly maxSamples: number;
  samplesLeft: number;
  readonly deadline: number;
  checks: number;
}

export interface EvaluateOptions {
  lookbackMs?: number;
  /** the most stored points one evaluation may read (subqueries read theirs once per step) */
  maxSamples?: number;
  /** the longest one evaluation may run, in ms */
  maxEvalMs?: number;
  /** the resolution of subqueries that name none (`[5m:]`) */
  subqueryStepMs?: number;
  /**
   * The range query this evaluation is one step of, for `@ start()` / `@ end()`; without it both
   * are the evaluation time (an instant query, which is what a rule is).
   */
  range?: { startMs: number; endMs: number; stepMs?: number };
}

export function evaluate(
  parsed: ParsedExpr,
  data: SelectorData,
  evalTimeMs: number,
  opts: EvaluateOptions = {},
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
  const ctx: Context = {
    parsed,
    data,
    prepared: [],
    startMs: opts.range?.startMs ?? evalTimeMs,
    endMs: opts.range?.endMs ?? evalTimeMs,
    stepMs: opts.range?.stepMs ?? 0,
    lookbackMs: opts.lookbackMs ?? DEFAULT_LOOKBACK_MS,
    subqueryStepMs: opts.subqueryStepMs ?? DEFAULT_SUBQUERY_STEP_MS,
    maxSamples,
    samplesLeft: maxSamples,
    deadline: Date.now() + (opts.maxEvalMs ?? DEFAULT_MAX_EVAL_MS),
    checks: 0,
  };
  try {
    const v = evalAt(ctx, parsed.root, evalTimeMs);
    if (v.type === "scalar") return { kind: "scalar", value: v.value };
    if (v.type === "vector")
      return { kind: "vector", samples: v.samples.map(({ labels, value }) => ({ labels, value })) };
    throw new PromqlError(`internal error: a ${v.type} is not a result`, null);
  } catch (e) {
    if (e instanceof EvalError) return { kind: "error", message: e.message };
    throw e;
  }
}

/** Charges `n` samples read; checks the clock every few thousand. */
function charge(ctx: Context, n: number): void {
  ctx.samplesLeft -= n;
  if (ctx.samplesLeft < 0) {
    throw new EvalError(
      `the expression read more than ${ctx.maxSamples} samples (subqueries read theirs once per step): ` +
        "narrow its label matchers, shorten its ranges or coarsen its subquery steps",
    );
  }
  ctx.checks += n;
  if (ctx.checks > 4096) {
    ctx.checks = 0;
    if (Date.now() > ctx.deadline) throw new EvalError("the expression took too long to evaluate and was stopped");
  }
}

function evalAt(ctx: Context, e: Expr, t: number): Value {
  switch (e.kind) {
    case "number":
      return { type: "scalar", value: e.value };
    case "string":
      return { type: "string", value: e.value };
    case "selector":
      return { type: "vector", samples: instantSelector(ctx, e.selector, t) };
    case "matrix":
      return { type: "matrix", series: rangeSelector(ctx, e.selector, t) };
    case "subquery":
      return { type: "matrix", series: subquery(ctx, e, t) };
    case "call":
      return call(ctx, e, t);
    case "unary": {
      const arg = evalAt(ctx, e.arg, t);
      if (e.op === "+") return arg;
      if (arg.type === "scalar") return { type: "scalar", value: -arg.value };
      // engine.go (*UnaryExpr): negation drops the metric name.
      return {
        type: "vector",
        samples: unique(vectorOf(arg).map((s) => ({ labels: dropName(s.labels), value: -s.value }))),
      };
    }
    case "binary":
      return binary(ctx, e, t);
    case "aggregate":
      return { type: "vector", samples: aggregate(ctx, e, t) };
  }
}

function vectorOf(v: Value): Elem[] {
  if (v.type !== "vector") throw new PromqlError(`internal error: expected an instant vector, got ${v.type}`, null);
  return v.samples;
}
function scalarOf(v: Value): number {
  if (v.type !== "scalar") throw new PromqlError(`internal error: expected a scalar, got ${v.type}`, null);
  return v.value;
}
function matrixOf(v: Value): RangeSeries[] {
  if (v.type !== "matrix") throw new PromqlError(`internal error: expected a range vector, got ${v.type}`, null);
  return v.series;
}
function stringOf(v: Value): string {
  if (v.type !== "string") throw new PromqlError(`internal error: expected a string, got ${v.type}`, null);
  return v.value;
}

// --- selectors ---------------------------------------------------------------------------------

/** The selector's series: matching labels, points sorted by time, one per timestamp. Once per evaluation. */
function prepared(ctx: Context, index: number): Prepared[] {
  const known = ctx.prepared[index];
  if (known) return known;
  const selector = ctx.parsed.selectors[index];
  const tests = selector.matchers.map(matcherTest);
  const out: Prepared[] = [];
  for (const s of ctx.data[index]) {
    const labels = normaliseLabels(s.labels, selector.metric);
    if (selector.metric && labels.__name__ !== selector.metric) continue;
    if (!tests.every((test) => test(labels))) continue;
    let points = s.points as Point[];
    let sorted = true;
    for (let i = 1; i < points.length && sorted; i++) if (points[i].t <= points[i - 1].t) sorted = false;
    if (!sorted) {
      const byTime = new Map<number, Point>();
      for (const p of points) byTime.set(p.t, p);
      points = [...byTime.values()].sort((a, b) => a.t - b.t);
    }
    out.push({ labels, points });
  }
  ctx.prepared[index] = out;
  return out;
}

/** Prometheus has no empty label values: `{a=""}` is the absence of `a`. */
function normaliseLabels(labels: Labels, metric: string): Labels {
  const out: Labels = metric ? { __name__: metric } : {};
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

/** The time a selector or subquery with `@` and `offset` reads at, evaluated at `t`. */
function referenceTime(ctx: Context, at: number | "start" | "end" | null, offsetMs: number, t: number): number {
  const base = at === null ? t : at === "start" ? ctx.startMs : at === "end" ? ctx.endMs : Math.round(at * 1000);
  return base - offsetMs;
}

/** Index of the last point at or before `t`, or -1. */
function lastAtOrBefore(points: readonly Point[], t: number): number {
  let lo = 0;
  let hi = points.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (points[mid].t <= t) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

/**
 * engine.go vectorSelectorSingle: the newest point in (t - lookback, t]. A series whose newest
 * point is older, or is a staleness marker, is absent: a broker that stopped reporting must not
 * keep satisfying rules.
 */
function instantSelector(ctx: Context, index: number, t: number): Elem[] {
  const selector = ctx.parsed.selectors[index];
  const ref = referenceTime(ctx, selector.at, Math.round(selector.offsetSeconds * 1000), t);
  const series = prepared(ctx, index);
  charge(ctx, series.length);
  const out: Elem[] = [];
  for (const s of series) {
    const i = lastAtOrBefore(s.points, ref);
    if (i < 0) continue;
    const p = s.points[i];
    if (p.t <= ref - ctx.lookbackMs || p.stale) continue;
    out.push({ labels: s.labels, value: p.v, ts: p.t });
  }
  return out;
}

/** Points in (t - range, t] (engine.go matrixIterSlice, left-open since Prometheus 3), without staleness markers. */
function rangeSelector(ctx: Context, index: number, t: number): RangeSeries[] {
  const selector = ctx.parsed.selectors[index];
  const ref = referenceTime(ctx, selector.at, Math.round(selector.offsetSeconds * 1000), t);
  const from = ref - Math.round(selector.rangeSeconds! * 1000);
  const out: RangeSeries[] = [];
  for (const s of prepared(ctx, index)) {
    const end = lastAtOrBefore(s.points, ref);
    const start = lastAtOrBefore(s.points, from) + 1;
    if (end < start) continue;
    charge(ctx, end - start + 1);
    const points: Point[] = [];
    for (let i = start; i <= end; i++) if (!s.points[i].stale) points.push(s.points[i]);
    if (points.length > 0) out.push({ labels: s.labels, points });
  }
  return out;
}

/**
 * engine.go (*SubqueryExpr): the inner expression at every multiple of the step in
 * (t - offset - range, t - offset], as a range vector.
 */
function subquery(ctx: Context, e: Extract<Expr, { kind: "subquery" }>, t: number): RangeSeries[] {
  const ref = referenceTime(ctx, e.at, e.offsetMs, t);
  const step = e.stepMs ?? ctx.subqueryStepMs;
  const mint = ref - e.rangeMs;
  // Go's integer division truncates toward zero.
  let start = step * Math.trunc(mint / step);
  if (start <= mint) start += step;
  charge(ctx, Math.max(0, Math.floor((ref - start) / step) + 1));
  const bySeries = new Map<string, RangeSeries>();
  for (let ts = start; ts <= ref; ts += step) {
    for (const s of vectorOf(evalAt(ctx, e.expr, ts))) {
      const key = labelsKey(s.labels);
      let rs = bySeries.get(key);
      if (!rs) bySeries.set(key, (rs = { labels: s.labels, points: [] }));
      rs.points.push({ t: ts, v: s.value });
    }
  }
  return [...bySeries.values()];
}

// --- functions ---------------------------------------------------------------------------------

/** Functions over range vectors whose result keeps the metric name (engine.go, *parser.Call). */
const KEEPS_NAME = new Set(["last_over_time", "label_replace", "label_join", "sort", "sort_desc"]);

function call(ctx: Context, e: Extract<Expr, { kind: "call" }>, t: number): Value {
  const name = e.fn;
  switch (name) {
    case "time":
      return { type: "scalar", value: t / 1000 };
    case "pi":
      return { type: "scalar", value: Math.PI };
    case "start":
      return { type: "scalar", value: ctx.startMs / 1000 };
    case "end":
      return { type: "scalar", value: ctx.endMs / 1000 };
    case "step":
      return { type: "scalar", value: ctx.stepMs / 1000 };
    case "range":
      return { type: "scalar", value: (ctx.endMs - ctx.startMs) / 1000 };
    case "histogram_fraction": {
      const lower = scalarOf(evalAt(ctx, e.args[0], t));
      const upper = scalarOf(evalAt(ctx, e.args[1], t));
      const groups = classicHistograms(vectorOf(evalAt(ctx, e.args[2], t)));
      return {
        type: "vector",
        samples: unique(groups.map((g) => ({ labels: g.labels, value: bucketFraction(lower, upper, g.buckets) }))),
      };
    }
    case "vector":
      return { type: "vector", samples: [{ labels: {}, value: scalarOf(evalAt(ctx, e.args[0], t)) }] };
    case "scalar": {
      const v = vectorOf(evalAt(ctx, e.args[0], t));
      return { type: "scalar", value: v.length === 1 ? v[0].value : NaN };
    }
    case "absent": {
      const v = vectorOf(evalAt(ctx, e.args[0], t));
      if (v.length > 0) return { type: "vector", samples: [] };
      return { type: "vector", samples: [{ labels: absentLabels(ctx, e.args[0]), value: 1 }] };
    }
    case "absent_over_time": {
      const m = matrixOf(evalAt(ctx, e.args[0], t));
      if (m.length > 0) return { type: "vector", samples: [] };
      return { type: "vector", samples: [{ labels: absentLabels(ctx, e.args[0]), value: 1 }] };
    }
    case "timestamp": {
      const v = vectorOf(evalAt(ctx, e.args[0], t));
      const direct = e.args[0].kind === "selector";
      return {
        type: "vector",
        samples: unique(
          v.map((s) => ({ labels: dropName(s.labels), value: (direct && s.ts !== undefined ? s.ts : t) / 1000 })),
        ),
      };
    }
    case "sort":
    case "sort_desc": {
      const v = [...vectorOf(evalAt(ctx, e.args[0], t))];
      const sign = name === "sort" ? 1 : -1;
      // NaN last either way (functions.go funcSort/funcSortDesc).
      v.sort((a, b) =>
        Number.isNaN(a.value)
          ? Number.isNaN(b.value)
            ? 0
            : 1
          : Number.isNaN(b.value)
            ? -1
            : sign * (a.value - b.value),
      );
      return { type: "vector", samples: v };
    }
    case "label_replace":
      return { type: "vector", samples: labelReplace(ctx, e, t) };
    case "label_join":
      return { type: "vector", samples: labelJoin(ctx, e, t) };
    case "histogram_quantile":
      return {
        type: "vector",
        samples: histogramQuantile(scalarOf(evalAt(ctx, e.args[0], t)), vectorOf(evalAt(ctx, e.args[1], t))),
      };
    case "clamp":
    case "clamp_min":
    case "clamp_max":
    case "round":
      return { type: "vector", samples: clampOrRound(ctx, e, t) };
  }
  if (name in MATH_FUNCTIONS) {
    const f = MATH_FUNCTIONS[name];
    const v = vectorOf(evalAt(ctx, e.args[0], t));
    return { type: "vector", samples: unique(v.map((s) => ({ labels: dropName(s.labels), value: f(s.value) }))) };
  }
  if (name in DATE_FUNCTIONS) {
    const f = DATE_FUNCTIONS[name];
    const v: Elem[] = e.args.length === 0 ? [{ labels: {}, value: t / 1000 }] : vectorOf(evalAt(ctx, e.args[0], t));
    return {
      type: "vector",
      samples: unique(
        v.map((s) => ({
          labels: dropName(s.labels),
          value: Number.isFinite(s.value) ? f(new Date(Math.trunc(s.value) * 1000)) : NaN,
        })),
      ),
    };
  }
  // Functions over a range vector: one sample per series that has an answer.
  const matrixIndex = e.args.findIndex((a) => a.kind === "matrix" || a.kind === "subquery");
  if (matrixIndex < 0) throw new PromqlError(`internal error: no evaluation for function "${name}"`, null);
  const scalars = e.args.map((a, i) => (i === matrixIndex ? NaN : scalarOf(evalAt(ctx, a, t))));
  const m = matrixOf(evalAt(ctx, e.args[matrixIndex], t));
  const arg = e.args[matrixIndex];
  // The range boundaries of a range selector (rate's extrapolation); a subquery's own range.
  let rangeStart: number;
  let rangeEnd: number;
  if (arg.kind === "matrix") {
    const sel = ctx.parsed.selectors[arg.selector];
    rangeEnd = referenceTime(ctx, sel.at, Math.round(sel.offsetSeconds * 1000), t);
    rangeStart = rangeEnd - Math.round(sel.rangeSeconds! * 1000);
  } else {
    const sq = arg as Extract<Expr, { kind: "subquery" }>;
    rangeEnd = referenceTime(ctx, sq.at, sq.offsetMs, t);
    rangeStart = rangeEnd - sq.rangeMs;
  }
  const out: Elem[] = [];
  for (const s of m) {
    const value = rangeFunction(name, s.points, scalars, rangeStart, rangeEnd, t);
    if (value === null) continue;
    out.push({ labels: KEEPS_NAME.has(name) ? s.labels : dropName(s.labels), value });
  }
  return { type: "vector", samples: unique(out) };
}

const MATH_FUNCTIONS: Record<string, (v: number) => number> = {
  abs: Math.abs,
  ceil: Math.ceil,
  floor: Math.floor,
  exp: Math.exp,
  sqrt: Math.sqrt,
  ln: Math.log,
  log2: Math.log2,
  log10: Math.log10,
  sgn: (v) => (v < 0 ? -1 : v > 0 ? 1 : v),
  deg: (v) => (v * 180) / Math.PI,
  rad: (v) => (v * Math.PI) / 180,
  acos: Math.acos,
  acosh: Math.acosh,
  asin: Math.asin,
  asinh: Math.asinh,
  atan: Math.atan,
  atanh: Math.atanh,
  cos: Math.cos,
  cosh: Math.cosh,
  sin: Math.sin,
  sinh: Math.sinh,
  tan: Math.tan,
  tanh: Math.tanh,
};

/** functions.go date functions, on the value as Unix seconds, in UTC. */
const DATE_FUNCTIONS: Record<string, (d: Date) => number> = {
  day_of_month: (d) => d.getUTCDate(),
  day_of_week: (d) => d.getUTCDay(),
  day_of_year: (d) => {
    const startOfYear = Date.UTC(d.getUTCFullYear(), 0, 1);
    return Math.floor((d.getTime() - startOfYear) / 86400000) + 1;
  },
  days_in_month: (d) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate(),
  hour: (d) => d.getUTCHours(),
  minute: (d) => d.getUTCMinutes(),
  month: (d) => d.getUTCMonth() + 1,
  year: (d) => d.getUTCFullYear(),
};

function clampOrRound(ctx: Context, e: Extract<Expr, { kind: "call" }>, t: number): Elem[] {
  const v = vectorOf(evalAt(ctx, e.args[0], t));
  const p = e.args.slice(1).map((a) => scalarOf(evalAt(ctx, a, t)));
  let f: (x: number) => number;
  switch (e.fn) {
    case "clamp": {
      const [min, max] = p;
      // functions.go funcClamp: an empty result when max < min.
      if (max < min) return [];
      f = (x) => goMax(min, goMin(max, x));
      break;
    }
    case "clamp_min":
      f = (x) => goMax(p[0], x);
      break;
    case "clamp_max":
      f = (x) => goMin(p[0], x);
      break;
    default: {
      // functions.go funcRound: rounds half up, to the nearest multiple of to_nearest.
      const inverse = 1 / (p.length > 0 ? p[0] : 1);
      f = (x) => Math.floor(x * inverse + 0.5) / inverse;
    }
  }
  return unique(v.map((s) => ({ labels: dropName(s.labels), value: f(s.value) })));
}

function goMax(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return NaN;
  return Math.max(a, b);
}
function goMin(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return NaN;
  return Math.min(a, b);
}

/** createLabelsForAbsentFunction (functions.go): the equality matchers; a name matched twice or otherwise is dropped. */
function absentLabels(ctx: Context, arg: Expr): Labels {
  if (arg.kind !== "selector" && arg.kind !== "matrix") return {};
  const selector = ctx.parsed.selectors[arg.selector];
  const labels: Labels = {};
  const has = new Set<string>();
  for (const m of selector.matchers) {
    if (m.name === "__name__") continue;
    if (m.op === "=" && !has.has(m.name)) {
      labels[m.name] = m.value;
      has.add(m.name);
    } else delete labels[m.name];
  }
  for (const [k, v] of Object.entries(labels)) if (v === "") delete labels[k];
  return labels;
}

/** functions.go funcLabelReplace: RE2, anchored; `$1`/`${name}` expand; an empty result removes the label. */
function labelReplace(ctx: Context, e: Extract<Expr, { kind: "call" }>, t: number): Elem[] {
  const v = vectorOf(evalAt(ctx, e.args[0], t));
  const [dst, replacement, src, regex] = e.args.slice(1).map((a) => stringOf(evalAt(ctx, a, t)));
  const re = RE2JS.compile(`^(?s:${regex})$`);
  const out: Elem[] = [];
  for (const s of v) {
    const m = re.matcher(s.labels[src] ?? "");
    if (!m.matches()) {
      out.push(s);
      continue;
    }
    const value = expandTemplate(replacement, m, re);
    const labels = { ...s.labels };
    if (value === "") delete labels[dst];
    else labels[dst] = value;
    out.push({ labels, value: s.value });
  }
  return unique(out);
}

/** Go's regexp.Expand: `$1`, `${1}`, `$name`, `${name}`, `$$`; an unknown group is empty. */
function expandTemplate(template: string, m: ReturnType<RE2JS["matcher"]>, re: RE2JS): string {
  const named = re.namedGroups() as Record<string, number>;
  let out = "";
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    if (c !== "$" || i === template.length - 1) {
      out += c;
      continue;
    }
    if (template[i + 1] === "$") {
      out += "$";
      i++;
      continue;
    }
    let name: string;
    let end: number;
    if (template[i + 1] === "{") {
      const close = template.indexOf("}", i + 2);
      const inner = close < 0 ? "" : template.slice(i + 2, close);
      if (close < 0 || !/^[A-Za-z0-9_]+$/.test(inner)) {
        out += c;
        continue;
      }
      name = inner;
      end = close;
    } else {
      const word = /^[A-Za-z0-9_]+/.exec(template.slice(i + 1));
      if (!word) {
        out += c;
        continue;
      }
      name = word[0];
      end = i + word[0].length;
    }
    i = end;
    let group: number | undefined;
    if (/^\d+$/.test(name)) group = Number(name);
    else group = named[name];
    if (group !== undefined && group <= m.groupCount()) out += m.group(group) ?? "";
  }
  return out;
}

/** functions.go funcLabelJoin: the values of the source labels joined with the separator. */
function labelJoin(ctx: Context, e: Extract<Expr, { kind: "call" }>, t: number): Elem[] {
  const v = vectorOf(evalAt(ctx, e.args[0], t));
  const [dst, sep, ...srcs] = e.args.slice(1).map((a) => stringOf(evalAt(ctx, a, t)));
  return unique(
    v.map((s) => {
      const value = srcs.map((l) => s.labels[l] ?? "").join(sep);
      const labels = { ...s.labels };
      if (value === "") delete labels[dst];
      else labels[dst] = value;
      return { labels, value: s.value };
    }),
  );
}

function rangeFunction(
  fn: string,
  points: Point[],
  scalars: number[],
  rangeStartMs: number,
  rangeEndMs: number,
  t: number,
): number | null {
  if (points.length === 0) return null;
  const rangeSeconds = (rangeEndMs - rangeStartMs) / 1000;
  switch (fn) {
    case "rate":
      return extrapolatedRate(points, rangeStartMs, rangeEndMs, rangeSeconds, true, true);
    case "increase":
      return extrapolatedRate(points, rangeStartMs, rangeEndMs, rangeSeconds, true, false);
    case "delta":
      return extrapolatedRate(points, rangeStartMs, rangeEndMs, rangeSeconds, false, false);
    case "irate":
    case "idelta": {
      // functions.go instantValue
      if (points.length < 2) return null;
      const last = points[points.length - 1];
      const prev = points[points.length - 2];
      let value = last.v - prev.v;
      if (fn === "irate" && last.v < prev.v) value = last.v;
      const interval = last.t - prev.t;
      if (interval === 0) return null;
      return fn === "irate" ? value / (interval / 1000) : value;
    }
    case "deriv":
      // functions.go funcDeriv: the intercept time is the first point's, to keep the sums small
      return points.length < 2 ? null : linearRegression(points, points[0].t).slope;
    case "predict_linear": {
      if (points.length < 2) return null;
      const { slope, intercept } = linearRegression(points, t);
      return slope * scalars[1] + intercept;
    }
    case "changes":
    case "resets": {
      let n = 0;
      for (let i = 1; i < points.length; i++) {
        const prev = points[i - 1].v;
        const cur = points[i].v;
        if (fn === "changes" ? !(cur === prev || (Number.isNaN(cur) && Number.isNaN(prev))) : cur < prev) n++;
      }
      return n;
    }
    case "max_over_time":
      return compareOverTime(points, (cur, best) => cur > best);
    case "min_over_time":
      return compareOverTime(points, (cur, best) => cur < best);
    case "avg_over_time":
      return avgOverTime(points);
    case "sum_over_time": {
      let sum = 0;
      let c = 0;
      for (const p of points) [sum, c] = kahanSumInc(p.v, sum, c);
      return isInf(sum) ? sum : sum + c;
    }
    case "count_over_time":
      return points.length;
    case "last_over_time":
      return points[points.length - 1].v;
    case "present_over_time":
      return 1;
    case "stddev_over_time":
    case "stdvar_over_time": {
      // functions.go funcStddevOverTime / funcStdvarOverTime
      let count = 0;
      let mean = 0;
      let cMean = 0;
      let aux = 0;
      let cAux = 0;
      for (const p of points) {
        count++;
        const delta = p.v - (mean + cMean);
        [mean, cMean] = kahanSumInc(delta / count, mean, cMean);
        [aux, cAux] = kahanSumInc(delta * (p.v - (mean + cMean)), aux, cAux);
      }
      const variance = (aux + cAux) / count;
      return fn === "stddev_over_time" ? Math.sqrt(variance) : variance;
    }
    case "quantile_over_time":
      return quantile(
        scalars[0],
        points.map((p) => p.v),
      );
    default:
      throw new PromqlError(`internal error: no evaluation for function "${fn}"`, null);
  }
}

/**
 * functions.go linearRegression: least squares with Kahan-compensated sums, x in seconds from
 * `interceptTimeMs`. A constant series has slope 0 and its value as intercept (no 0/0).
 */
export function linearRegression(
  points: readonly Point[],
  interceptTimeMs: number,
): { slope: number; intercept: number } {
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

/** quantile.go quantile: linear interpolation between the closest ranks; NaN sorts first. */
function quantile(q: number, values: number[]): number {
  if (values.length === 0 || Number.isNaN(q)) return NaN;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  const sorted = [...values].sort((a, b) =>
    Number.isNaN(a) ? (Number.isNaN(b) ? 0 : -1) : Number.isNaN(b) ? 1 : a - b,
  );
  const n = sorted.length;
  const rank = q * (n - 1);
  const lower = Math.max(0, Math.floor(rank));
  const upper = Math.min(n - 1, lower + 1);
  const weight = rank - Math.floor(rank);
  return sorted[lower] * (1 - weight) + sorted[upper] * weight;
}

/**
 * functions.go funcHistogramQuantile over classic buckets (quantile.go BucketQuantile): the
 * series of one histogram differ only in `le`; the answer interpolates linearly in the bucket
 * the rank falls in.
 */
function histogramQuantile(q: number, v: Elem[]): Elem[] {
  return unique(classicHistograms(v).map((g) => ({ labels: g.labels, value: bucketQuantile(q, g.buckets) })));
}

/** The classic histograms in `v`: series grouped by their labels other than `le` and `__name__`. */
function classicHistograms(v: Elem[]): { labels: Labels; buckets: { upper: number; count: number }[] }[] {
  const groups = new Map<string, { labels: Labels; buckets: { upper: number; count: number }[] }>();
  for (const s of v) {
    const le = s.labels.le;
    const upper = le === undefined ? NaN : parseGoFloat(le);
    if (Number.isNaN(upper)) continue; // a missing or malformed `le`: Prometheus skips it with a warning
    const { le: _le, ...rest } = dropName(s.labels);
    const key = labelsKey(rest);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { labels: rest, buckets: [] }));
    g.buckets.push({ upper, count: s.value });
  }
  return [...groups.values()];
}

/** quantile.go BucketFraction: the share of observations between `lower` and `upper`, interpolating linearly within buckets. */
function bucketFraction(lower: number, upper: number, input: { upper: number; count: number }[]): number {
  const sorted = [...input].sort((a, b) => a.upper - b.upper);
  if (sorted.length === 0 || sorted[sorted.length - 1].upper !== Infinity) return NaN;
  const buckets = coalesce(sorted);
  const count = buckets[buckets.length - 1].count;
  if (count === 0 || Number.isNaN(lower) || Number.isNaN(upper)) return NaN;
  if (lower >= upper) return 0;
  let rank = 0;
  let lowerRank = 0;
  let upperRank = 0;
  let lowerSet = false;
  let upperSet = false;
  for (let i = 0; i < buckets.length; i++) {
    const b = buckets[i];
    // The first bucket starts at 0 when its upper bound is positive, else at -Inf.
    const lowerBound = i > 0 ? buckets[i - 1].upper : b.upper > 0 ? 0 : -Infinity;
    const upperBound = b.upper;
    // A bucket of infinite width contributes no observations: a value in the -Inf bucket counts
    // as its upper end, in the +Inf bucket as its lower end.
    const interpolate = (x: number) =>
      lowerBound === -Infinity
        ? b.count
        : upperBound === Infinity
          ? rank
          : rank + ((b.count - rank) * (x - lowerBound)) / (upperBound - lowerBound);
    if (!lowerSet && lowerBound >= lower) {
      lowerRank = rank;
      lowerSet = true;
    }
    if (!upperSet && lowerBound >= upper) {
      upperRank = rank;
      upperSet = true;
    }
    if (lowerSet && upperSet) break;
    if (!lowerSet && lowerBound < lower && upperBound > lower) {
      lowerRank = interpolate(lower);
      lowerSet = true;
    }
    if (!upperSet && lowerBound < upper && upperBound > upper) {
      upperRank = interpolate(upper);
      upperSet = true;
    }
    if (lowerSet && upperSet) break;
    rank = b.count;
  }
  if (!lowerSet || lowerRank > count) lowerRank = count;
  if (!upperSet || upperRank > count) upperRank = count;
  return (upperRank - lowerRank) / count;
}

/** quantile.go coalesceBuckets: buckets with the same upper bound are summed. */
function coalesce(sorted: { upper: number; count: number }[]): { upper: number; count: number }[] {
  const buckets: { upper: number; count: number }[] = [];
  for (const b of sorted) {
    const last = buckets[buckets.length - 1];
    if (last && last.upper === b.upper) last.count += b.count;
    else buckets.push({ ...b });
  }
  return buckets;
}

function parseGoFloat(s: string): number {
  const t = s.trim().toLowerCase().replace(/^\+/, "");
  if (t === "inf" || t === "+inf") return Infinity;
  if (t === "-inf") return -Infinity;
  if (t === "nan") return NaN;
  if (!/^-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/.test(t) && !/^-?0x[0-9a-f]+$/.test(t)) return NaN;
  return Number(t);
}

function bucketQuantile(q: number, input: { upper: number; count: number }[]): number {
  if (Number.isNaN(q)) return NaN;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  const sorted = [...input].sort((a, b) => a.upper - b.upper);
  if (sorted.length === 0 || sorted[sorted.length - 1].upper !== Infinity) return NaN;
  const buckets = coalesce(sorted);
  // ensureMonotonicAndIgnoreSmallDeltas (tolerance 1e-12)
  let prev = buckets[0].count;
  for (let i = 1; i < buckets.length; i++) {
    const curr = buckets[i].count;
    if (curr === prev) continue;
    if (almostEqual(prev, curr, 1e-12) || curr < prev) {
      buckets[i].count = prev;
      continue;
    }
    prev = curr;
  }
  if (buckets.length < 2) return NaN;
  const observations = buckets[buckets.length - 1].count;
  if (observations === 0) return NaN;
  let rank = q * observations;
  let b = 0;
  while (b < buckets.length - 1 && !(buckets[b].count >= rank)) b++;
  if (b === buckets.length - 1) return buckets[buckets.length - 2].upper;
  if (b === 0 && buckets[0].upper <= 0) return buckets[0].upper;
  let bucketStart = 0;
  const bucketEnd = buckets[b].upper;
  let count = buckets[b].count;
  if (b > 0) {
    bucketStart = buckets[b - 1].upper;
    count -= buckets[b - 1].count;
    rank -= buckets[b - 1].count;
  }
  return bucketStart + (bucketEnd - bucketStart) * (rank / count);
}

function almostEqual(a: number, b: number, epsilon: number): boolean {
  if (a === b) return true;
  const minNormal = 2.2250738585072014e-308;
  const absSum = Math.abs(a) + Math.abs(b);
  const diff = Math.abs(a - b);
  if (a === 0 || b === 0 || absSum < minNormal) return diff < epsilon * minNormal;
  return diff / Math.min(absSum, Number.MAX_VALUE) < epsilon;
}

// --- binary operators --------------------------------------------------------------------------

function binary(ctx: Context, e: Extract<Expr, { kind: "binary" }>, t: number): Value {
  const lhs = evalAt(ctx, e.lhs, t);
  const rhs = evalAt(ctx, e.rhs, t);
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
    ? { type: "vector", samples: unique(vectorScalarBinop(e.op, lhs.samples, scalarOf(rhs), false, e.returnBool)) }
    : { type: "vector", samples: unique(vectorScalarBinop(e.op, vectorOf(rhs), scalarOf(lhs), true, e.returnBool)) };
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
    case "atan2":
      return [Math.atan2(l, r), true];
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
  return op === "+" || op === "-" || op === "*" || op === "/" || op === "%" || op === "^" || op === "atan2";
}

function vectorScalarBinop(op: BinaryOp, vector: Elem[], scalar: number, swap: boolean, returnBool: boolean): Elem[] {
  const out: Elem[] = [];
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

/** engine.go signatureFunc: `on` keeps the listed labels, otherwise they and `__name__` are ignored. */
function matchedLabels(labels: Labels, m: VectorMatching): Labels {
  const out: Labels = {};
  for (const [k, v] of Object.entries(labels)) {
    const listed = m.labels.includes(k);
    if (m.on ? listed : !listed && k !== "__name__") out[k] = v;
  }
  return out;
}

function signature(labels: Labels, m: VectorMatching): string {
  return labelsKey(matchedLabels(labels, m));
}

/**
 * engine.go VectorBinop: one-to-one, many-to-one (group_left) and one-to-many (group_right), with
 * Prometheus' errors. As in Prometheus ≥ 3.9 a second match on the "one" side is an error even
 * when the comparison would have filtered the element out.
 */
function vectorBinop(op: BinaryOp, lhsIn: Elem[], rhsIn: Elem[], m: VectorMatching, returnBool: boolean): Elem[] {
  if (lhsIn.length === 0 || rhsIn.length === 0) return [];
  const swapped = m.card === "one-to-many";
  const [lhs, rhs] = swapped ? [rhsIn, lhsIn] : [lhsIn, rhsIn];
  const right = new Map<string, Elem>();
  for (const rs of rhs) {
    const sig = signature(rs.labels, m);
    const dup = right.get(sig);
    if (dup) {
      const side = swapped ? "left" : "right";
      throw new EvalError(
        `found duplicate series for the match group ${formatLabels(matchedLabels(rs.labels, m))} on the ${side} hand-side of the operation: ` +
          `[${formatLabels(rs.labels)}, ${formatLabels(dup.labels)}];many-to-many matching not allowed: matching labels must be unique on one side`,
      );
    }
    right.set(sig, rs);
  }
  const matched = new Map<string, Set<string>>();
  const out: Elem[] = [];
  for (const ls of lhs) {
    const sig = signature(ls.labels, m);
    const rs = right.get(sig);
    if (!rs) continue;
    const [vl, vr] = swapped ? [rs.value, ls.value] : [ls.value, rs.value];
    let [value, keep] = elemBinop(op, vl, vr);
    const labels = resultLabels(ls.labels, rs.labels, op, m, returnBool);
    const inserted = matched.get(sig);
    if (m.card === "one-to-one") {
      if (inserted) {
        throw new EvalError(
          "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
        );
      }
      matched.set(sig, new Set());
    } else {
      const key = labelsKey(labels);
      if (!inserted) matched.set(sig, new Set([key]));
      else if (inserted.has(key)) {
        throw new EvalError("multiple matches for labels: grouping labels must ensure unique matches");
      } else inserted.add(key);
    }
    if (returnBool) value = keep ? 1 : 0;
    else if (!keep) continue;
    out.push({ labels, value });
  }
  return out;
}

/** engine.go resultMetric. */
function resultLabels(lhs: Labels, rhs: Labels, op: BinaryOp, m: VectorMatching, returnBool: boolean): Labels {
  const out: Labels = {};
  for (const [k, v] of Object.entries(lhs)) {
    if (k === "__name__" && (isArithmetic(op) || returnBool)) continue;
    if (m.card === "one-to-one") {
      const listed = m.labels.includes(k);
      if (m.on ? !listed : listed) continue;
    }
    out[k] = v;
  }
  for (const name of m.include) {
    const v = rhs[name];
    if (v !== undefined && v !== "") out[name] = v;
    else delete out[name];
  }
  return out;
}

function setAnd(lhs: Elem[], rhs: Elem[], m: VectorMatching): Elem[] {
  const right = new Set(rhs.map((s) => signature(s.labels, m)));
  return lhs.filter((s) => right.has(signature(s.labels, m)));
}

function setOr(lhs: Elem[], rhs: Elem[], m: VectorMatching): Elem[] {
  const left = new Set(lhs.map((s) => signature(s.labels, m)));
  return [...lhs, ...rhs.filter((s) => !left.has(signature(s.labels, m)))];
}

function setUnless(lhs: Elem[], rhs: Elem[], m: VectorMatching): Elem[] {
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
  members: Elem[];
}

/** engine.go aggregation (float samples). */
function aggregate(ctx: Context, e: Extract<Expr, { kind: "aggregate" }>, t: number): Elem[] {
  const { op, without, grouping } = e;
  const param = e.param ? evalAt(ctx, e.param, t) : null;
  const samples = vectorOf(evalAt(ctx, e.arg, t));
  if (op === "topk" || op === "bottomk") {
    const k = scalarOf(param!);
    if (Number.isNaN(k)) throw new EvalError("Parameter value is NaN");
    return topBottom(op, Math.trunc(Math.min(k, Number.MAX_SAFE_INTEGER)), without, grouping, samples);
  }
  if (op === "count_values") return countValues(stringOf(param!), without, grouping, samples);
  const groups = new Map<string, Group>();
  for (const s of samples) {
    const labels = groupingLabels(s.labels, without, grouping);
    const key = labelsKey(labels);
    const f = s.value;
    const g = groups.get(key);
    if (!g) {
      groups.set(key, { labels, value: f, mean: f, kahanC: 0, count: 1, incrementalMean: false, members: [s] });
      // engine.go: the variance of a lone NaN or ±Inf is NaN, of a lone number 0
      if (op === "stddev" || op === "stdvar") groups.get(key)!.value = Number.isFinite(f) ? 0 : NaN;
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
      case "group":
        g.count++;
        break;
      case "stddev":
      case "stdvar": {
        g.count++;
        const delta = f - g.mean;
        g.mean += delta / g.count;
        g.value += delta * (f - g.mean);
        break;
      }
      case "quantile":
        g.members.push(s);
        break;
    }
  }
  const q = op === "quantile" ? scalarOf(param!) : NaN;
  return [...groups.values()].map((g) => ({ labels: g.labels, value: finishGroup(op, g, q) }));
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

function finishGroup(op: AggregateOp, g: Group, q: number): number {
  switch (op) {
    case "sum":
      return isInf(g.value) ? g.value : g.value + g.kahanC;
    case "avg":
      return g.incrementalMean ? g.mean + g.kahanC : (g.value + g.kahanC) / g.count;
    case "count":
      return g.count;
    case "group":
      return 1;
    case "stdvar":
      return g.value / g.count;
    case "stddev":
      return Math.sqrt(g.value / g.count);
    case "quantile":
      return quantile(
        q,
        g.members.map((s) => s.value),
      );
    default:
      return g.value;
  }
}

/** engine.go aggregationK: the k largest (topk) or smallest (bottomk) per group, NaN last, in that order. */
function topBottom(op: "topk" | "bottomk", k: number, without: boolean, grouping: string[], samples: Elem[]): Elem[] {
  if (k < 1) return [];
  const groups = new Map<string, Elem[]>();
  for (const s of samples) {
    const key = labelsKey(groupingLabels(s.labels, without, grouping));
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push(s);
  }
  const sign = op === "topk" ? -1 : 1;
  const out: Elem[] = [];
  for (const g of groups.values()) {
    const sorted = [...g].sort((a, b) =>
      Number.isNaN(a.value) ? (Number.isNaN(b.value) ? 0 : 1) : Number.isNaN(b.value) ? -1 : sign * (a.value - b.value),
    );
    for (const s of sorted.slice(0, k)) out.push({ labels: s.labels, value: s.value });
  }
  return out;
}

/** engine.go COUNT_VALUES: one series per distinct value, the value (as Go formats it) in `label`. */
function countValues(label: string, without: boolean, grouping: string[], samples: Elem[]): Elem[] {
  const groups = new Map<string, Elem>();
  for (const s of samples) {
    const labels = { ...s.labels, [label]: formatGoFloat(s.value) };
    const g = groupingLabels(labels, without, without ? grouping : [...grouping, label]);
    const key = labelsKey(g);
    const known = groups.get(key);
    if (known) known.value++;
    else groups.set(key, { labels: g, value: 1 });
  }
  return [...groups.values()];
}

/** strconv.FormatFloat(f, 'f', -1, 64). */
function formatGoFloat(f: number): string {
  if (Number.isNaN(f)) return "NaN";
  if (f === Infinity) return "+Inf";
  if (f === -Infinity) return "-Inf";
  const s = String(f);
  if (!/e/.test(s)) return s;
  const [mantissa, expText] = s.split("e");
  const exp = Number(expText);
  const negative = mantissa.startsWith("-");
  const digits = mantissa.replace("-", "").replace(".", "");
  const intLen = mantissa.replace("-", "").split(".")[0].length + exp;
  let out: string;
  if (intLen <= 0) out = `0.${"0".repeat(-intLen)}${digits}`;
  else if (intLen >= digits.length) out = digits + "0".repeat(intLen - digits.length);
  else out = `${digits.slice(0, intLen)}.${digits.slice(intLen)}`;
  return negative ? `-${out}` : out;
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
  if (!("__name__" in labels)) return labels;
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
function unique<T extends Elem>(samples: T[]): T[] {
  const seen = new Set<string>();
  for (const s of samples) {
    const key = labelsKey(s.labels);
    if (seen.has(key)) throw new EvalError("vector cannot contain metrics with the same labelset");
    seen.add(key);
  }
  return samples;
}
