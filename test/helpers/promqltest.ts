/**
 * A reader and runner for Prometheus's PromQL test scripts (promql/promqltest/testdata/*.test, the
 * `promqltest` format: `load <step>` blocks, `eval instant at …` / `eval range from … to … step …`
 * cases with expected series, `expect fail`, `clear`). The scripts themselves stay in
 * `../shared/conformance/promql/` and are read at run time; this file is our runner.
 *
 * A case is *eligible* unless it needs native histograms, a feature Prometheus keeps behind an
 * experimental flag, or syntax the official lezer grammar itself rejects (see `ineligibility`).
 */
import { parser } from "@prometheus-io/lezer-promql";
import { evaluate, parseExpr, PromqlError, type Labels, type Point, type Series } from "@/lib/alerts/promql";

export interface LoadedSeries extends Series {
  /** true when any of its values was a native histogram (`{{…}}`) */
  histogram: boolean;
}

export interface ExpectedSeries {
  labels: Labels;
  /** one value (instant) or one per step, `null` where the series has no value */
  values: (number | null)[];
}

export interface TestCase {
  file: string;
  line: number;
  kind: "instant" | "range";
  expr: string;
  /** ms */
  start: number;
  end: number;
  step: number;
  expectFail: boolean;
  ordered: boolean;
  /** expected scalar (instant) */
  scalar: number | null;
  expectedString: string | null;
  series: ExpectedSeries[];
  /** the storage as loaded when the case runs */
  storage: LoadedSeries[];
  /** `load_with_nhcb`: classic histograms are also converted to native ones */
  nhcb: boolean;
  ineligible: string | null;
}

const DURATION_UNITS: Record<string, number> = {
  y: 365 * 86400e3,
  w: 7 * 86400e3,
  d: 86400e3,
  h: 3600e3,
  m: 60e3,
  s: 1e3,
  ms: 1,
};

/** A Prometheus duration (`1h30m`, `10s53ms`) or plain seconds (`1.234`), in ms. */
export function parseDurationMs(text: string): number {
  if (/^[+-]?\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  let total = 0;
  const re = /(\d+)(ms|[ywdhms])/g;
  let consumed = 0;
  for (const m of text.matchAll(re)) {
    total += Number(m[1]) * DURATION_UNITS[m[2]];
    consumed += m[0].length;
  }
  if (consumed !== text.length || consumed === 0) throw new Error(`bad duration ${text}`);
  return total;
}

/** Splits `metric{a="b"} values…` into the series description and the rest. */
function splitSeriesLine(line: string): [string, string] {
  let i = 0;
  let inString = false;
  let depth = 0;
  for (; i < line.length; i++) {
    const c = line[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === "{") depth++;
    else if (c === "}") {
      depth--;
      if (depth === 0) {
        i++;
        break;
      }
    } else if (/\s/.test(c) && depth === 0) break;
  }
  return [line.slice(0, i).trim(), line.slice(i).trim()];
}

/** `metric{a="b", c="d"}` → labels (with `__name__`). */
export function parseSeriesDesc(desc: string): Labels {
  const labels: Labels = {};
  const brace = desc.indexOf("{");
  const name = brace === -1 ? desc : desc.slice(0, brace);
  if (name) labels.__name__ = name;
  if (brace === -1) return labels;
  const body = desc.slice(brace + 1, desc.lastIndexOf("}"));
  const re = /\s*("(?:[^"\\]|\\.)*"|[A-Za-z_][A-Za-z0-9_]*)\s*(?:=\s*("(?:[^"\\]|\\.)*"))?\s*,?/gy;
  let m: RegExpExecArray | null;
  while (re.lastIndex < body.length && (m = re.exec(body))) {
    if (m[0] === "") break;
    const key = m[1].startsWith('"') ? (JSON.parse(m[1]) as string) : m[1];
    if (m[2] === undefined) labels.__name__ = key;
    else labels[key] = JSON.parse(m[2]) as string;
  }
  return labels;
}

type SeqValue = number | "stale" | null | "histogram";

function parseNumberValue(s: string): number {
  const lower = s.toLowerCase().replace(/^\+/, "");
  if (lower === "inf") return Infinity;
  if (lower === "-inf") return -Infinity;
  if (lower === "nan" || lower === "-nan") return NaN;
  const n = Number(s);
  if (Number.isNaN(n)) throw new Error(`bad value ${s}`);
  return n;
}

