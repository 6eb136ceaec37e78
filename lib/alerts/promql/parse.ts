/**
 * PromQL subset, parsing: the official lezer grammar's tree → our validated AST (`ParsedExpr`).
 * Everything refused here is a `PromqlError` with the 0-based position in the expression, which
 * the rule API returns as a 400.
 */
import { parser } from "@prometheus-io/lezer-promql";
import type { SyntaxNode } from "@lezer/common";
import { GO_STRING_ESCAPES } from "../go-escapes";
import { compileLabelRegex, RegexError } from "./regex";
import {
  MAX_RANGE_SECONDS,
  PromqlError,
  type AggregateOp,
  type BinaryOp,
  type Expr,
  type Labels,
  type MatchOp,
  type ParsedExpr,
  type RangeFunction,
  type Selector,
  type ValueType,
} from "./types";

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

const RANGE_FUNCTIONS: readonly RangeFunction[] = [
  "rate",
  "increase",
  "delta",
  "deriv",
  "max_over_time",
  "min_over_time",
  "avg_over_time",
];
const RANGE_FUNCTION_LIST = "rate, increase, delta, deriv, max_over_time, min_over_time or avg_over_time";
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
    if (name === "predict_linear") return this.predictLinear(node, args);
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

  /** `predict_linear(v range-vector, t scalar)`, as Prometheus types it (functions.go). */
  private predictLinear(node: SyntaxNode, args: SyntaxNode[]): Expr {
    if (args.length !== 2) {
      throw new PromqlError(`expected 2 argument(s) in call to "predict_linear", got ${args.length}`, node.from);
    }
    const [rangeNode, secondsNode] = args;
    if (rangeNode.name !== "MatrixSelector") {
      const got = typeOf(this.build(rangeNode)) === "scalar" ? "scalar" : "instant vector";
      throw new PromqlError(`expected type range vector in call to function "predict_linear", got ${got}`, rangeNode.from);
    }
    const selector = this.matrixSelector(rangeNode);
    const seconds = this.build(secondsNode);
    if (typeOf(seconds) !== "scalar") {
      throw new PromqlError(`expected type scalar in call to function "predict_linear", got instant vector`, secondsNode.from);
    }
    return { kind: "predict_linear", selector, seconds };
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
    if (seconds > MAX_RANGE_SECONDS) {
      throw new PromqlError(
        `range ${this.text(parts[0])} is too long: the longest range is ${MAX_RANGE_SECONDS / 86400}d`,
        durationNode.from,
      );
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
      if (op === "=~" || op === "!~") checkRegex(value, valueNode.from);
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

/** Go's escapes, and `\'` for PromQL's single-quoted strings. */
const SIMPLE_ESCAPES: Readonly<Record<string, string>> = { ...GO_STRING_ESCAPES, "'": "'" };

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
 * Refuses, at the matcher's position, a pattern RE2 rejects or one over the length limit. Like
 * Prometheus (`^(?s:re)$`, model/labels/regexp.go) the pattern must match the whole value.
 */
function checkRegex(source: string, at: number): void {
  try {
    compileLabelRegex(source, { dotAll: true });
  } catch (err) {
    if (err instanceof RegexError) throw new PromqlError(err.message, at);
    throw err;
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
