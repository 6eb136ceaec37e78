/**
 * PromQL parsing: the official lezer grammar's tree → our validated AST (`ParsedExpr`), with the
 * checks of Prometheus' parser (promql/parser/parser.go checkAST) and its messages. Everything
 * refused here is a `PromqlError` with the 0-based position in the expression, which the rule API
 * returns as a 400. See docs/promql.md for what is out of the language and why.
 */
import { parser } from "@prometheus-io/lezer-promql";
import type { SyntaxNode } from "@lezer/common";
import { GO_STRING_ESCAPES } from "../go-escapes";
import { compileLabelRegex, RegexError } from "./regex";
import {
  MAX_EXPR_DEPTH,
  MAX_EXPR_LENGTH,
  MAX_RANGE_SECONDS,
  PromqlError,
  type AggregateOp,
  type BinaryOp,
  type Expr,
  type ExprType,
  type MatchOp,
  type ParsedExpr,
  type Selector,
  type ValueType,
  type VectorMatching,
} from "./types";

// ---------------------------------------------------------------------------------------------
// The language's tables (promql/parser/functions.go, lex.go)
// ---------------------------------------------------------------------------------------------

interface FunctionSpec {
  args: ExprType[];
  /** 0: exactly `args`; n > 0: up to n more than `args.length - 1`; -1: any number more */
  variadic: number;
  returns: ExprType;
}
const v = "vector" as const;
const m = "matrix" as const;
const sc = "scalar" as const;
const str = "string" as const;
const fn = (args: ExprType[], returns: ExprType = v, variadic = 0): FunctionSpec => ({ args, variadic, returns });
const MATH = [
  "abs",
  "ceil",
  "floor",
  "exp",
  "sqrt",
  "ln",
  "log2",
  "log10",
  "sgn",
  "deg",
  "rad",
  "acos",
  "acosh",
  "asin",
  "asinh",
  "atan",
  "atanh",
  "cos",
  "cosh",
  "sin",
  "sinh",
  "tan",
  "tanh",
  "sort",
  "sort_desc",
  "timestamp",
  "absent",
];
const OVER_TIME = [
  "avg_over_time",
  "min_over_time",
  "max_over_time",
  "sum_over_time",
  "count_over_time",
  "last_over_time",
  "present_over_time",
  "stddev_over_time",
  "stdvar_over_time",
  "absent_over_time",
  "rate",
  "increase",
  "delta",
  "irate",
  "idelta",
  "deriv",
  "changes",
  "resets",
];
const DATE = ["day_of_month", "day_of_week", "day_of_year", "days_in_month", "hour", "minute", "month", "year"];
export const FUNCTIONS: Readonly<Record<string, FunctionSpec>> = {
  ...Object.fromEntries(MATH.map((name) => [name, fn([v])])),
  ...Object.fromEntries(OVER_TIME.map((name) => [name, fn([m])])),
  ...Object.fromEntries(DATE.map((name) => [name, fn([v], v, 1)])),
  quantile_over_time: fn([sc, m]),
  predict_linear: fn([m, sc]),
  clamp: fn([v, sc, sc]),
  clamp_min: fn([v, sc]),
  clamp_max: fn([v, sc]),
  round: fn([v, sc], v, 1),
  histogram_quantile: fn([sc, v]),
  label_replace: fn([v, str, str, str, str]),
  label_join: fn([v, str, str, str], v, -1),
  scalar: fn([v], sc),
  vector: fn([sc]),
  histogram_fraction: fn([sc, sc, v]),
  time: fn([], sc),
  pi: fn([], sc),
  // the bounds of the query being evaluated: a rule is an instant query, so start = end and step = range = 0
  start: fn([], sc),
  end: fn([], sc),
  step: fn([], sc),
  range: fn([], sc),
};
/**
 * Functions the grammar knows that are out of the language: native histograms only, or behind
 * Prometheus' `--enable-feature=promql-experimental-functions` (docs/promql.md).
 */