/** The values notation: `1 2 _ stale 0+10x5 1-1x3 _x4 {{…}}`. */
export function parseValues(text: string): SeqValue[] {
  const out: SeqValue[] = [];
  // Histograms (`{{schema:0 sum:1}}+{{…}}x5`) contain spaces: split on whitespace outside braces.
  const tokens: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of text.trim() + " ") {
    if (ch === "{") depth++;
    else if (ch === "}") depth--;
    if (/\s/.test(ch) && depth === 0) {
      if (cur) tokens.push(cur);
      cur = "";
    } else cur += ch;
  }
  for (const tok of tokens) {
    if (tok.includes("{{")) {
      const rep = /x(\d+)$/.exec(tok.slice(tok.lastIndexOf("}}")));
      const n = rep ? Number(rep[1]) + 1 : 1;
      for (let i = 0; i < n; i++) out.push("histogram");
      continue;
    }
    if (tok === "_") {
      out.push(null);
      continue;
    }
    if (tok === "stale") {
      out.push("stale");
      continue;
    }
    let m = /^_x(\d+)$/.exec(tok);
    if (m) {
      for (let i = 0; i < Number(m[1]); i++) out.push(null);
      continue;
    }
    m = /^([+-]?[^+\-x]+?(?:e[+-]?\d+)?)([+-])([^x]+)x(\d+)$/i.exec(tok);
    if (m) {
      const start = parseNumberValue(m[1]);
      const inc = parseNumberValue(m[3]) * (m[2] === "-" ? -1 : 1);
      // promqltest: `a+bxn` is a then n increments (n+1 values)
      for (let i = 0; i <= Number(m[4]); i++) out.push(start + inc * i);
      continue;
    }
    m = /^([^x]+)x(\d+)$/.exec(tok);
    if (m) {
      const v = m[1] === "stale" ? "stale" : parseNumberValue(m[1]);
      for (let i = 0; i <= Number(m[2]); i++) out.push(v);
      continue;
    }
    out.push(parseNumberValue(tok));
  }
  return out;
}

