/**
 * A PromQL subset for alert rules: parse (with the official lezer grammar), validate, evaluate.
 *
 * Pure: the caller fetches the raw series each selector needs (see `ParsedExpr.selectors` and
 * `selectorWindow`) and passes them to `evaluate` together with the evaluation time. Semantics
 * follow Prometheus 3 (promql/engine.go, promql/functions.go, promql/parser/parser.go); the
 * relevant function is cited where behaviour is not obvious.
 */
import { parser } from "@prometheus-io/lezer-promql";
import type { SyntaxNode } from "@lezer/common";

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

export type Labels = Record<string, string>;
export type MatchOp = "=" | "!=" | "=~" | "!~";
/** A label matcher other than the metric name, which is `Selector.metric`. */
export interface Matcher {
  name: string;
  op: MatchOp;
  value: string;
}
/** What one selector of the expression needs from storage. */
export interface Selector {
  metric: string;
  matchers: Matcher[];
  /** `null` for an instant selector, else the range of `metric[5m]` in seconds. */
  rangeSeconds: number | null;
}
export interface Point {
  /** Unix time in milliseconds. */
  t: number;
  v: number;
}
export interface Series {
  /** Includes `__name__`; when missing, the selector's metric name is assumed. */
  labels: Labels;
  points: readonly Point[];
}
/**
 * Raw series per selector, in the order of `ParsedExpr.selectors`:
 * `await Promise.all(parsed.selectors.map(fetchSeries))` is the intended shape.
 * Series not matching the selector and points outside its window are ignored, so a superset is fine.
 */
export type SelectorData = ReadonlyArray<readonly Series[]>;
export interface Sample {
  labels: Labels;
  value: number;
}
export type EvalResult =
  | { kind: "vector"; samples: Sample[] }
  | { kind: "scalar"; value: number }
  /** An evaluation error that depends on the data (e.g. many-to-many matching), as Prometheus reports it. */
  | { kind: "error"; message: string };

export type ValueType = "scalar" | "vector";
export type ArithmeticOp = "+" | "-" | "*" | "/" | "%" | "^";
export type ComparisonOp = "==" | "!=" | ">" | "<" | ">=" | "<=";
export type SetOp = "and" | "or" | "unless";
export type BinaryOp = ArithmeticOp | ComparisonOp | SetOp;
export type AggregateOp = "sum" | "min" | "max" | "avg" | "count";
export type RangeFunction = "rate" | "increase" | "delta" | "max_over_time" | "min_over_time" | "avg_over_time";

/** The validated syntax tree `evaluate` walks. `selector` fields index `ParsedExpr.selectors`. */
export type Expr =
  | { kind: "number"; value: number }
  | { kind: "selector"; selector: number }
  | { kind: "range"; fn: RangeFunction; selector: number }
  | { kind: "absent"; arg: Expr; labels: Labels }
  | { kind: "unary"; op: "+" | "-"; arg: Expr; type: ValueType }
  | {
      kind: "binary";
      op: BinaryOp;
      returnBool: boolean;
      /** `null` unless both sides are vectors; `on: false, labels: []` is the default matching. */
      matching: { on: boolean; labels: string[] } | null;
      lhs: Expr;
      rhs: Expr;
      type: ValueType;
    }
  | { kind: "aggregate"; op: AggregateOp; without: boolean; grouping: string[]; arg: Expr };

export interface ParsedExpr {
  readonly source: string;
  readonly type: ValueType;
  readonly selectors: readonly Selector[];
  readonly root: Expr;
}

/** Refusal or syntax error (with the 0-based offset in the expression), or a caller mistake in `evaluate`. */
export class PromqlError extends Error {
  readonly position: number | null;
  /** The message without the position suffix. */
  readonly reason: string;
  constructor(reason: string, position: number | null) {
    super(position === null ? reason : `${reason} at position ${position}`);
    this.name = "PromqlError";
    this.reason = reason;
    this.position = position;
  }
}

/** Prometheus' default `--query.lookback-delta`. */
export const DEFAULT_LOOKBACK_MS = 5 * 60 * 1000;

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

