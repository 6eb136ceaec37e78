/**
 * The `ruleFiles:` of brokerwatch.yaml: Prometheus rule files (globs, relative to the config
 * file) read at start, each rule reported on its own (docs/rule-files.md). A file that cannot be
 * read or parsed, and each rule refused, is logged with file:line:col and left out; the others
 * load. Rules reading metrics brokerwatch does not have load switched off.
 */
import { readFile } from "node:fs/promises";
import { dirname, relative } from "node:path";
import { glob } from "tinyglobby";
import { readRuleFile, type RuleFileRule, type RuleReport } from "@/lib/alerts/rule-file";
import { isMetricName } from "@/lib/metrics";

export interface RuleFilesResult {
  /** rules to load; `enabled: false` for one that reads metrics brokerwatch does not have */
  rules: (RuleFileRule & { enabled: boolean })[];
  /** one line per problem, `file:line:col: what` */
  problems: string[];
  /** the files read, absolute */
  files: string[];
}

export async function loadRuleFiles(patterns: readonly string[], configPath: string): Promise<RuleFilesResult> {
  const result: RuleFilesResult = { rules: [], problems: [], files: [] };
  if (patterns.length === 0) return result;
  const cwd = dirname(configPath);
  const texts: { file: string; text: string }[] = [];
  for (const pattern of patterns) {
    const files = (await glob(pattern, { cwd, absolute: true, onlyFiles: true })).sort();
    if (files.length === 0) result.problems.push(`${configPath}: ruleFiles: ${pattern} matches no file`);
    for (const file of files) {
      if (result.files.includes(file)) continue;
      result.files.push(file);
      try {
        texts.push({ file, text: await readFile(file, "utf8") });
      } catch (err) {
        result.problems.push(`${file}: cannot read the file: ${(err as Error).message}`);
      }
    }
  }
  // A file may read what another one records.
  const recorded = new Set<string>();
  for (const { text } of texts) {
    for (const r of readRuleFile(text, { isKnownMetric: () => true }).rules) {
      if (r.rule?.kind === "record") recorded.add(r.rule.name);
    }
  }
  for (const { file, text } of texts) {
    const shown = relative(process.cwd(), file) || file;
    const read = readRuleFile(text, { isKnownMetric: (name) => isMetricName(name) || recorded.has(name) });
    for (const e of read.fileErrors) {
      result.problems.push(`${shown}${e.position ? `:${e.position.line}:${e.position.column}` : ""}: ${e.message}`);
    }
    for (const report of read.rules) {
      if (report.status !== "imported") result.problems.push(reportLine(shown, report));
      if (report.rule) result.rules.push({ ...report.rule, enabled: report.status === "imported" });
    }
  }
  return result;
}

function reportLine(file: string, r: RuleReport): string {
  return `${file}:${r.position.line}:${r.position.column}: group ${r.group}: ${r.message}`;
}