/** Functions and modifiers Prometheus keeps behind `--enable-feature=promql-experimental-functions` and friends. */
const EXPERIMENTAL = [
  /\b(limitk|limit_ratio|mad_over_time|sort_by_label|sort_by_label_desc|double_exponential_smoothing|holt_winters|info|first_over_time|ts_of_first_over_time|ts_of_last_over_time|ts_of_max_over_time|ts_of_min_over_time|xrate|xincrease|xdelta|histogram_quantiles|start_timestamp)\s*\(/i,
  /\b(anchored|smoothed)\b/,
  /\b(fill|fill_left|fill_right)\s*\(/,
  /\[[^\]]*\b(min|max)\s*\(/,
];
const NATIVE_HISTOGRAM_FUNCTIONS = /\bhistogram_(count|sum|avg|stddev|stdvar)\s*\(/;

function lezerRejects(expr: string): boolean {
  const cursor = parser.parse(expr).cursor();
  do if (cursor.type.isError) return true;
  while (cursor.next());
  return false;
}

/** Duration arithmetic in ranges/offsets (`[5m+1m]`, `offset -(1m)`) is the experimental duration-expression feature. */
function usesDurationExpressions(expr: string): boolean {
  const cursor = parser.parse(expr).cursor();
  do {
    if (cursor.name === "DurationExpr" || cursor.name === "OffsetDurationExpr") {
      const node = cursor.node;
      const kids: string[] = [];
      for (let c = node.firstChild; c; c = c.nextSibling) kids.push(c.name);
      if (cursor.name === "OffsetDurationExpr" && kids.length === 2 && kids[0] === "UnaryOp") {
        const inner = node.lastChild!;
        const innerKids: string[] = [];
        for (let c = inner.firstChild; c; c = c.nextSibling) innerKids.push(c.name);
        if (innerKids.length === 1 && innerKids[0] === "NumberDurationLiteralInDurationContext") continue;
      }
      if (!(kids.length === 1 && kids[0] === "NumberDurationLiteralInDurationContext")) return true;
    }
  } while (cursor.next());
  return false;
}

function ineligibility(c: Omit<TestCase, "ineligible">, rawExpected: string): string | null {
  if (lezerRejects(c.expr)) return "lezer grammar rejects the syntax";
  if (EXPERIMENTAL.some((re) => re.test(c.expr)) || usesDurationExpressions(c.expr)) return "experimental feature";
  if (rawExpected.includes("{{")) return "native histogram result";
  if (NATIVE_HISTOGRAM_FUNCTIONS.test(c.expr)) return "native histogram function";
  const histogramNames = new Set(c.storage.filter((s) => s.histogram).map((s) => s.labels.__name__));
  // load_with_nhcb also stores `foo_bucket{le=…}` as the native histogram `foo`.
  if (c.nhcb) {
    for (const s of c.storage) {
      const name = s.labels.__name__ ?? "";
      if (name.endsWith("_bucket")) histogramNames.add(name.slice(0, -"_bucket".length));
    }
  }
  if (histogramNames.size > 0) {
    const names = c.expr.match(/[A-Za-z_:][A-Za-z0-9_:]*/g) ?? [];
    if (names.some((n) => histogramNames.has(n)) || /(^|[^A-Za-z0-9_:"])\{/.test(c.expr)) {
      return "native histogram data";
    }
  }
  return null;
}

/** Reads one `.test` file into its cases, each with the storage as loaded when it runs. */
export function readTestFile(file: string, text: string): TestCase[] {
  const lines = text.split("\n");
  const cases: TestCase[] = [];
  let storage: LoadedSeries[] = [];
  let nhcb = false;
  let i = 0;
  const isIndented = (l: string) => /^\s+\S/.test(l) && !/^\s*#/.test(l);
  while (i < lines.length) {
    const line = lines[i];
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) {
      i++;
      continue;
    }
    if (trimmed === "clear") {
      storage = [];
      nhcb = false;
      i++;
      continue;
    }
    let m = /^(load|load_with_nhcb)\s+(\S+)/.exec(trimmed);
    if (m) {
      const step = parseDurationMs(m[2]);
      if (m[1] === "load_with_nhcb") nhcb = true;
      i++;
      for (; i < lines.length && isIndented(lines[i]); i++) {
        const [desc, values] = splitSeriesLine(lines[i].trim());
        const labels = parseSeriesDesc(desc);
        const points: Point[] = [];
        let histogram = false;
        parseValues(values).forEach((v, k) => {
          if (v === null) return;
          if (v === "histogram") {
            histogram = true;
            return;
          }
          points.push(v === "stale" ? { t: k * step, v: NaN, stale: true } : { t: k * step, v });
        });
        storage = [...storage, { labels, points, histogram }];
      }
      continue;
    }
    m = /^(eval|eval_fail|eval_ordered|eval_warn|eval_info)\s+(instant|range)\s+(.*)$/.exec(trimmed);
    if (!m) {
      i++;
      continue;
    }
    const lineNo = i + 1;
    const [, verb, kind, rest] = m;
    let expr: string;
    let start: number;
    let end: number;
    let step: number;
    if (kind === "instant") {
      const im = /^at\s+(\S+)\s+(.*)$/.exec(rest)!;
      start = end = parseDurationMs(im[1]);
      step = 0;
      expr = im[2];
    } else {
      const rm = /^from\s+(\S+)\s+to\s+(\S+)\s+step\s+(\S+)\s+(.*)$/.exec(rest)!;
      start = parseDurationMs(rm[1]);
      end = parseDurationMs(rm[2]);
      step = parseDurationMs(rm[3]);
      expr = rm[4];
    }
    let expectFail = verb === "eval_fail";
    let ordered = verb === "eval_ordered";
    let scalar: number | null = null;
    let expectedString: string | null = null;
    const series: ExpectedSeries[] = [];
    let raw = "";
    i++;
    for (; i < lines.length && isIndented(lines[i]); i++) {
      const l = lines[i].trim();
      raw += l + "\n";
      if (l.startsWith("expect ")) {
        if (/^expect fail\b/.test(l)) expectFail = true;
        else if (/^expect ordered\b/.test(l)) ordered = true;
        else if (/^expect string\b/.test(l)) expectedString = l.slice("expect string".length).trim().slice(1, -1);
        continue;
      }
      if (/^[-+]?(\d|\.\d|inf|nan)/i.test(l) && !l.includes("{")) {
        scalar = parseNumberValue(l.split(/\s+/)[0]);
        continue;
      }
      const [desc, values] = splitSeriesLine(l);
      const parsed = parseValues(values).map((v) => (typeof v === "number" ? v : v === "stale" ? NaN : null));
      series.push({ labels: parseSeriesDesc(desc), values: parsed });
    }
    const c = {
      file,
      line: lineNo,
      kind: kind as "instant" | "range",
      expr,
      start,
      end,
      step,
      expectFail,
      ordered,
      scalar,
      expectedString,
      series,
      storage,
      nhcb,
    };
    cases.push({ ...c, ineligible: ineligibility(c, raw) });
  }
  return cases;
}

function almostEqual(a: number, b: number): boolean {
  if (Number.isNaN(a) && Number.isNaN(b)) return true;
  if (a === b) return true;
  // util/almost.Equal with promqltest's defaultEpsilon
  const minNormal = 2.2250738585072014e-308;
  const absSum = Math.abs(a) + Math.abs(b);
  const diff = Math.abs(a - b);
  if (a === 0 || b === 0 || absSum < minNormal) return diff < 1e-6 * minNormal;
  return diff / Math.min(absSum, Number.MAX_VALUE) < 1e-6;
}

function labelsKey(labels: Labels): string {
  return JSON.stringify(
    Object.entries(labels)
      .filter(([, v]) => v !== "")
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
}

export type Outcome = { pass: true } | { pass: false; why: string };

/** Runs one case through parseExpr + evaluate and compares with Prometheus's expected answer. */
export function runCase(c: TestCase): Outcome {
  let parsed;
  try {
    parsed = parseExpr(c.expr);
  } catch (e) {
    if (!(e instanceof PromqlError)) throw e;
    return c.expectFail ? { pass: true } : { pass: false, why: `refused: ${e.message}` };
  }
  const data = parsed.selectors.map(() => c.storage);
  const steps: number[] = [];
  if (c.kind === "instant") steps.push(c.start);
  else for (let t = c.start; t <= c.end; t += c.step) steps.push(t);
  const got = new Map<string, { labels: Labels; values: (number | null)[] }>();
  const order: string[] = [];
  let gotScalar: number | null = null;
  for (let k = 0; k < steps.length; k++) {
    const r = evaluate(
      parsed,
      data,
      steps[k],
      c.kind === "range" ? { range: { startMs: c.start, endMs: c.end, stepMs: c.step } } : {},
    );
    if (r.kind === "error") return c.expectFail ? { pass: true } : { pass: false, why: `error: ${r.message}` };
    const samples = r.kind === "scalar" ? (c.kind === "range" ? [{ labels: {}, value: r.value }] : []) : r.samples;
    if (r.kind === "scalar" && c.kind === "instant") gotScalar = r.value;
    for (const s of samples) {
      const key = labelsKey(s.labels);
      let entry = got.get(key);
      if (!entry) {
        got.set(key, (entry = { labels: s.labels, values: steps.map(() => null) }));
        order.push(key);
      }
      entry.values[k] = s.value;
    }
  }
  if (c.expectFail) return { pass: false, why: "expected an error, got a result" };
  if (c.expectedString !== null) return { pass: false, why: "string result not supported" };
  if (c.kind === "instant" && c.scalar !== null) {
    if (gotScalar === null) return { pass: false, why: `expected scalar ${c.scalar}, got a vector` };
    return almostEqual(gotScalar, c.scalar)
      ? { pass: true }
      : { pass: false, why: `scalar ${gotScalar} ≠ ${c.scalar}` };
  }
  if (c.kind === "instant" && gotScalar !== null && c.series.length > 0) {
    return { pass: false, why: "got a scalar, expected a vector" };
  }
  const expected = new Map(c.series.map((s) => [labelsKey(s.labels), s]));
  if (expected.size !== got.size) {
    return { pass: false, why: `expected ${expected.size} series, got ${got.size}: ${[...got.keys()].join(" ")}` };
  }
  for (const [key, exp] of expected) {
    const g = got.get(key);
    if (!g) return { pass: false, why: `missing series ${key}; got ${[...got.keys()].join(" ")}` };
    const expValues = c.kind === "instant" ? exp.values.slice(0, 1) : exp.values;
    if (c.kind === "range" && expValues.length !== steps.length) {
      // trailing missing values may be omitted
      while (expValues.length < steps.length) expValues.push(null);
    }
    for (let k = 0; k < expValues.length; k++) {
      const e = expValues[k];
      const v = g.values[k];
      if (e === null ? v !== null : v === null || !almostEqual(v, e)) {
        return { pass: false, why: `${key} at step ${k}: got ${v}, expected ${e}` };
      }
    }
  }
  if (c.ordered) {
    const expOrder = c.series.map((s) => labelsKey(s.labels));
    if (expOrder.join("|") !== order.join("|")) return { pass: false, why: "order differs" };
  }
  return { pass: true };
}