const RANGE_FUNCTIONS: readonly RangeFunction[] = [
  "rate",
  "increase",
  "delta",
  "max_over_time",
  "min_over_time",
  "avg_over_time",
];
const RANGE_FUNCTION_LIST = "rate, increase, delta, max_over_time, min_over_time or avg_over_time";
const AGGREGATE_OPS: readonly AggregateOp[] = ["sum", "min", "max", "avg", "count"];

const BINARY_OPS: Record<string, BinaryOp> = {
  Pow: "^",
  Mul: "*",
  Div: "/",
  Mod: "%",
  Add: "+",
  Sub: "-",
  Eql: "==",
  Neq: "!=",
  Gtr: ">",
  Lss: "<",
  Gte: ">=",
  Lte: "<=",
  And: "and",
  Or: "or",
  Unless: "unless",
};
const UNSUPPORTED_BINARY_OPS = new Set(["Atan2", "TrimUpper", "TrimLower"]);
const COMPARISON_OPS = new Set<BinaryOp>(["==", "!=", ">", "<", ">=", "<="]);
const SET_OPS = new Set<BinaryOp>(["and", "or", "unless"]);
const MATCH_OPS: Record<string, MatchOp> = { EqlSingle: "=", Neq: "!=", EqlRegex: "=~", NeqRegex: "!~" };

const DURATION_RE = /^(?:\d+(?:ms|[ywdhms]))+$/;
const DURATION_UNIT_SECONDS: Record<string, number> = {
  y: 365 * 86400,
  w: 7 * 86400,
  d: 86400,
  h: 3600,
  m: 60,
  s: 1,
  ms: 0.001,
};

export function parseExpr(expr: string): ParsedExpr {
  const tree = parser.parse(expr);
  rejectSyntaxErrors(expr, tree.topNode);
  const builder = new Builder(expr);
  const root = builder.build(tree.topNode);
  return { source: expr, type: typeOf(root), selectors: builder.selectors, root };
}

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

function typeOf(e: Expr): ValueType {
  switch (e.kind) {
    case "number":
      return "scalar";
    case "unary":
    case "binary":
      return e.type;
    default:
      return "vector";
  }
}

function children(node: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  for (let c = node.firstChild; c; c = c.nextSibling) if (c.name !== "LineComment") out.push(c);
  return out;
}

function child(node: SyntaxNode, name: string): SyntaxNode | null {
  return children(node).find((c) => c.name === name) ?? null;
}

/**
 * Lezer recovers from errors by inserting `⚠` nodes, and its string token accepts a missing closing
 * quote; report whichever problem comes first.
 */
function rejectSyntaxErrors(src: string, top: SyntaxNode): void {
  const problems: PromqlError[] = [];
  const cursor = top.cursor();
  do {
    const { from, to } = cursor;
    if (cursor.type.isError) problems.push(syntaxError(src, from));
    else if (cursor.name === "StringLiteral" && !isTerminated(src.slice(from, to))) {
      problems.push(new PromqlError("unterminated quoted string", from));
    }
  } while (cursor.next());
  if (problems.length > 0) throw problems.reduce((a, b) => (b.position! < a.position! ? b : a));
}

function isTerminated(literal: string): boolean {
  if (literal.length < 2 || literal[literal.length - 1] !== literal[0]) return false;
  // An escaped closing quote (`"abc\"`) does not terminate a Go-style quoted string.
  if (literal[0] === "`") return true;
  let backslashes = 0;
  for (let i = literal.length - 2; i > 0 && literal[i] === "\\"; i--) backslashes++;
  return backslashes % 2 === 0;
}

