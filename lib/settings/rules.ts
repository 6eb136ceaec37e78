/**
 * Alert rules made in the UI or the API. Built-in and brokerwatch.yaml rules belong to the
 * running engine and are changed in the file; a UI rule is checked by the same loader before it
 * is stored, and the engine evaluates at once after any change.
 */
import { createAlertRule, deleteAlertRule, listAlertRules, updateAlertRule } from "@/db/alerts";
import type { AlertRuleRow } from "@/db/schema";
import {
  isUniqueViolation,
  patchedRule,
  previewExpr,
  reservedBy,
  ruleProblem,
  ruleRowValues,
  type PreviewResult,
  type RuleCreateInput,
  type RulePatchInput,
} from "@/lib/alerts/preview";
import { parseExpr, PromqlError, type ParsedExpr } from "@/lib/alerts/promql";
import { ApiError } from "@/lib/http";
import { getRuntime } from "@/lib/runtime";

const SOURCE_WORDS = { builtin: "a built-in rule", file: "a rule in brokerwatch.yaml" } as const;

function runningEngine() {
  const engine = getRuntime().alertEngine;
  if (!engine) throw new ApiError("unavailable", "the alert engine is not running");
  return engine;
}

/** Every rule with its state; only the running engine knows the rule set (file rules are read at start). */
export function ruleStates() {
  return runningEngine().ruleStates();
}

function checkRule(input: RuleCreateInput): void {
  const problem = ruleProblem(input);
  if (problem) throw new ApiError("bad_request", problem.message, { ...problem });
}

function alreadyExists(name: string): ApiError {
  return new ApiError("conflict", `a rule named ${name} already exists`, { parameter: "name" });
}

export async function createRule(input: RuleCreateInput): Promise<AlertRuleRow> {
  checkRule(input);
  const { database } = getRuntime();
  const engine = runningEngine();
  const owner = reservedBy(engine.ruleStates(), input.name);
  if (owner) {
    throw new ApiError("conflict", `${input.name} is ${SOURCE_WORDS[owner]}; give the new rule another name`, {
      parameter: "name",
    });
  }
  if ((await listAlertRules(database.db)).some((r) => r.name === input.name)) throw alreadyExists(input.name);
  const rule = await createAlertRule(database.db, ruleRowValues(input)).catch((err) => {
    // Two requests creating the same name at once: the unique index decides.
    if (isUniqueViolation(err)) throw alreadyExists(input.name);
    throw err;
  });
  engine.evaluateNow("rule changed");
  return rule;
}

function noUiRule(idText: string): ApiError {
  return new ApiError("not_found", `no rule created in the UI has id "${idText}"`, { parameter: "id" });
}

/**
 * The UI rule `{id}`. Built-in and file rules have no id: they are changed in brokerwatch.yaml, so
 * naming one here is a 409 that says so rather than a bare 404.
 */
async function findUiRule(idText: string): Promise<AlertRuleRow> {
  const { database, alertEngine } = getRuntime();
  const id = /^\d{1,15}$/.test(idText) ? Number(idText) : null;
  const rule = id === null ? undefined : (await listAlertRules(database.db)).find((r) => r.id === id);
  if (rule) return rule;
  const owner = alertEngine ? reservedBy(alertEngine.ruleStates(), idText) : null;
  if (owner) {
    throw new ApiError(
      "conflict",
      `${idText} is ${owner === "builtin" ? "a built-in rule" : "defined in brokerwatch.yaml"} and read-only here; ` +
        "change or disable it in brokerwatch.yaml",
    );
  }
  throw noUiRule(idText);
}

/** Apply a patch to a UI rule; the result is checked as a whole, as a new rule is. */
export async function changeRule(idText: string, patch: RulePatchInput): Promise<AlertRuleRow> {
  const rule = await findUiRule(idText);
  const next = patchedRule(rule, patch);
  checkRule(next);
  const { database, alertEngine } = getRuntime();
  if (next.name !== rule.name) {
    const owner = alertEngine ? reservedBy(alertEngine.ruleStates(), next.name) : null;
    if (owner) {
      throw new ApiError("conflict", `${next.name} is ${SOURCE_WORDS[owner]}; give this rule another name`, {
        parameter: "name",
      });
    }
  }
  const updated = await updateAlertRule(database.db, rule.id, ruleRowValues(next)).catch((err) => {
    if (isUniqueViolation(err)) throw alreadyExists(next.name);
    throw err;
  });
  if (!updated) throw noUiRule(idText);
  alertEngine?.evaluateNow("rule changed");
  return updated;
}

/** Delete a UI rule; its firing alerts resolve at the next round. */
export async function removeRule(idText: string): Promise<{ id: number; name: string; deleted: true }> {
  const rule = await findUiRule(idText);
  const { database, alertEngine } = getRuntime();
  if (!(await deleteAlertRule(database.db, rule.id))) throw noUiRule(idText);
  alertEngine?.evaluateNow("rule changed");
  return { id: rule.id, name: rule.name, deleted: true };
}

/** `expr` evaluated now against the stored samples; an expression that does not parse is a 400. */
export async function previewRule(expr: string): Promise<PreviewResult> {
  let parsed: ParsedExpr;
  try {
    parsed = parseExpr(expr);
  } catch (err) {
    if (!(err instanceof PromqlError)) throw err;
    throw new ApiError("bad_request", err.message, { parameter: "expr", position: err.position });
  }
  return previewExpr(getRuntime().database, parsed, Date.now());
}
