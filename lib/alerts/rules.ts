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
import { BUILTIN_RULES, DEFAULT_SEVERITY, type RuleDefinition } from "./builtin";
import { parseExpr, PromqlError, type ParsedExpr } from "./promql";
import type { AlertRule } from "./state";
import { validateTemplate } from "./template";

export type RuleSource = "builtin" | "file" | "ui";

export interface LoadedRule extends RuleDefinition, AlertRule {
  source: RuleSource;
  parsed: ParsedExpr;
}

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
  /** Rules to evaluate. A rule with a template error is here too (it renders the error into the text). */
  rules: LoadedRule[];
  errors: RuleLoadError[];
  disabled: DisabledRule[];
}

/** Prometheus metric/label-name charset; the rule name becomes the `alertname` label. */
const PROMETHEUS_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

const SOURCE_NAMES: Record<RuleSource, string> = {
  builtin: "a built-in rule",
  file: "a rule in the config file",
  ui: "another rule created in the UI",
};

export function loadRules(input: {
  builtins: readonly RuleDefinition[];
  fileRules: readonly RuleConfig[];
  dbRules: readonly AlertRuleRow[];
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
    for (const [kind, templates] of [
      ["labels", definition.labels],
      ["annotations", definition.annotations],
    ] as const) {
      for (const [key, template] of Object.entries(templates)) {
        const templateError = validateTemplate(template);
        if (templateError) fail(`${kind}.${key}: ${templateError}`);
      }
    }
    rules.push({
      ...definition,
      labels: { severity: DEFAULT_SEVERITY, ...definition.labels },
      source,
      parsed,
    });
  }
  return { rules, errors, disabled };
}

/** Checks the file's schema already makes; UI rules reach here from a database row. */
function definitionProblem(d: RuleDefinition): string | null {
  if (!PROMETHEUS_NAME.test(d.name)) return `the name must be letters, digits and "_", not starting with a digit`;
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
export function ruleProvider(db: Db, fileRules: readonly RuleConfig[]): () => Promise<LoadedRules> {
  let cached: { key: string; loaded: LoadedRules } | null = null;
  return async () => {
    const dbRules = await listAlertRules(db);
    const key = JSON.stringify(dbRules);
    if (cached?.key !== key) cached = { key, loaded: loadRules({ builtins: BUILTIN_RULES, fileRules, dbRules }) };
    return cached.loaded;
  };
}
