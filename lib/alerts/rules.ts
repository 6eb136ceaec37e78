/**
 * The rule set the engine evaluates: the built-in rules, overridden or switched off by
 * brokerwatch.yaml, plus the rules created in the UI (docs/contract.md §2). Every rule is checked
 * here, once per change rather than once per round: a bad expression is reported with the rule's
 * name and the position in the expression, and only that rule is left out.
 */
import type { Db } from "@/db/client";
import { listAlertRules } from "@/db/alerts";
import type { AlertRuleRow } from "@/db/schema";
import type { RuleConfig } from "@/lib/config/schema";
import { isMetricName } from "@/lib/metrics";
import { BUILTIN_RULES, DEFAULT_SEVERITY, type RuleDefinition } from "./builtin";
import type { RuleFileRule } from "./rule-file";
import { parseExpr, PromqlError, type ParsedExpr } from "./promql";
import type { AlertRule } from "./state";
import { validateTemplate } from "./template";

export type RuleSource = "builtin" | "file" | "ui";

/** `kind` is set on every loaded rule; optional in the type only so a test may build a rule without it. */
export interface LoadedRule extends RuleDefinition, AlertRule {
  source: RuleSource;
  parsed: ParsedExpr;
}

/** A stored rule; the rule-file columns (migration 0018) may be left out for a rule made in the UI. */
export type StoredRule = Omit<AlertRuleRow, "kind" | "groupName" | "intervalSeconds" | "limit"> &
  Partial<Pick<AlertRuleRow, "kind" | "groupName" | "intervalSeconds" | "limit">>;

export interface RuleLoadError {
  rule: string;
  source: RuleSource;
  /** Names the rule and, for an expression, the position in it. */
  message: string;
  /** 0-based offset in `definition.expr` for an expression error, else null. */
  position: number | null;
  /** The rule as written, so GET /api/rules can show a rule that could not be loaded. */
  definition: RuleDefinition;
}

/** A rule switched off: a built-in by `enabled: false` in the file, or a file or UI rule marked so. */
export interface DisabledRule {
  source: RuleSource;
  definition: Omit<RuleDefinition, "expr"> & { expr: string | null };
}

export interface LoadedRules {
  /**
   * Rules to evaluate, recording rules first, each after the recording rules it reads (so a round
   * evaluates them in this order). A rule with a template error is here too (it renders the error
   * into the text).
   */
  rules: LoadedRule[];
  errors: RuleLoadError[];
  disabled: DisabledRule[];
}

/** Prometheus metric/label-name charset; the rule name becomes the `alertname` label. */
const PROMETHEUS_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** A recording rule's name is the metric it writes: Prometheus' metric-name charset, colons included. */
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

const SOURCE_NAMES: Record<RuleSource, string> = {
  builtin: "a built-in rule",
  file: "a rule in the config file",
  ui: "another rule created in the UI",
};