const REFUSED_FUNCTIONS: Readonly<Record<string, string>> = {
  histogram_count: "native histograms are not stored by brokerwatch",
  histogram_sum: "native histograms are not stored by brokerwatch",
  histogram_avg: "native histograms are not stored by brokerwatch",
  histogram_stddev: "native histograms are not stored by brokerwatch",
  histogram_stdvar: "native histograms are not stored by brokerwatch",
};
const EXPERIMENTAL = "an experimental Prometheus feature (behind --enable-feature)";
const AGGREGATE_OPS: readonly AggregateOp[] = [
  "sum",
  "min",
  "max",
  "avg",
  "count",
  "group",
  "stddev",
  "stdvar",
  "topk",
  "bottomk",
  "quantile",
  "count_values",
];
const PARAM_TYPE: Partial<Record<AggregateOp, ExprType>> = { topk: sc, bottomk: sc, quantile: sc, count_values: str };

const BINARY_OPS: Record<string, BinaryOp> = {
  Pow: "^",
  Mul: "*",
  Div: "/",
  Mod: "%",
  Atan2: "atan2",
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
const COMPARISON_OPS = new Set<BinaryOp>(["==", "!=", ">", "<", ">=", "<="]);
const SET_OPS = new Set<BinaryOp>(["and", "or", "unless"]);
const MATCH_OPS: Record<string, MatchOp> = { EqlSingle: "=", Neq: "!=", EqlRegex: "=~", NeqRegex: "!~" };
const LABEL_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

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

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

export function parseExpr(expr: string): ParsedExpr {
  checkSize(expr);
  const tree = parseTree(expr);
  rejectSyntaxErrors(expr, tree.topNode);
  const builder = new Builder(expr);
  const root = builder.build(tree.topNode);
  const type = typeOf(root);
  if (type === "matrix") {
    throw new PromqlError(
      "a range vector is not a rule result: apply a function such as rate() or max_over_time() to it",
      0,
    );
  }
  if (type === "string")
    throw new PromqlError("a string is not a rule result: it must be a scalar or an instant vector", 0);
  return { source: expr, type, selectors: builder.selectors, root };
}

const strictParser = parser.configure({ strict: true });
/** Up to this length a syntax error is located with the grammar's error recovery, which costs more per error. */
const DETAILED_ERRORS_MAX_LENGTH = 4096;

/**
 * The syntax tree, or the first syntax error. The strict parser stops at the first token it
 * cannot use; lezer's error recovery (which tells an unknown function from a stray bracket) is
 * only run on short expressions, because on long broken input it costs seconds.
 */
function parseTree(expr: string) {
  try {
    return strictParser.parse(expr);
  } catch (err) {
    const m = /No parse at (\d+)/.exec((err as Error).message);
    if (!m) throw err;
    if (expr.length <= DETAILED_ERRORS_MAX_LENGTH) rejectSyntaxErrors(expr, parser.parse(expr).topNode);
    throw syntaxError(expr, Number(m[1]));
  }
}

/**
 * Size and nesting, checked before the grammar sees the text: a hostile expression (200,000 × "(")
 * must cost a linear scan, not the parser's error recovery nor our recursion.
 */
function checkSize(expr: string): void {
  if (expr.length > MAX_EXPR_LENGTH) {
    throw new PromqlError(
      `expression is ${expr.length} characters long, the limit is ${MAX_EXPR_LENGTH}`,
      MAX_EXPR_LENGTH,
    );
  }
  let depth = 0;
  let quote = "";
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i];
    if (quote) {
      if (c === "\\" && quote !== "`") i++;
      else if (c === quote) quote = "";
      continue;
    }
    if (c === '"' || c === "'" || c === "`") quote = c;
    else if (c === "#") {
      while (i < expr.length && expr[i] !== "\n") i++;
    } else if (c === "(" || c === "[" || c === "{") {
      if (++depth > MAX_EXPR_DEPTH) {
        throw new PromqlError(`expression nests more than ${MAX_EXPR_DEPTH} levels of brackets deep`, i);
      }
    } else if (c === ")" || c === "]" || c === "}") depth = Math.max(0, depth - 1);
  }
}

function typeOf(e: Expr): ExprType {
  switch (e.kind) {
    case "number":
      return "scalar";
    case "string":
      return "string";
    case "selector":
      return "vector";
    case "matrix":
    case "subquery":
      return "matrix";
    case "aggregate":
      return "vector";
    case "unary":
    case "binary":
    case "call":
      return e.type;
  }
}