function syntaxError(src: string, pos: number): PromqlError {
  // The grammar only knows the PromQL function names, so `foo(x)` surfaces as a stray "(" after
  // a selector; name the function as Prometheus does ("unknown function with name ...").
  if (/^\s*\(/.test(src.slice(pos))) {
    const m = /(^|[^A-Za-z0-9_:])([A-Za-z_:][A-Za-z0-9_:]*)\s*$/.exec(src.slice(0, pos));
    if (m) return new PromqlError(`unknown function "${m[2]}"`, m.index + m[1].length);
  }
  const token = /^\s*(\S{1,20})/.exec(src.slice(pos));
  return token
    ? new PromqlError(`syntax error: unexpected ${JSON.stringify(token[1])}`, pos + token[0].indexOf(token[1]))
    : new PromqlError("syntax error: unexpected end of input", src.length);
}

class Builder {
  readonly selectors: Selector[] = [];
  private readonly selectorKeys = new Map<string, number>();

  constructor(private readonly src: string) {}

  private text(node: SyntaxNode): string {
    return this.src.slice(node.from, node.to);
  }

  build(node: SyntaxNode): Expr {
    switch (node.name) {
      case "PromQL":
      case "ParenExpr":
        return this.build(children(node)[0]);
      case "NumberDurationLiteral":
        return { kind: "number", value: parseNumber(this.text(node)) };
      case "VectorSelector":
        return { kind: "selector", selector: this.selector(node, null) };
      case "UnaryExpr":
        return this.unary(node);
      case "BinaryExpr":
        return this.binary(node);
      case "FunctionCall":
        return this.call(node);
      case "AggregateExpr":
        return this.aggregate(node);
      case "StringLiteral":
        throw new PromqlError("string literals are not supported", node.from);
      case "MatrixSelector":
        throw new PromqlError(
          `range selectors are only supported as the argument of ${RANGE_FUNCTION_LIST}`,
          node.from,
        );
      case "SubqueryExpr":
        throw new PromqlError("subqueries are not supported", this.src.indexOf("[", children(node)[0].to));
      case "OffsetExpr":
        throw new PromqlError("the offset modifier is not supported", child(node, "Offset")!.from);
      case "StepInvariantExpr":
        throw new PromqlError("the @ modifier is not supported", child(node, "At")!.from);
      case "AnchoredExpr":
      case "SmoothedExpr": {
        const modifier = children(node)[1];
        throw new PromqlError(`the ${this.text(modifier)} modifier is not supported`, modifier.from);
      }
      default:
        throw new PromqlError(`unsupported expression ${JSON.stringify(this.text(node))}`, node.from);
    }
  }

  private unary(node: SyntaxNode): Expr {
    const [opNode, argNode] = children(node);
    const op = this.text(opNode) === "-" ? "-" : "+";
    const arg = this.build(argNode);
    // parser.y folds a signed number literal into the literal (unary_expr rule).
    if (arg.kind === "number") return { kind: "number", value: op === "-" ? -arg.value : arg.value };
    return { kind: "unary", op, arg, type: typeOf(arg) };
  }

  private binary(node: SyntaxNode): Expr {
    const kids = children(node);
    const [lhsNode, opNode] = kids;
    const rhsNode = kids[kids.length - 1];
    const op = BINARY_OPS[opNode.name];
    // Problems are reported in the order they appear in the text.
    const lhs = this.signedPowerBase(lhsNode, op);
    if (UNSUPPORTED_BINARY_OPS.has(opNode.name)) {
      throw new PromqlError(`unsupported operator ${JSON.stringify(this.text(opNode))}`, opNode.from);
    }
    const boolNode = kids.find((k) => k.name === "BoolModifier") ?? null;
    const matchingNode = kids.find((k) => k.name === "MatchingModifierClause") ?? null;
    let matching: { on: boolean; labels: string[] } | null = null;
    if (matchingNode) {
      const group = children(matchingNode).find((k) => k.name === "GroupLeft" || k.name === "GroupRight");
      if (group) {
        throw new PromqlError(`${this.text(group)} is not supported (only one-to-one vector matching)`, group.from);
      }
      matching = {
        on: child(matchingNode, "On") !== null,
        labels: this.groupingLabels(child(matchingNode, "GroupingLabels")!),
      };
    }
    const fillNode = kids.find((k) => k.name === "FillModifier");
    if (fillNode) throw new PromqlError("fill modifiers are not supported", fillNode.from);
    const rhs = this.build(rhsNode);

    const lt = typeOf(lhs.expr);
    const rt = typeOf(rhs);
    const returnBool = boolNode !== null;
    // The checks of parser.go checkAST for *BinaryExpr, in its order.
    if (returnBool && !COMPARISON_OPS.has(op)) {
      throw new PromqlError("bool modifier can only be used on comparison operators", boolNode!.from);
    }
    if (COMPARISON_OPS.has(op) && !returnBool && lt === "scalar" && rt === "scalar") {
      throw new PromqlError("comparisons between scalars must use BOOL modifier", opNode.from);
    }
    if (lt === "scalar" || rt === "scalar") {
      if (matching && matching.labels.length > 0) {
        throw new PromqlError("vector matching only allowed between instant vectors", node.from);
      }
      if (SET_OPS.has(op)) {
        throw new PromqlError(`set operator "${op}" not allowed in binary scalar expression`, node.from);
      }
      matching = null;
    } else {
      matching ??= { on: false, labels: [] };
    }
    const type: ValueType = lt === "scalar" && rt === "scalar" ? "scalar" : "vector";
    const binary: Expr = { kind: "binary", op, returnBool, matching, lhs: lhs.expr, rhs, type };
    return lhs.negate ? { kind: "unary", op: "-", arg: binary, type } : binary;
  }

  /**
   * In parser.y a sign has MUL precedence, so `-2 ^ 2` is `-(2 ^ 2)`; the lezer grammar lexes
   * `-2` as one literal instead. Undo that for the base of `^`.
   */
  private signedPowerBase(node: SyntaxNode, op: BinaryOp): { expr: Expr; negate: boolean } {
    const text = this.text(node);
    if (op !== "^" || node.name !== "NumberDurationLiteral" || !/^[+-]/.test(text)) {
      return { expr: this.build(node), negate: false };
    }
    const magnitude = parseNumber(text.slice(1));
    return { expr: { kind: "number", value: magnitude }, negate: text[0] === "-" };
  }

  private call(node: SyntaxNode): Expr {
    const fnNode = children(child(node, "FunctionIdentifier")!)[0];
    const name = this.text(fnNode);
    const args = children(child(node, "FunctionCallBody")!);
    const isRange = (RANGE_FUNCTIONS as readonly string[]).includes(name);
    if (!isRange && name !== "absent") throw new PromqlError(`unsupported function "${name}"`, fnNode.from);
    if (args.length !== 1) {
      throw new PromqlError(`expected 1 argument(s) in call to "${name}", got ${args.length}`, node.from);
    }
    const [argNode] = args;
    if (isRange) {
      if (argNode.name !== "MatrixSelector") {
        const got = typeOf(this.build(argNode)) === "scalar" ? "scalar" : "instant vector";
        throw new PromqlError(`expected type range vector in call to function "${name}", got ${got}`, argNode.from);
      }
      return { kind: "range", fn: name as RangeFunction, selector: this.matrixSelector(argNode) };
    }
    const arg = this.build(argNode);
    if (typeOf(arg) !== "vector") {
      throw new PromqlError(`expected type instant vector in call to function "absent", got scalar`, argNode.from);
    }
    return {
      kind: "absent",
      arg,
      labels:
        arg.kind === "selector" && argNode.name === "VectorSelector" ? absentLabels(this.selectors[arg.selector]) : {},
    };
  }

  private matrixSelector(node: SyntaxNode): number {
    const [vsNode, durationNode] = children(node);
    if (vsNode.name !== "VectorSelector") {
      throw new PromqlError("ranges only allowed for vector selectors", vsNode.from);
    }
    const parts = children(durationNode);
    if (parts.length !== 1 || parts[0].name !== "NumberDurationLiteralInDurationContext") {
      throw new PromqlError("duration expressions are not supported", durationNode.from);
    }
    const seconds = parseNumber(this.text(parts[0]));
    if (!(seconds > 0) || !Number.isFinite(seconds)) {
      throw new PromqlError("range must be a positive duration", durationNode.from);
    }
    return this.selector(vsNode, seconds);
  }

  private aggregate(node: SyntaxNode): Expr {
    const opNode = child(node, "AggregateOp")!;
    const op = this.text(opNode) as AggregateOp;
    if (!AGGREGATE_OPS.includes(op)) {
      throw new PromqlError(`unsupported aggregation "${this.text(opNode)}"`, opNode.from);
    }
    const modifier = child(node, "AggregateModifier");
    const args = children(child(node, "FunctionCallBody")!);
    if (args.length !== 1) {
      throw new PromqlError(
        `wrong number of arguments for aggregate expression provided, expected 1, got ${args.length}`,
        node.from,
      );
    }
    const arg = this.build(args[0]);
    if (typeOf(arg) !== "vector") {
      throw new PromqlError("expected type instant vector in aggregation expression, got scalar", args[0].from);
    }
    return {
      kind: "aggregate",
      op,
      without: modifier !== null && child(modifier, "Without") !== null,
      grouping: modifier ? this.groupingLabels(child(modifier, "GroupingLabels")!) : [],
      arg,
    };
  }

  private groupingLabels(node: SyntaxNode): string[] {
    return children(node).map((c) =>
      c.name === "QuotedLabelName" ? unquote(this.text(children(c)[0]), c.from) : this.text(c),
    );
  }

  /** Validates a vector selector, registers it (deduplicated) and returns its index. */
  private selector(node: SyntaxNode, rangeSeconds: number | null): number {
    const identifier = child(node, "Identifier");
    const matcherNodes = children(child(node, "LabelMatchers") ?? node).filter((c) => c.name !== "Identifier");
    const all: { name: string; op: MatchOp; value: string; at: number }[] = [];
    for (const m of matcherNodes) {
      if (m.name === "QuotedLabelName") {
        // `{"metric.name"}`: a quoted metric name (UTF-8 metric names, Prometheus 3).
        all.push({ name: "__name__", op: "=", value: unquote(this.text(children(m)[0]), m.from), at: m.from });
        continue;
      }
      const [nameNode, opNode, valueNode] = children(m);
      const name =
        nameNode.name === "QuotedLabelName"
          ? unquote(this.text(children(nameNode)[0]), nameNode.from)
          : this.text(nameNode);
      const op = MATCH_OPS[children(opNode)[0].name];
      const value = unquote(this.text(valueNode), valueNode.from);
      if (op === "=~" || op === "!~") compileRegex(value, valueNode.from);
      all.push({ name, op, value, at: m.from });
    }

    const nameMatchers = all.filter((m) => m.name === "__name__");
    let metric: string;
    if (identifier) {
      if (nameMatchers.length > 0) {
        throw new PromqlError(
          `metric name must not be set twice: ${JSON.stringify(this.text(identifier))} or ${JSON.stringify(nameMatchers[0].value)}`,
          node.from,
        );
      }
      metric = this.text(identifier);
    } else {
      // Storage is queried by metric name, so one is required (a deliberate restriction of the subset).
      if (nameMatchers.length === 0) {
        throw new PromqlError("selectors without a metric name are not supported", node.from);
      }
      const [first, ...rest] = nameMatchers;
      if (rest.length > 0) throw new PromqlError("metric name must not be set twice", rest[0].at);
      if (first.op !== "=" || first.value === "") {
        throw new PromqlError(`only a non-empty "=" matcher is supported for __name__`, first.at);
      }
      metric = first.value;
    }

    const matchers = all.filter((m) => m.name !== "__name__").map(({ name, op, value }) => ({ name, op, value }));
    const selector: Selector = { metric, matchers, rangeSeconds };
    const key = JSON.stringify(selector);
    const known = this.selectorKeys.get(key);
    if (known !== undefined) return known;
    this.selectors.push(selector);
    this.selectorKeys.set(key, this.selectors.length - 1);
    return this.selectors.length - 1;
  }
}

/** promql/parser/lex.go accepts Go number syntax, `Inf`/`NaN`, and durations (as seconds). */
function parseNumber(text: string): number {
  let s = text.replace(/\s+/g, "");
  let sign = 1;
  if (s[0] === "-" || s[0] === "+") {
    if (s[0] === "-") sign = -1;
    s = s.slice(1);
  }
  const lower = s.toLowerCase();
  if (lower === "inf") return sign * Infinity;
  if (lower === "nan") return NaN;
  if (DURATION_RE.test(s)) return sign * durationSeconds(s);
  s = s.replace(/_/g, "");
  // parser.go parseNumber: strconv.ParseInt(s, 0, 64) first, so 0x1f is hex and 017 is octal.
  if (/^0x[0-9a-f]+$/i.test(s)) return sign * parseInt(s.slice(2), 16);
  if (/^0[0-7]+$/.test(s)) return sign * parseInt(s, 8);
  return sign * Number(s);
}

function durationSeconds(s: string): number {
  let total = 0;
  for (const [, n, unit] of s.matchAll(/(\d+)(ms|[ywdhms])/g)) total += Number(n) * DURATION_UNIT_SECONDS[unit];
  return total;
}

const SIMPLE_ESCAPES: Record<string, string> = {
  a: "\x07",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\v",
  "\\": "\\",
  "'": "'",
  '"': '"',
};

/** Go's strconv.Unquote, which Prometheus uses for string literals; backquotes are raw. */
function unquote(literal: string, at: number): string {
  const body = literal.slice(1, -1);
  if (literal[0] === "`") return body;
  let out = "";
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c !== "\\") {
      out += c;
      continue;
    }
    const e = body[++i];
    if (e in SIMPLE_ESCAPES) {
      out += SIMPLE_ESCAPES[e];
      continue;
    }
    const hexLength = e === "x" ? 2 : e === "u" ? 4 : e === "U" ? 8 : 0;
    const hex = body.slice(i + 1, i + 1 + hexLength);
    if (hexLength > 0 && hex.length === hexLength && /^[0-9a-fA-F]+$/.test(hex)) {
      out += String.fromCodePoint(parseInt(hex, 16));
      i += hexLength;
      continue;
    }
    if (/^[0-7]{3}$/.test(body.slice(i, i + 3))) {
      out += String.fromCharCode(parseInt(body.slice(i, i + 3), 8));
      i += 2;
      continue;
    }
    throw new PromqlError(`unknown escape sequence "\\${e ?? ""}"`, at + i);
  }
  return out;
}

