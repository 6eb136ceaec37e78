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
export type RangeFunction =
  | "rate"
  | "increase"
  | "delta"
  | "deriv"
  | "max_over_time"
  | "min_over_time"
  | "avg_over_time";

/** The validated syntax tree `evaluate` walks. `selector` fields index `ParsedExpr.selectors`. */
export type Expr =
  | { kind: "number"; value: number }
  | { kind: "selector"; selector: number }
  | { kind: "range"; fn: RangeFunction; selector: number }
  | { kind: "absent"; arg: Expr; labels: Labels }
  /** `predict_linear(v[d], t)`: `seconds` is a scalar expression */
  | { kind: "predict_linear"; selector: number; seconds: Expr }
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