/** Prometheus' names for types in its messages (parser.DocumentedType). */
function documented(t: ExprType): string {
  return t === "vector" ? "instant vector" : t === "matrix" ? "range vector" : t;
}

function children(node: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  for (let c = node.firstChild; c; c = c.nextSibling) if (c.name !== "LineComment") out.push(c);
  return out;
}

function child(node: SyntaxNode, name: string): SyntaxNode | null {
  for (let c = node.firstChild; c; c = c.nextSibling) if (c.name === name) return c;
  return null;
}

/**
 * Lezer recovers from errors by inserting `⚠` nodes, and its string token accepts a missing closing
 * quote; report the first problem in the text, and only that one. The walk is iterative and
 * stops at the first error; the tree depth is checked on the way (the builder recurses).
 */
function rejectSyntaxErrors(src: string, top: SyntaxNode): void {
  let first = null as PromqlError | null;
  const consider = (e: PromqlError) => {
    if (!first || e.position! < first.position!) first = e;
  };
  const cursor = top.cursor();
  let depth = 0;
  for (;;) {
    const { from, to } = cursor;
    if (first && from > first.position!) break;
    if (cursor.type.isError) {
      consider(syntaxError(src, from));
      break;
    }
    if (cursor.name === "StringLiteral" && !isTerminated(src, from, to)) {
      consider(new PromqlError("unterminated quoted string", from));
    }
    if (depth > MAX_EXPR_DEPTH * 4) {
      throw new PromqlError(
        `expression nests too deeply (its syntax tree is over ${MAX_EXPR_DEPTH * 4} levels deep)`,
        from,
      );
    }
    if (cursor.firstChild()) {
      depth++;
      continue;
    }
    while (!cursor.nextSibling()) {
      if (!cursor.parent()) {
        if (first) throw first;
        return;
      }
      depth--;
    }
  }
  if (first) throw first;
}

function isTerminated(src: string, from: number, to: number): boolean {
  if (to - from < 2 || src[to - 1] !== src[from]) return false;
  // An escaped closing quote (`"abc\"`) does not terminate a Go-style quoted string.
  if (src[from] === "`") return true;
  let backslashes = 0;
  for (let i = to - 2; i > from && src[i] === "\\"; i--) backslashes++;
  return backslashes % 2 === 0;
}