/**
 * Prometheus anchors regexes as `^(?s:re)$` (model/labels/regexp.go). RE2 and JS syntax mostly agree;
 * the RE2-only spellings `(?i)` (as a prefix) and `(?P<name>` are translated, anything else JS rejects
 * is reported as invalid.
 */
function compileRegex(source: string, at: number): RegExp {
  let flags = "s";
  let body = source;
  if (body.startsWith("(?i)")) {
    flags += "i";
    body = body.slice(4);
  }
  body = body.replace(/\(\?P</g, "(?<");
  try {
    return new RegExp(`^(?:${body})$`, flags);
  } catch (e) {
    throw new PromqlError(`invalid regular expression ${JSON.stringify(source)}: ${(e as Error).message}`, at);
  }
}

/** createLabelsForAbsentFunction (functions.go): equality matchers; a name matched twice or otherwise is dropped. */
function absentLabels(selector: Selector): Labels {
  const labels: Labels = {};
  const seen = new Set<string>();
  for (const m of selector.matchers) {
    if (m.op === "=" && !seen.has(m.name)) labels[m.name] = m.value;
    else delete labels[m.name];
    seen.add(m.name);
  }
  return labels;
}

// ---------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------

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
  opts: { lookbackMs?: number } = {},
): EvalResult {
  if (data.length !== parsed.selectors.length) {
    throw new PromqlError(
      `evaluate() needs series for ${parsed.selectors.length} selector(s) in the order of parsed.selectors, got ${data.length}`,
      null,
    );
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
      const re = compileRegex(m.value, 0);
      return (l) => re.test(value(l));
    }
    case "!~": {
      const re = compileRegex(m.value, 0);
      return (l) => !re.test(value(l));
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
    case "max_over_time":
      return points.length === 0 ? null : compareOverTime(points, (cur, best) => cur > best);
    case "min_over_time":
      return points.length === 0 ? null : compareOverTime(points, (cur, best) => cur < best);
    case "avg_over_time":
      return points.length === 0 ? null : avgOverTime(points);
  }
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