export function loadRules(input: {
  builtins: readonly RuleDefinition[];
  fileRules: readonly RuleConfig[];
  dbRules: readonly StoredRule[];
  /** rules of the `ruleFiles:` of brokerwatch.yaml (file rules, after its `rules:`) */
  ruleFileRules?: readonly (RuleFileRule & { enabled?: boolean })[];
}): LoadedRules {
  const defined = new Map<string, { source: RuleSource; definition: RuleDefinition }>();
  const disabled: DisabledRule[] = [];
  const errors: RuleLoadError[] = [];
  for (const definition of input.builtins) defined.set(definition.name, { source: "builtin", definition });

  // The file wins over a built-in of the same name (docs/contract.md §2).
  for (const rule of input.fileRules) {
    const { enabled: _enabled, expr, ...common } = rule;
    if (!rule.enabled) {
      const builtin = defined.get(rule.name);
      defined.delete(rule.name);
      disabled.push(
        builtin?.source === "builtin" ? { ...builtin } : { source: "file", definition: { ...common, expr } },
      );
      continue;
    }
    defined.set(rule.name, { source: "file", definition: { ...common, expr: rule.expr } });
  }

  // A rule file's rule is a file rule too; `rules:` of brokerwatch.yaml wins over it, so an
  // operator can override one rule of a shared file without editing the file.
  for (const rule of input.ruleFileRules ?? []) {
    const { kind, name, group, enabled = true, ...rest } = rule;
    const definition: RuleDefinition = { kind, name, group, ...rest };
    const owner = defined.get(name) ?? disabledByName(disabled, name);
    if (owner && owner.source === "file") {
      errors.push({
        rule: name,
        source: "file",
        message: `${name}: brokerwatch.yaml or another rule file already defines this name; this one (group ${group}) is not loaded`,
        position: null,
        definition,
      });
      continue;
    }
    if (enabled) defined.set(name, { source: "file", definition });
    else disabled.push({ source: "file", definition });
  }

  // A UI rule adds to them; it may not take over a name the file or a built-in already defines,
  // or the operator's file would silently stop applying.
  const taken = new Map<string, RuleSource>([
    ...[...defined].map(([name, d]) => [name, d.source] as const),
    ...disabled.map((d) => [d.definition.name, d.source] as const),
  ]);
  for (const row of input.dbRules) {
    const definition: RuleDefinition = {
      name: row.name,
      expr: row.expr,
      forSeconds: row.forSeconds,
      keepFiringForSeconds: row.keepFiringForSeconds,
      labels: row.labels,
      annotations: row.annotations,
      kind: row.kind ?? "alert",
      group: row.groupName ?? null,
      intervalSeconds: row.intervalSeconds ?? null,
      limit: row.limit ?? 0,
    };
    const owner = taken.get(row.name);
    if (owner) {
      errors.push({
        rule: row.name,
        source: "ui",
        message: `${row.name}: ${SOURCE_NAMES[owner]} already has this name; give the UI rule another name`,
        position: null,
        definition,
      });
      continue;
    }
    taken.set(row.name, "ui");
    if (!row.enabled) disabled.push({ source: "ui", definition });
    else defined.set(row.name, { source: "ui", definition });
  }

  const rules: LoadedRule[] = [];
  for (const { source, definition } of defined.values()) {
    const fail = (message: string, position: number | null = null) =>
      errors.push({ rule: definition.name, source, message: `${definition.name}: ${message}`, position, definition });
    const problem = definitionProblem(definition);
    if (problem) {
      fail(problem);
      continue;
    }
    let parsed: ParsedExpr;
    try {
      parsed = parseExpr(definition.expr);
    } catch (err) {
      if (!(err instanceof PromqlError)) throw err;
      fail(`expr: ${err.message}`, err.position);
      continue;
    }
    const kind = definition.kind ?? "alert";
    for (const [what, templates] of (kind === "alert"
      ? [
          ["labels", definition.labels],
          ["annotations", definition.annotations],
        ]
      : []) as [string, Record<string, string>][]) {
      for (const [key, template] of Object.entries(templates)) {
        const templateError = validateTemplate(template);
        if (templateError) fail(`${what}.${key}: ${templateError}`);
      }
    }
    rules.push({
      ...definition,
      // A recording rule's labels go on the series it writes: nothing is added to them.
      labels: kind === "alert" ? { severity: DEFAULT_SEVERITY, ...definition.labels } : definition.labels,
      kind,
      source,
      parsed,
    });
  }
  return { rules: inEvaluationOrder(rules, fail2(errors)), errors, disabled };
}

function disabledByName(disabled: readonly DisabledRule[], name: string) {
  return disabled.find((d) => d.definition.name === name);
}

function fail2(errors: RuleLoadError[]) {
  return (rule: LoadedRule, message: string) =>
    errors.push({
      rule: rule.name,
      source: rule.source,
      message: `${rule.name}: ${message}`,
      position: null,
      definition: rule,
    });
}

