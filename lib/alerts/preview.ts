/**
 * A rule before it is saved: the checks the rule API applies to one written in the UI (the same
 * ones loading applies, so a rule that saves also loads), and the editor's "evaluate now" preview,
 * which runs an expression against the stored samples exactly as the next round would.
 *
 * Why the preview says more than the result: the complaint that comes back in every alerting tool
 * is "why doesn't my alert fire?" (docs/alerting.md A2). An empty result alone doesn't say
 * whether the threshold isn't reached, a label matcher is wrong or the metric name has a typo, so
 * the preview also returns the current value of a comparison's left side and, per selector, how
 * many stored series it matches.
 */
import { z } from "zod";
import type { Database } from "@/db/client";
import type { AlertRuleRow } from "@/db/schema";
import { parseDuration } from "@/lib/config/schema";
import { ApiError } from "@/lib/http";
import type { RuleDefinition } from "./builtin";
import { EvaluationData } from "./data";
import { evaluate, parseExpr, PromqlError, type Expr, type Labels, type ParsedExpr, type Sample } from "./promql";
import { loadRules, type RuleSource } from "./rules";
import { encodeValue, type JsonNumber } from "./state";
import { validateTemplate } from "./template";

// ---------------------------------------------------------------------------------------------
// The rule API's input

/** Prometheus metric/label-name charset; the rule name becomes the `alertname` label. */
const PROMETHEUS_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const NAME_MESSAGE = 'must be letters, digits and "_", not starting with a digit (it becomes the alertname label)';

/** `"5m"`, `"1h30m"`, `"0"` as in brokerwatch.yaml, or a number of seconds. */
const durationSeconds = z.union([z.string(), z.number()]).transform((value, ctx) => {
  if (typeof value === "number") {
    if (Number.isFinite(value) && value >= 0) return value;
    ctx.addIssue({ code: "custom", message: "must be 0 seconds or more" });
    return z.NEVER;
  }
  try {
    return parseDuration(value.trim());
  } catch (err) {
    ctx.addIssue({ code: "custom", message: (err as Error).message });
    return z.NEVER;
  }
});

const labelMap = z.record(z.string().regex(PROMETHEUS_NAME, { error: NAME_MESSAGE }), z.string());

/**
 * A UI rule as `POST /api/rules` takes it: Prometheus' alerting-rule keys (`for`,
 * `keep_firing_for`), `name` for Prometheus' `alert`. `PATCH /api/rules/{id}` takes any subset.
 */
export const ruleInputShape = {
  name: z.string().trim().regex(PROMETHEUS_NAME, { error: NAME_MESSAGE }),
  expr: z.string().trim().min(1, { error: "is required" }),
  for: durationSeconds,
  keep_firing_for: durationSeconds,
  labels: labelMap,
  annotations: labelMap,
  enabled: z.boolean(),
};
export const ruleCreateSchema = z.strictObject({
  ...ruleInputShape,
  for: ruleInputShape.for.default(0),
  keep_firing_for: ruleInputShape.keep_firing_for.default(0),
  labels: labelMap.default({}),
  annotations: labelMap.default({}),
  enabled: z.boolean().default(true),
});
export const rulePatchSchema = z.strictObject(ruleInputShape).partial();
export type RuleCreateInput = z.output<typeof ruleCreateSchema>;
export type RulePatchInput = z.output<typeof rulePatchSchema>;

/**
 * A JSON body checked against `schema`; a 400 naming the first bad key otherwise (as
 * POST /api/silences answers). Shared by the rule routes; lib/api/params.ts would be its home.
 */
export async function parseJsonBody<S extends z.ZodType>(request: Request, schema: S): Promise<z.output<S>> {
  let body: unknown;
  try {
    body = await request.json();
  } catch {
    throw new ApiError("bad_request", "the body must be a JSON object", { parameter: "body" });
  }
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const parameter = issue.path.map(String).join(".");
  throw new ApiError("bad_request", parameter ? `${parameter}: ${issue.message}` : issue.message, {
    parameter: parameter || "body",
  });
}

/** Postgres' unique_violation (23505), from postgres.js or PGlite, possibly wrapped by drizzle. */
export function isUniqueViolation(err: unknown): boolean {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.code === "23505") return true;
  }
  return false;
}

/** The database row's fields for a rule input. */
export function ruleRowValues(input: RuleCreateInput) {
  return {
    name: input.name,
    expr: input.expr,
    forSeconds: input.for,
    keepFiringForSeconds: input.keep_firing_for,
    labels: input.labels,
    annotations: input.annotations,
    enabled: input.enabled,
  };
}

/** A stored UI rule with a patch applied, as a complete input to check again. */
export function patchedRule(row: AlertRuleRow, patch: RulePatchInput): RuleCreateInput {
  return {
    name: patch.name ?? row.name,
    expr: patch.expr ?? row.expr,
    for: patch.for ?? row.forSeconds,
    keep_firing_for: patch.keep_firing_for ?? row.keepFiringForSeconds,
    labels: patch.labels ?? row.labels,
    annotations: patch.annotations ?? row.annotations,
    enabled: patch.enabled ?? row.enabled,
  };
}

export interface RuleProblem {
  /** the input key at fault, `labels.severity` style */
  parameter: string;
  message: string;
  /** 0-based offset in `expr` for an expression error */
  position: number | null;
}

/**
 * What keeps a rule from loading, naming the key at fault; null when it would load. Checks the
 * expression and the templates here, for a precise `parameter`, then runs the loader itself so a
 * check added there later applies to the API too.
 */
