/**
 * The types shared by the PromQL parser (parse.ts) and evaluator (evaluate.ts), and the limits
 * that keep one user-written expression from stalling the process.
 */

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
  /**
   * The metric name, or "" when the selector names none (`{job="x"}`, `{__name__=~"a|b"}`):
   * then `__name__` matchers, if any, are in `matchers`.
   */
  metric: string;
  matchers: Matcher[];
  /** `null` for an instant selector, else the range of `metric[5m]` in seconds. */
  rangeSeconds: number | null;
  /** `offset 5m` in seconds (negative for `offset -5m`), 0 without one. */
  offsetSeconds: number;
  /** `@ 1700000000` in seconds, `@ start()` / `@ end()`, or null. */
  at: number | "start" | "end" | null;
  /**
   * How much earlier than the evaluation time an enclosing subquery may evaluate this selector
   * (the sum of the enclosing subqueries' ranges and offsets), in seconds; 0 outside subqueries.
   */
  reachSeconds: number;
  /** The `@` time (seconds) of the nearest enclosing subquery that has one, which then anchors the window. */
  anchorSeconds: number | null;
}
export interface Point {
  /** Unix time in milliseconds. */
  t: number;
  v: number;
  /**
   * A staleness marker (Prometheus writes one when a scrape target disappears): the series ends
   * here. Range functions ignore it; an instant selector that finds it as the newest point in its
   * lookback returns nothing for the series.
   */
  stale?: boolean;
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
/** Every type an expression can have; only scalars and instant vectors are results. */
export type ExprType = "scalar" | "vector" | "matrix" | "string";
export type ArithmeticOp = "+" | "-" | "*" | "/" | "%" | "^" | "atan2";
export type ComparisonOp = "==" | "!=" | ">" | "<" | ">=" | "<=";
export type SetOp = "and" | "or" | "unless";
export type BinaryOp = ArithmeticOp | ComparisonOp | SetOp;
export type AggregateOp =
  | "sum"
  | "min"
  | "max"
  | "avg"
  | "count"
  | "group"
  | "stddev"
  | "stdvar"
  | "topk"
  | "bottomk"
  | "quantile"
  | "count_values";

/** Vector matching of a binary operator between two instant vectors. */
export interface VectorMatching {
  /** `on(…)` (true) or `ignoring(…)`/none (false) */
  on: boolean;
  labels: string[];
  card: "one-to-one" | "many-to-one" | "one-to-many" | "many-to-many";
  /** the labels of `group_left(…)`/`group_right(…)` copied from the "one" side */
  include: string[];
}

/** The validated syntax tree `evaluate` walks. `selector` fields index `ParsedExpr.selectors`. */
export type Expr =
  | { kind: "number"; value: number }
  | { kind: "string"; value: string }
  /** instant vector selector; offset and @ are the selector's */
  | { kind: "selector"; selector: number }
  /** range vector selector `m[5m]` */
  | { kind: "matrix"; selector: number }
  | {
      kind: "subquery";
      expr: Expr;
      rangeMs: number;
      /** null: the default resolution (`[5m:]`) */
      stepMs: number | null;
      offsetMs: number;
      at: number | "start" | "end" | null;
    }
  | { kind: "call"; fn: string; args: Expr[]; type: ExprType }
  | { kind: "unary"; op: "+" | "-"; arg: Expr; type: ValueType }
  | {
      kind: "binary";
      op: BinaryOp;
      returnBool: boolean;
      /** `null` unless both sides are vectors. */
      matching: VectorMatching | null;
      lhs: Expr;
      rhs: Expr;
      type: ValueType;
    }
  | {
      kind: "aggregate";
      op: AggregateOp;
      without: boolean;
      grouping: string[];
      /** `topk(k, …)`, `quantile(φ, …)`, `count_values("label", …)` */
      param: Expr | null;
      arg: Expr;
    };

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

/**
 * The longest range a selector may ask for (`metric[366d]`). Prometheus has no such limit, but
 * here a range is a query window over the store: `[1e15]` would ask the database for dates that
 * do not exist. A year and a day covers any alerting use.
 */
export const MAX_RANGE_SECONDS = 366 * 86400;

/**
 * The most stored points (plus series) one evaluation may read, like Prometheus'
 * `--query.max-samples`: past it the evaluation fails with an error instead of holding the
 * process (collectors, UI, the other rules) while it works through them.
 */
export const DEFAULT_MAX_SAMPLES = 2_000_000;

/**
 * The longest expression accepted, in characters, checked before parsing: generous for a rule
 * (a regex matcher is itself capped at 1,024), and small enough that the grammar's worst case on
 * hostile text stays a fraction of a second.
 */
export const MAX_EXPR_LENGTH = 16_384;
/**
 * The deepest nesting accepted (parentheses, brackets and braces before parsing; syntax-tree
 * depth after): a rule needs a handful of levels, and the parser and evaluator recurse on it.
 */
export const MAX_EXPR_DEPTH = 128;
/** Subquery resolution when `[5m:]` names none: Prometheus' default evaluation interval. */
export const DEFAULT_SUBQUERY_STEP_MS = 60_000;
/** The longest one evaluation may run before it stops with an error (ms). */
export const DEFAULT_MAX_EVAL_MS = 10_000;