/**
 * Recording rules first, each after the recording rules whose metric it reads, then the alerting
 * rules; otherwise in the order given. Recording rules that read each other in a cycle are refused
 * (Prometheus would evaluate them in file order, each reading the other's previous value; here
 * the order follows the data, so a cycle has no order).
 */
function inEvaluationOrder(rules: LoadedRule[], refuse: (rule: LoadedRule, message: string) => void): LoadedRule[] {
  const recording = new Map(rules.filter((r) => r.kind === "record").map((r) => [r.name, r]));
  const ordered: LoadedRule[] = [];
  const state = new Map<string, "visiting" | "done" | "cycle">();
  const visit = (rule: LoadedRule, path: string[]): boolean => {
    const s = state.get(rule.name);
    if (s === "done") return true;
    if (s === "cycle") return false;
    if (s === "visiting") {
      const cycle = [...path.slice(path.indexOf(rule.name)), rule.name];
      for (const name of cycle) state.set(name, "cycle");
      return false;
    }
    state.set(rule.name, "visiting");
    let ok = true;
    for (const { metric } of rule.parsed.selectors) {
      const dep = recording.get(metric);
      if (dep && !visit(dep, [...path, rule.name])) ok = false;
    }
    if (!ok || state.get(rule.name) === "cycle") {
      state.set(rule.name, "cycle");
      return false;
    }
    state.set(rule.name, "done");
    ordered.push(rule);
    return true;
  };
  for (const rule of recording.values()) visit(rule, []);
  for (const rule of recording.values()) {
    if (state.get(rule.name) === "cycle") {
      refuse(
        rule,
        "recording rules that read each other in a cycle (or read one that does) cannot be ordered; not evaluated",
      );
    }
  }
  return [...ordered, ...rules.filter((r) => r.kind !== "record")];
}

/** Checks the file's schema already makes; UI rules reach here from a database row. */
function definitionProblem(d: RuleDefinition): string | null {
  if (d.kind === "record") {
    if (!METRIC_NAME.test(d.name))
      return `record: the name is the metric it writes: letters, digits, "_" and ":", not starting with a digit`;
    // Recorded samples are stored with the collected ones: writing into a collected metric would mix them.
    if (isMetricName(d.name)) return `record: ${d.name} is a metric brokerwatch collects; record into a new name`;
    if (d.forSeconds > 0 || d.keepFiringForSeconds > 0 || Object.keys(d.annotations).length > 0)
      return "for, keep_firing_for and annotations belong to alerting rules, not recording rules";
    if ("__name__" in d.labels) return "labels.__name__ may not be set";
  } else if (!PROMETHEUS_NAME.test(d.name))
    return `the name must be letters, digits and "_", not starting with a digit`;
  for (const [what, seconds] of [
    ["for", d.forSeconds],
    ["keep_firing_for", d.keepFiringForSeconds],
  ] as const) {
    if (!(seconds >= 0) || !Number.isFinite(seconds)) return `${what} must be a duration of 0s or more`;
  }
  for (const name of [...Object.keys(d.labels), ...Object.keys(d.annotations)]) {
    if (!PROMETHEUS_NAME.test(name))
      return `label and annotation names must be letters, digits and "_" (got "${name}")`;
  }
  return null;
}

/**
 * The engine's rule source: built-ins, the file's rules (fixed for the life of the process) and
 * the UI rules, read each round so an edit applies at the next evaluation. Parsing is redone
 * only when the UI rules changed.
 */
export function ruleProvider(
  db: Db,
  fileRules: readonly RuleConfig[],
  ruleFileRules: readonly (RuleFileRule & { enabled?: boolean })[] = [],
): () => Promise<LoadedRules> {
  let cached: { key: string; loaded: LoadedRules } | null = null;
  return async () => {
    const dbRules = await listAlertRules(db);
    const key = JSON.stringify(dbRules);
    if (cached?.key !== key) {
      cached = { key, loaded: loadRules({ builtins: BUILTIN_RULES, fileRules, dbRules, ruleFileRules }) };
    }
    return cached.loaded;
  };
}