export function ruleProblem(input: RuleCreateInput): RuleProblem | null {
  try {
    parseExpr(input.expr);
  } catch (err) {
    if (!(err instanceof PromqlError)) throw err;
    return { parameter: "expr", message: err.message, position: err.position };
  }
  for (const kind of ["labels", "annotations"] as const) {
    for (const [key, template] of Object.entries(input[kind])) {
      const error = validateTemplate(template);
      if (error) return { parameter: `${kind}.${key}`, message: `template error: ${error}`, position: null };
    }
  }
  const now = new Date();
  const row: AlertRuleRow = {
    id: 0,
    ...ruleRowValues(input),
    enabled: true,
    kind: "alert",
    groupName: null,
    intervalSeconds: null,
    limit: 0,
    createdAt: now,
    updatedAt: now,
  };
  const [error] = loadRules({ builtins: [], fileRules: [], dbRules: [row] }).errors;
  return error ? { parameter: "body", message: error.message, position: error.position } : null;
}

/**
 * The source that owns `name` when it is a built-in or a file rule: a UI rule may not take the
 * name, or the operator's file would silently stop applying (rules.ts refuses it at load too).
 */
export function reservedBy(
  rules: readonly { name: string; source: RuleSource }[],
  name: string,
): "builtin" | "file" | null {
  const owner = rules.find((r) => r.name === name && r.source !== "ui");
  return owner ? (owner.source as "builtin" | "file") : null;
}

// ---------------------------------------------------------------------------------------------
// "Evaluate now"

export interface PreviewSample {
  labels: Labels;
  value: JsonNumber;
}

export interface SelectorCoverage {
  /** the selector as written, e.g. `mqtt_connections_current{broker="bundled"}` */
  selector: string;
  metric: string;
  /** series of this metric stored in the selector's window */
  stored: number;
  /** of those, series the label matchers select */
  matched: number;
}

export type PreviewResult =
  | {
      kind: "result";
      evaluatedAt: Date;
      /** what the rule would alert on now: one alert per sample */
      samples: PreviewSample[];
      /**
       * For `a > b` style expressions (a filtering comparison), the current value of the side that is
       * a vector: what the threshold is compared with, also when the comparison is false.
       */
      compared: { side: "left" | "right"; op: string; samples: PreviewSample[] } | null;
      selectors: SelectorCoverage[];
    }
  /** an error that depends on the data, as Prometheus reports it (e.g. many-to-many matching) */
  | { kind: "error"; evaluatedAt: Date; message: string };

const COMPARISONS = new Set(["==", "!=", ">", "<", ">=", "<="]);

/**
 * Evaluates `parsed` at `nowMs` against the stored samples. A parse error is the caller's to
 * report (parseExpr throws PromqlError with the position).
 */
export async function previewExpr(database: Database, parsed: ParsedExpr, nowMs: number): Promise<PreviewResult> {
  const data = new EvaluationData(database, nowMs, [parsed]);
  const series = await data.forExpr(parsed);
  const evaluatedAt = new Date(nowMs);
  const result = evaluate(parsed, series, nowMs);
  if (result.kind === "error") return { kind: "error", evaluatedAt, message: result.message };

  // Sub-expressions reuse the parsed selectors: `selector` indexes stay valid.
  const run = (root: Expr): Sample[] => {
    const sub = evaluate({ ...parsed, root }, series, nowMs);
    if (sub.kind === "vector") return sub.samples;
    return sub.kind === "scalar" ? [{ labels: {}, value: sub.value }] : [];
  };
  const encode = (samples: Sample[]): PreviewSample[] =>
    samples.map((s) => ({ labels: withoutName(s.labels), value: encodeValue(s.value) }));

  let compared: Extract<PreviewResult, { kind: "result" }>["compared"] = null;
  const root = parsed.root;
  if (root.kind === "binary" && COMPARISONS.has(root.op) && !root.returnBool && root.type === "vector") {
    const side = root.lhs.kind === "number" ? "right" : "left";
    compared = { side, op: root.op, samples: encode(run(side === "left" ? root.lhs : root.rhs)) };
  }

  return {
    kind: "result",
    evaluatedAt,
    samples: encode(result.kind === "scalar" ? [{ labels: {}, value: result.value }] : result.samples),
    compared,
    selectors: parsed.selectors.map((selector, index) => ({
      selector: selectorText(selector),
      metric: selector.metric,
      stored: series[index].length,
      // A range selector (`m[1h]`) counts series with points anywhere in its range.
      matched: run(
        selector.rangeSeconds === null
          ? { kind: "selector", selector: index }
          : { kind: "call", fn: "max_over_time", args: [{ kind: "matrix", selector: index }], type: "vector" },
      ).length,
    })),
  };
}

function withoutName(labels: Labels): Labels {
  const { __name__: _name, ...rest } = labels;
  return rest;
}

function selectorText(selector: ParsedExpr["selectors"][number]): string {
  const matchers = selector.matchers.map((m) => `${m.name}${m.op}${JSON.stringify(m.value)}`);
  const range = selector.rangeSeconds === null ? "" : `[${selector.rangeSeconds}s]`;
  const offset = selector.offsetSeconds ? ` offset ${selector.offsetSeconds}s` : "";
  const at = selector.at === null ? "" : ` @ ${typeof selector.at === "number" ? selector.at : `${selector.at}()`}`;
  return `${selector.metric}${matchers.length || !selector.metric ? `{${matchers.join(", ")}}` : ""}${range}${offset}${at}`;
}