/** The message for an error node at `pos`, reading a bounded window of the text around it. */
function syntaxError(src: string, pos: number): PromqlError {
  const ahead = src.slice(pos, pos + 64);
  // The grammar only knows the PromQL function names, so `foo(x)` surfaces as a stray "(" after
  // a selector; name the function as Prometheus does ("unknown function with name ...").
  if (/^\s*\(/.test(ahead)) {
    const start = Math.max(0, pos - 256);
    const m = /(^|[^A-Za-z0-9_:])([A-Za-z_:][A-Za-z0-9_:]*)\s*$/.exec(src.slice(start, pos));
    if (m && !(start > 0 && m.index === 0 && m[1] === "")) {
      return new PromqlError(`unknown function "${m[2]}"`, start + m.index + m[1].length);
    }
  }
  const token = /^\s*(\S{1,20})/.exec(ahead);
  return token
    ? new PromqlError(`syntax error: unexpected ${JSON.stringify(token[1])}`, pos + token[0].indexOf(token[1]))
    : new PromqlError("syntax error: unexpected end of input", src.length);
}

/** `offset` and `@` waiting for the selector or subquery they belong to, with their positions. */
interface Modifiers {
  offset: { seconds: number; at: number } | null;
  at: { value: number | "start" | "end"; at: number } | null;
}

/** What encloses the node being built: subqueries widen and may anchor the data window. */
interface Scope {
  reachSeconds: number;
  anchorSeconds: number | null;
}

class Builder {
  readonly selectors: Selector[] = [];
  private readonly selectorKeys = new Map<string, number>();
  private scope: Scope = { reachSeconds: 0, anchorSeconds: null };

  constructor(private readonly src: string) {}

  private text(node: SyntaxNode): string {
    return this.src.slice(node.from, node.to);
  }

  build(node: SyntaxNode): Expr {
    switch (node.name) {
      case "PromQL":
        return this.build(children(node)[0]);
      case "ParenExpr":
        return this.build(children(node)[0]);
      case "NumberDurationLiteral":
        return { kind: "number", value: parseNumber(this.text(node)) };
      case "StringLiteral":
        return { kind: "string", value: unquote(this.text(node), node.from) };
      case "VectorSelector":
        return { kind: "selector", selector: this.selector(node, { rangeSeconds: null, offsetSeconds: 0, at: null }) };
      case "MatrixSelector":
      case "SubqueryExpr":
      case "OffsetExpr":
      case "StepInvariantExpr":
        return this.modified(node, { offset: null, at: null });
      case "UnaryExpr":
        return this.unary(node);
      case "BinaryExpr":
        return this.binary(node);
      case "FunctionCall":
        return this.call(node);
      case "AggregateExpr":
        return this.aggregate(node);
      case "AnchoredExpr":
      case "SmoothedExpr": {
        const modifier = children(node)[1];
        throw new PromqlError(
          `the ${this.text(modifier)} modifier is not supported: it is ${EXPERIMENTAL}`,
          modifier.from,
        );
      }
      default:
        throw new PromqlError(`unsupported expression ${JSON.stringify(this.text(node).slice(0, 40))}`, node.from);
    }
  }

  /**
   * `offset` and `@` (in either order) on a vector selector, range selector or subquery; a range
   * selector or subquery itself. Prometheus attaches both modifiers to the innermost of these.
   */
  private modified(node: SyntaxNode, mods: Modifiers): Expr {
    const kids = children(node);
    switch (node.name) {
      case "OffsetExpr": {
        const durNode = kids[kids.length - 1];
        if (mods.offset) throw new PromqlError("offset may not be set multiple times", child(node, "Offset")!.from);
        const seconds = this.offsetDuration(durNode);
        return this.modified(this.unparen(kids[0], "offset", child(node, "Offset")!.from), {
          ...mods,
          offset: { seconds, at: child(node, "Offset")!.from },
        });
      }
      case "StepInvariantExpr": {
        const atNode = child(node, "At")!;
        if (mods.at) throw new PromqlError("@ <timestamp> may not be set multiple times", atNode.from);
        const pre = child(node, "AtModifierPreprocessors");
        let value: number | "start" | "end";
        if (pre) value = this.text(pre).toLowerCase().startsWith("start") ? "start" : "end";
        else {
          const lit = child(node, "NumberDurationLiteral")!;
          const seconds = parseNumber(this.text(lit));
          if (!Number.isFinite(seconds) || Math.abs(seconds) > 9.2e15) {
            throw new PromqlError(`timestamp out of bounds for @ modifier: ${this.text(lit)}`, lit.from);
          }
          value = Math.round(seconds * 1000) / 1000;
        }
        return this.modified(this.unparen(kids[0], "@", atNode.from), { ...mods, at: { value, at: atNode.from } });
      }
      case "VectorSelector":
        return {
          kind: "selector",
          selector: this.selector(node, {
            rangeSeconds: null,
            offsetSeconds: mods.offset?.seconds ?? 0,
            at: mods.at?.value ?? null,
          }),
        };
      case "MatrixSelector": {
        const [vsNode, durationNode] = kids;
        if (vsNode.name !== "VectorSelector") {
          if (vsNode.name === "OffsetExpr" || vsNode.name === "StepInvariantExpr") {
            throw new PromqlError("no offset or @ modifiers allowed before range", vsNode.from);
          }
          throw new PromqlError("ranges only allowed for vector selectors", vsNode.from);
        }
        const seconds = this.rangeDuration(durationNode, "range");
        return {
          kind: "matrix",
          selector: this.selector(vsNode, {
            rangeSeconds: seconds,
            offsetSeconds: mods.offset?.seconds ?? 0,
            at: mods.at?.value ?? null,
          }),
        };
      }
      case "SubqueryExpr": {
        const durations = kids.filter((k) => k.name === "DurationExpr");
        const rangeSeconds = this.rangeDuration(durations[0], "subquery range");
        const stepSeconds = durations.length > 1 ? this.rangeDuration(durations[1], "subquery step") : null;
        const offsetSeconds = mods.offset?.seconds ?? 0;
        const at = mods.at?.value ?? null;
        const outer = this.scope;
        this.scope = {
          reachSeconds: outer.reachSeconds + rangeSeconds + Math.max(0, offsetSeconds),
          anchorSeconds: typeof at === "number" ? at : outer.anchorSeconds,
        };
        let inner: Expr;
        try {
          inner = this.build(kids[0]);
        } finally {
          this.scope = outer;
        }
        const t = typeOf(inner);
        if (t !== "vector") {
          throw new PromqlError(`subquery is only allowed on instant vector, got ${documented(t)}`, kids[0].from);
        }
        return {
          kind: "subquery",
          expr: inner,
          rangeMs: Math.round(rangeSeconds * 1000),
          stepMs: stepSeconds === null ? null : Math.round(stepSeconds * 1000),
          offsetMs: Math.round(offsetSeconds * 1000),
          at,
        };
      }
      // The lezer grammar gives a modifier the lowest precedence (`-x @ 1`, `a + b offset 1m` are
      // parsed as `(-x) @ 1`, `(a + b) offset 1m`); Prometheus binds it to the selector on its left.
      case "UnaryExpr":
        return this.unary(node, mods);
      case "BinaryExpr":
        return this.binary(node, mods);
      default: {
        const what = mods.offset ? "offset" : "@";
        const pos = (mods.offset ?? mods.at)!.at;
        throw new PromqlError(
          `${what} modifier must be preceded by an instant vector selector or range vector selector or a subquery`,
          pos,
        );
      }
    }
  }

  /** `(foo) offset 5m` is an error in Prometheus: the modifier must follow the selector itself. */
  private unparen(node: SyntaxNode, modifier: string, at: number): SyntaxNode {
    if (node.name === "ParenExpr") {
      throw new PromqlError(
        `${modifier} modifier must be preceded by an instant vector selector or range vector selector or a subquery`,
        at,
      );
    }
    return node;
  }

  private offsetDuration(node: SyntaxNode): number {
    // OffsetDurationExpr: an optional sign and a duration or number of seconds
    const kids = children(node);
    if (kids.length === 2 && kids[0].name === "UnaryOp") {
      const inner = this.offsetDuration(kids[1]);
      return this.text(kids[0]) === "-" ? -inner : inner;
    }
    if (kids.length !== 1 || kids[0].name !== "NumberDurationLiteralInDurationContext") {
      throw new PromqlError(`duration expressions are not supported: they are ${EXPERIMENTAL}`, node.from);
    }
    const seconds = parseNumber(this.text(kids[0]));
    if (!Number.isFinite(seconds) || Math.abs(seconds) > MAX_RANGE_SECONDS) {
      throw new PromqlError(
        `offset ${this.text(kids[0])} is too long: the longest is ${MAX_RANGE_SECONDS / 86400}d`,
        node.from,
      );
    }
    return seconds;
  }

  private rangeDuration(node: SyntaxNode, what: string): number {
    const parts = children(node);
    if (parts.length !== 1 || parts[0].name !== "NumberDurationLiteralInDurationContext") {
      throw new PromqlError(`duration expressions are not supported: they are ${EXPERIMENTAL}`, node.from);
    }
    const seconds = parseNumber(this.text(parts[0]));
    if (!(seconds > 0) || !Number.isFinite(seconds)) {
      throw new PromqlError(`${what} must be a positive duration`, node.from);
    }
    if (seconds > MAX_RANGE_SECONDS) {
      throw new PromqlError(
        `${what} ${this.text(parts[0])} is too long: the longest range is ${MAX_RANGE_SECONDS / 86400}d`,
        node.from,
      );
    }
    return seconds;
  }

  private unary(node: SyntaxNode, mods?: Modifiers): Expr {
    const [opNode, argNode] = children(node);
    const op = this.text(opNode) === "-" ? "-" : "+";
    const arg = mods ? this.modified(argNode, mods) : this.build(argNode);
    // parser.y folds a signed number literal into the literal (unary_expr rule).
    if (arg.kind === "number") return { kind: "number", value: op === "-" ? -arg.value : arg.value };
    const t = typeOf(arg);
    if (t !== "scalar" && t !== "vector") {
      throw new PromqlError(
        `unary expression only allowed on expressions of type scalar or instant vector, got ${JSON.stringify(documented(t))}`,
        node.from,
      );
    }
    return { kind: "unary", op, arg, type: t };
  }

  private binary(node: SyntaxNode, mods?: Modifiers): Expr {
    const kids = children(node);
    const [lhsNode, opNode] = kids;
    const rhsNode = kids[kids.length - 1];
    if (opNode.name === "TrimUpper" || opNode.name === "TrimLower") {
      throw new PromqlError(
        `the ${this.text(opNode)} operator is for native histograms, which brokerwatch does not store`,
        opNode.from,
      );
    }
    const op = BINARY_OPS[opNode.name];
    // Problems are reported in the order they appear in the text.
    const lhs = this.signedPowerBase(lhsNode, op);
    const boolNode = kids.find((k) => k.name === "BoolModifier") ?? null;
    const matchingNode = kids.find((k) => k.name === "MatchingModifierClause") ?? null;
    let matching: VectorMatching = { on: false, labels: [], card: "one-to-one", include: [] };
    let explicitMatching = false;
    if (matchingNode) {
      explicitMatching = true;
      const groupingNodes = children(matchingNode).filter((k) => k.name === "GroupingLabels");
      const group = children(matchingNode).find((k) => k.name === "GroupLeft" || k.name === "GroupRight");
      matching = {
        on: child(matchingNode, "On") !== null,
        labels: this.groupingLabels(groupingNodes[0]),
        card: group ? (group.name === "GroupLeft" ? "many-to-one" : "one-to-many") : "one-to-one",
        include: groupingNodes.length > 1 ? this.groupingLabels(groupingNodes[1]) : [],
      };
    }
    const fillNode = kids.find((k) => k.name === "FillModifier");
    if (fillNode) throw new PromqlError(`fill modifiers are not supported: they are ${EXPERIMENTAL}`, fillNode.from);
    const rhs = mods ? this.modified(rhsNode, mods) : this.build(rhsNode);

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
    if (SET_OPS.has(op) && matching.card === "one-to-one") matching.card = "many-to-many";
    if (matching.on) {
      for (const l of matching.labels) {
        if (matching.include.includes(l)) {
          throw new PromqlError(
            `label ${JSON.stringify(l)} must not occur in ON and GROUP clause at once`,
            matchingNode!.from,
          );
        }
      }
    }
    for (const t of [lt, rt]) {
      if (t !== "scalar" && t !== "vector") {
        throw new PromqlError("binary expression must contain only scalar and instant vector types", node.from);
      }
    }
    let vectorMatching: VectorMatching | null = matching;
    if (lt !== "vector" || rt !== "vector") {
      if (explicitMatching && matching.labels.length > 0) {
        throw new PromqlError("vector matching only allowed between instant vectors", node.from);
      }
      vectorMatching = null;
    } else if (SET_OPS.has(op)) {
      if (matching.card === "one-to-many" || matching.card === "many-to-one") {
        throw new PromqlError(`no grouping allowed for ${JSON.stringify(op)} operation`, node.from);
      }
    }
    if ((lt === "scalar" || rt === "scalar") && SET_OPS.has(op)) {
      throw new PromqlError(`set operator ${JSON.stringify(op)} not allowed in binary scalar expression`, node.from);
    }
    const type: ValueType = lt === "scalar" && rt === "scalar" ? "scalar" : "vector";
    const binary: Expr = { kind: "binary", op, returnBool, matching: vectorMatching, lhs: lhs.expr, rhs, type };
    return lhs.negate ? { kind: "unary", op: "-", arg: binary, type } : binary;
  }

  /**
   * In parser.y a sign has MUL precedence, so `-2 ^ 2` is `-(2 ^ 2)`; the lezer grammar lexes
   * `-2` as one literal instead. Undo that for the base of `^`.
   */
  private signedPowerBase(node: SyntaxNode, op: BinaryOp): { expr: Expr; negate: boolean } {
    if (op !== "^" || node.name !== "NumberDurationLiteral") return { expr: this.build(node), negate: false };
    const text = this.text(node);
    if (!/^[+-]/.test(text)) return { expr: this.build(node), negate: false };
    const magnitude = parseNumber(text.slice(1));
    return { expr: { kind: "number", value: magnitude }, negate: text[0] === "-" };
  }

  private call(node: SyntaxNode): Expr {
    const fnNode = children(child(node, "FunctionIdentifier")!)[0];
    const name = this.text(fnNode);
    const argNodes = children(child(node, "FunctionCallBody")!);
    const spec = FUNCTIONS[name];
    if (!spec) {
      const why = REFUSED_FUNCTIONS[name] ?? EXPERIMENTAL;
      throw new PromqlError(`function "${name}" is not supported: ${why}`, fnNode.from);
    }
    // parser.go checkAST, *Call
    const nargs = spec.args.length;
    if (spec.variadic === 0) {
      if (nargs !== argNodes.length) {
        throw new PromqlError(`expected ${nargs} argument(s) in call to "${name}", got ${argNodes.length}`, node.from);
      }
    } else {
      const na = nargs - 1;
      if (na > argNodes.length) {
        throw new PromqlError(
          `expected at least ${na} argument(s) in call to "${name}", got ${argNodes.length}`,
          node.from,
        );
      }
      const max = na + spec.variadic;
      if (spec.variadic > 0 && max < argNodes.length) {
        throw new PromqlError(
          `expected at most ${max} argument(s) in call to "${name}", got ${argNodes.length}`,
          node.from,
        );
      }
    }
    const args: Expr[] = [];
    argNodes.forEach((argNode, i) => {
      const arg = this.build(argNode);
      const want = spec.args[Math.min(i, nargs - 1)];
      const got = typeOf(arg);
      if (got !== want) {
        throw new PromqlError(
          `expected type ${documented(want)} in call to function "${name}", got ${documented(got)}`,
          argNode.from,
        );
      }
      args.push(arg);
    });
    if (name === "label_replace" || name === "label_join") {
      const dst = (args[1] as { value: string }).value;
      if (!LABEL_NAME_RE.test(dst)) {
        throw new PromqlError(`invalid destination label name in ${name}(): ${dst}`, argNodes[1].from);
      }
      if (name === "label_replace") {
        const re = (args[4] as { value: string }).value;
        try {
          compileLabelRegex(re, { dotAll: true });
        } catch (err) {
          if (err instanceof RegexError)
            throw new PromqlError(`invalid regular expression in label_replace(): ${err.message}`, argNodes[4].from);
          throw err;
        }
      }
    }
    return { kind: "call", fn: name, args, type: spec.returns };
  }

  private aggregate(node: SyntaxNode): Expr {
    const opNode = child(node, "AggregateOp")!;
    const opText = this.text(opNode).toLowerCase();
    const op = opText as AggregateOp;
    if (!AGGREGATE_OPS.includes(op)) {
      throw new PromqlError(`aggregation "${opText}" is not supported: it is ${EXPERIMENTAL}`, opNode.from);
    }
    const modifier = child(node, "AggregateModifier");
    const argNodes = children(child(node, "FunctionCallBody")!);
    const paramType = PARAM_TYPE[op];
    const want = paramType ? 2 : 1;
    if (argNodes.length !== want) {
      throw new PromqlError(
        `wrong number of arguments for aggregate expression provided, expected ${want}, got ${argNodes.length}`,
        node.from,
      );
    }
    const grouping = modifier ? this.groupingLabels(child(modifier, "GroupingLabels")!) : [];
    let param: Expr | null = null;
    if (paramType) {
      param = this.build(argNodes[0]);
      const pt = typeOf(param);
      if (pt !== paramType) {
        throw new PromqlError(
          `expected type ${documented(paramType)} in aggregation parameter, got ${documented(pt)}`,
          argNodes[0].from,
        );
      }
    }
    const argNode = argNodes[argNodes.length - 1];
    const arg = this.build(argNode);
    const t = typeOf(arg);
    if (t !== "vector") {
      throw new PromqlError(
        `expected type instant vector in aggregation expression, got ${documented(t)}`,
        argNode.from,
      );
    }
    if (op === "count_values" && param?.kind === "string" && !LABEL_NAME_RE.test(param.value)) {
      throw new PromqlError(`invalid label name ${JSON.stringify(param.value)}`, argNodes[0].from);
    }
    return {
      kind: "aggregate",
      op,
      without: modifier !== null && child(modifier, "Without") !== null,
      grouping,
      param,
      arg,
    };
  }

  private groupingLabels(node: SyntaxNode): string[] {
    return children(node)
      .filter((c) => c.name === "LabelName" || c.name === "QuotedLabelName")
      .map((c) => (c.name === "QuotedLabelName" ? unquote(this.text(children(c)[0]), c.from) : this.text(c)));
  }

  /** Validates a vector selector, registers it (deduplicated) and returns its index. */
  private selector(
    node: SyntaxNode,
    mods: { rangeSeconds: number | null; offsetSeconds: number; at: number | "start" | "end" | null },
  ): number {
    const identifier = child(node, "Identifier");
    const matchersNode = child(node, "LabelMatchers");
    const matcherNodes = matchersNode
      ? children(matchersNode).filter((c) => c.name !== "," && c.name !== "{" && c.name !== "}")
      : [];
    const all: { name: string; op: MatchOp; value: string; at: number }[] = [];
    for (const mn of matcherNodes) {
      if (mn.name === "QuotedLabelName") {
        // `{"metric.name"}`: a quoted metric name (UTF-8 metric names, Prometheus 3).
        all.push({ name: "__name__", op: "=", value: unquote(this.text(children(mn)[0]), mn.from), at: mn.from });
        continue;
      }
      if (mn.name !== "UnquotedLabelMatcher" && mn.name !== "QuotedLabelMatcher") continue;
      const [nameNode, opNode, valueNode] = children(mn);
      const name =
        nameNode.name === "QuotedLabelName"
          ? unquote(this.text(children(nameNode)[0]), nameNode.from)
          : this.text(nameNode);
      const op = MATCH_OPS[children(opNode)[0].name];
      const value = unquote(this.text(valueNode), valueNode.from);
      if (op === "=~" || op === "!~") checkRegex(value, valueNode.from);
      all.push({ name, op, value, at: mn.from });
    }

    let metric = "";
    const nameMatchers = all.filter((mm) => mm.name === "__name__");
    if (identifier) {
      if (nameMatchers.length > 0) {
        throw new PromqlError(
          `metric name must not be set twice: ${JSON.stringify(this.text(identifier))} or ${JSON.stringify(nameMatchers[0].value)}`,
          node.from,
        );
      }
      metric = this.text(identifier);
    } else if (nameMatchers.length === 1 && nameMatchers[0].op === "=" && nameMatchers[0].value !== "") {
      metric = nameMatchers[0].value;
    }
    // parser.go: a selector whose every matcher matches the empty string would select every series.
    if (!metric && all.every((mm) => matchesEmpty(mm))) {
      throw new PromqlError("vector selector must contain at least one non-empty matcher", node.from);
    }
    const matchers = all
      .filter((mm) => !(metric && mm.name === "__name__" && !identifier))
      .map(({ name, op, value }) => ({ name, op, value }));
    const selector: Selector = {
      metric,
      matchers,
      rangeSeconds: mods.rangeSeconds,
      offsetSeconds: mods.offsetSeconds,
      at: mods.at,
      reachSeconds: this.scope.reachSeconds,
      anchorSeconds: this.scope.anchorSeconds,
    };
    const key = JSON.stringify(selector);
    const known = this.selectorKeys.get(key);
    if (known !== undefined) return known;
    this.selectors.push(selector);
    this.selectorKeys.set(key, this.selectors.length - 1);
    return this.selectors.length - 1;
  }
}

function matchesEmpty(mm: { op: MatchOp; value: string }): boolean {
  switch (mm.op) {
    case "=":
      return mm.value === "";
    case "!=":
      return mm.value !== "";
    case "=~":
      return compileLabelRegex(mm.value, { dotAll: true }).matches("");
    case "!~":
      return !compileLabelRegex(mm.value, { dotAll: true }).matches("");
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
