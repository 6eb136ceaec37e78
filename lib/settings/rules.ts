/**
 * Alert rules made in the UI or the API. Built-in and brokerwatch.yaml rules belong to the
 * running engine and are changed in the file; a UI rule is checked by the same loader before it
 * is stored, and the engine evaluates at once after any change.
 */
import { z } from "zod";
import {
  createAlertRule,
  deleteAlertRule,
  importAlertRules,
  listAlertRules,
  updateAlertRule,
  type NewAlertRuleRow,
} from "@/db/alerts";
import type { AlertRuleRow } from "@/db/schema";
import packageJson from "@/package.json";
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
import {
  formatRuleFile,
  MAX_RULE_FILE_BYTES,
  readRuleFile,
  type RuleFileResult,
  type RuleReport,
} from "@/lib/alerts/rule-file";
import { isMetricName } from "@/lib/metrics";
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

// ---------------------------------------------------------------------------------------------
// Prometheus rule files (docs/rule-files.md)

/** POST /api/rules/import's body: the file's text as it is. */
export const ruleImportSchema = z.strictObject({
  file: z.string().max(MAX_RULE_FILE_BYTES, { error: `the file is larger than ${MAX_RULE_FILE_BYTES / 1024} KiB` }),
  /** check only: report what would be imported, store nothing */
  dryRun: z.boolean().default(false),
});

/** One rule of an import, as the API reports it (the file position is 1-based). */
export interface ImportedRuleReport extends Omit<RuleReport, "rule"> {
  /** the stored rule's id, when it was stored */
  id: number | null;
}

export interface RuleImportReport {
  dryRun: boolean;
  imported: number;
  refused: number;
  /** stored switched off: they read metrics brokerwatch does not have */
  unknownMetrics: number;
  /** problems with the file as a whole; nothing was imported then */
  fileErrors: RuleFileResult["fileErrors"];
  rules: ImportedRuleReport[];
}

/**
 * Imports a Prometheus rule file as UI rules: each rule on its own (one refused rule does not
 * refuse the others), a rule reading metrics brokerwatch neither collects nor records stored
 * switched off, a name any rule already has refused. The engine evaluates at once.
 */
export async function importRuleFile(input: z.output<typeof ruleImportSchema>): Promise<RuleImportReport> {
  const { database } = getRuntime();
  const engine = runningEngine();
  const existing = engine.ruleStates();
  const stored = await listAlertRules(database.db);
  const recorded = new Set([
    ...existing.filter((r) => r.kind === "record").map((r) => r.name),
    ...stored.filter((r) => r.kind === "record").map((r) => r.name),
  ]);
  const read = readRuleFile(input.file, { isKnownMetric: (name) => isMetricName(name) || recorded.has(name) });
  const taken = new Map<string, string>([
    ...existing.map(
      (r) => [r.name, SOURCE_WORDS[r.source as keyof typeof SOURCE_WORDS] ?? "a rule made in the UI"] as const,
    ),
    ...stored.map((r) => [r.name, "a rule made in the UI"] as const),
  ]);
  const reports: ImportedRuleReport[] = read.rules.map(({ rule: _rule, ...report }) => ({ ...report, id: null }));
  const toStore: { index: number; row: NewAlertRuleRow }[] = [];
  read.rules.forEach((report, index) => {
    if (!report.rule) return;
    const owner = taken.get(report.rule.name);
    if (owner) {
      Object.assign(reports[index], {
        status: "refused",
        message: `${report.rule.name}: ${owner} already has this name; rename the rule in the file`,
      });
      return;
    }
    const r = report.rule;
    toStore.push({
      index,
      row: {
        name: r.name,
        expr: r.expr,
        forSeconds: r.forSeconds,
        keepFiringForSeconds: r.keepFiringForSeconds,
        labels: r.labels,
        annotations: r.annotations,
        enabled: report.status === "imported",
        kind: r.kind,
        groupName: r.group,
        intervalSeconds: r.intervalSeconds,
        limit: r.limit,
      },
    });
  });
  if (!input.dryRun && read.fileErrors.length === 0) {
    const rows = await importAlertRules(
      database.db,
      toStore.map((s) => s.row),
    );
    const ids = new Map(rows.map((r) => [r.name, r.id]));
    for (const { index, row } of toStore) {
      const id = ids.get(row.name);
      if (id !== undefined) reports[index].id = id;
      else
        Object.assign(reports[index], {
          status: "refused",
          message: `${row.name}: another request stored a rule of this name meanwhile`,
        });
    }
    if (rows.length > 0) engine.evaluateNow("rules imported");
  }
  const count = (status: RuleReport["status"]) => reports.filter((r) => r.status === status).length;
  return {
    dryRun: input.dryRun,
    imported: count("imported"),
    refused: count("refused"),
    unknownMetrics: count("unknown_metrics"),
    fileErrors: read.fileErrors,
    rules: reports,
  };
}

/** The metrics recording rules write (docs/rule-files.md): charts may ask for them by name. */
export function recordedMetricNames(): Set<string> {
  const engine = getRuntime().alertEngine;
  return new Set((engine?.ruleStates() ?? []).filter((r) => r.kind === "record").map((r) => r.name));
}

/** Default groups of the rules that came from no rule file. */
const EXPORT_GROUPS = { builtin: "brokerwatch-builtin", file: "brokerwatch-config", ui: "brokerwatch-ui" } as const;

/**
 * Every rule the engine evaluates, as a Prometheus rule file `promtool check rules` accepts.
 * Rules switched off or refused at load are listed in the header comment only: Prometheus has no
 * "off", and a refused rule may not be valid PromQL.
 */
export function exportRuleFile(): string {
  const views = runningEngine().ruleStates();
  const evaluated = views.filter((r) => r.enabled && r.loadErrors.length === 0 && r.expr !== null);
  const left = views.filter((r) => !evaluated.includes(r));
  const header = [
    `Exported by brokerwatch ${packageJson.version} at ${new Date().toISOString()}: every rule it evaluates.`,
    "Check it with: promtool check rules <file>",
    ...(left.length ? [`Not exported (switched off or refused at load): ${left.map((r) => r.name).join(", ")}`] : []),
  ];
  return formatRuleFile(
    evaluated.map((r) => ({
      kind: r.kind,
      name: r.name,
      expr: r.expr!,
      forSeconds: r.forSeconds,
      keepFiringForSeconds: r.keepFiringForSeconds,
      labels: r.labels,
      annotations: r.annotations,
      group: r.group ?? EXPORT_GROUPS[r.source],
      intervalSeconds: r.intervalSeconds,
      limit: r.limit,
    })),
    header,
  );
}
