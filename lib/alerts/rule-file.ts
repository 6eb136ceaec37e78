/**
 * Prometheus rule files (the `groups:` format `promtool check rules` reads), both ways: read one
 * into rules brokerwatch can evaluate, with a report per rule, and write brokerwatch's rules back
 * out in that format. Pure: the caller reads the file, stores what was imported and decides which
 * metric names exist (docs/rule-files.md).
 *
 * Read as Prometheus reads them (rules/rulefmt): a rule has `alert` or `record` (not both), an
 * `expr`; alerting rules may have `for`, `keep_firing_for`, `labels` and `annotations`; recording
 * rules only `labels`. A group has `name`, `rules` and optionally `interval` and `limit`. Unlike
 * `promtool`, one bad rule does not refuse the whole file: each rule is reported on its own.
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, stringify, type Node as YamlNode, Scalar } from "yaml";
import { z } from "zod";
import { formatDuration } from "@/lib/duration";
import { parseDuration } from "@/lib/config/schema";
import { parseExpr, PromqlError, type Labels, type ParsedExpr } from "./promql";
import { validateTemplate } from "./template";

/**
 * A rule file larger than this is refused whole: it fits the API's JSON body cap (256 KiB,
 * lib/api/route.ts) once quoted; a real file is a few kB.
 */
export const MAX_RULE_FILE_BYTES = 192 * 1024;
/** More rules than this in one file are refused whole: every rule is evaluated every round. */
export const MAX_RULES_PER_FILE = 1000;
/** Prometheus' default `global.evaluation_interval`: how often a group without `interval` records. */
export const DEFAULT_GROUP_INTERVAL_SECONDS = 60;

export type RuleKind = "alert" | "record";

/** One rule of a file, ready to store or evaluate. */
export interface RuleFileRule {
  kind: RuleKind;
  /** `alert:` (the alertname) or `record:` (the metric name it writes) */
  name: string;
  expr: string;
  forSeconds: number;
  keepFiringForSeconds: number;
  labels: Labels;
  annotations: Labels;
  group: string;
  /** the group's `interval`, or null for the default */
  intervalSeconds: number | null;
  /** the group's `limit`: the most alerts or series one evaluation may produce; 0 is no limit */
  limit: number;
}

/** Where in the file: 1-based line and column. */
export interface FilePosition {
  line: number;
  column: number;
}

export type RuleReportStatus = "imported" | "refused" | "unknown_metrics";

/** What happened to one rule of the file. */
export interface RuleReport {
  group: string;
  /** 0-based index in the group's `rules` */
  index: number;
  kind: RuleKind | null;
  name: string | null;
  status: RuleReportStatus;
  /** the rule's start; for a refused rule, the position of the error where it is known */
  position: FilePosition;
  /** why it was refused, or which metrics are unknown */
  message: string | null;
  /** 0-based offset in `expr` of an expression error */
  exprPosition: number | null;
  /** metric names the expression reads that brokerwatch neither collects nor records */
  unknownMetrics: string[];
  /** the rule, unless it was refused */
  rule: RuleFileRule | null;
}

export interface RuleFileResult {
  /** problems with the file as a whole (YAML syntax, no `groups:`, too large); no rule is read then */
  fileErrors: { position: FilePosition | null; message: string }[];
  rules: RuleReport[];
}

export interface ReadRuleFileOptions {
  /** metric names rules can read besides the file's own `record:` names */
  isKnownMetric: (name: string) => boolean;
}

/** Prometheus' metric-name charset (recording rule names may hold colons, by convention `level:metric:operations`). */
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
/** brokerwatch's rule-name charset: an alert name becomes the `alertname` label value and a rule id in URLs. */
const ALERT_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A YAML scalar as Go's yaml decoder reads it into a string: `5`, `true` become "5", "true". */
const scalarText = z.union([z.string(), z.number(), z.boolean()]).transform(String);
const duration = scalarText.transform((text, ctx) => {
  try {
    return parseDuration(text.trim());
  } catch (err) {
    ctx.addIssue({ code: "custom", message: (err as Error).message });
    return z.NEVER;
  }
});
const labelMap = z.record(
  z.string().regex(LABEL_NAME, { error: 'must be letters, digits and "_", not starting with a digit' }),
  scalarText,
);

const ruleSchema = z.strictObject({
  alert: z.string().optional(),
  record: z.string().optional(),
  expr: z
    .union([z.string(), z.number()], {
      error: (i) => (i.input === undefined ? "is required" : "must be a PromQL expression"),
    })
    .transform(String),
  for: duration.optional(),
  keep_firing_for: duration.optional(),
  labels: labelMap.nullish(),
  annotations: labelMap.nullish(),
});

const groupSchema = z.strictObject({
  name: z.string().min(1, { error: "is required" }),
  interval: duration.optional(),
  limit: z.number().int().min(0).optional(),
  rules: z.array(z.unknown()).nullish(),
});

/** Reads the text of a rule file. Never throws: every problem is in the result. */
export function readRuleFile(text: string, options: ReadRuleFileOptions): RuleFileResult {
  const result: RuleFileResult = { fileErrors: [], rules: [] };
  if (Buffer.byteLength(text, "utf8") > MAX_RULE_FILE_BYTES) {
    result.fileErrors.push({ position: null, message: `the file is larger than ${MAX_RULE_FILE_BYTES / 1024} KiB` });
    return result;
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number): FilePosition => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  const nodeAt = (node: unknown): FilePosition =>
    node && typeof node === "object" && "range" in node && Array.isArray(node.range)
      ? at(node.range[0])
      : { line: 1, column: 1 };
  if (doc.errors.length > 0) {
    for (const error of doc.errors)
      result.fileErrors.push({ position: at(error.pos[0]), message: error.message.split("\n")[0] });
    return result;
  }
  const root = doc.contents;
  const groupsNode = isMap(root) ? root.get("groups", true) : undefined;
  if (!isMap(root) || !isSeq(groupsNode)) {
    result.fileErrors.push({
      position: nodeAt(root),
      message: "a rule file is a mapping with a groups: list (the format promtool check rules reads)",
    });
    return result;
  }
  const extraKeys = root.items.map((p) => String(isScalar(p.key) ? p.key.value : p.key)).filter((k) => k !== "groups");
  if (extraKeys.length > 0) {
    result.fileErrors.push({
      position: nodeAt(root),
      message: `unknown top-level key ${extraKeys[0]}: only groups: is read`,
    });
    return result;
  }
  const ruleCount = groupsNode.items.reduce<number>((n, g) => {
    const rules = isMap(g) ? g.get("rules", true) : null;
    return n + (isSeq(rules) ? rules.items.length : 0);
  }, 0);
  if (ruleCount > MAX_RULES_PER_FILE) {
    result.fileErrors.push({
      position: null,
      message: `the file has ${ruleCount} rules; at most ${MAX_RULES_PER_FILE} are read`,
    });
    return result;
  }

  const lines = text.split("\n");
  const groupNames = new Map<string, number>();
  // First pass: every rule's shape and expression; the metrics check needs all `record:` names.
  const pending: { report: RuleReport; parsed: ParsedExpr | null }[] = [];
  groupsNode.items.forEach((groupNode, groupIndex) => {
    const groupValue =
      groupNode && typeof groupNode === "object" && "toJSON" in groupNode
        ? (groupNode as YamlNode).toJSON()
        : groupNode;
    const group = groupSchema.safeParse(groupValue);
    const groupName = group.success ? group.data.name : `groups[${groupIndex}]`;
    const refuseGroup = (message: string, node: unknown) => {
      pending.push({
        report: {
          group: groupName,
          index: -1,
          kind: null,
          name: null,
          status: "refused",
          position: nodeAt(node),
          message,
          exprPosition: null,
          unknownMetrics: [],
          rule: null,
        },
        parsed: null,
      });
    };
    if (!group.success) {
      const issue = group.error.issues[0];
      const key = issue.path[0];
      const node = isMap(groupNode) && key !== undefined ? (groupNode.get(key, true) ?? groupNode) : groupNode;
      refuseGroup(`group ${groupName}: ${issue.path.length ? `${issue.path.join(".")}: ` : ""}${issue.message}`, node);
      return;
    }
    if (groupNames.has(groupName)) {
      refuseGroup(`group name ${groupName} is used twice in this file (promtool refuses that too)`, groupNode);
      return;
    }
    groupNames.set(groupName, groupIndex);
    const rulesNode = isMap(groupNode) ? groupNode.get("rules", true) : null;
    (isSeq(rulesNode) ? rulesNode.items : []).forEach((ruleNode, index) => {
      pending.push(readRule(ruleNode as YamlNode, index, group.data, nodeAt, at, lines));
    });
  });

  // Duplicate names: brokerwatch keys a rule's alerts and recorded series by its name.
  const seen = new Map<string, RuleReport>();
  const recorded = new Set<string>();
  for (const { report } of pending) {
    if (report.status === "refused" || !report.name) continue;
    const first = seen.get(report.name);
    if (first) {
      Object.assign(report, {
        status: "refused",
        rule: null,
        message:
          `${report.name}: another rule of this file (group ${first.group}, line ${first.position.line}) has this name; ` +
          "brokerwatch names each rule once: rename one (e.g. add _critical) or merge their expressions with or",
      });
      continue;
    }
    seen.set(report.name, report);
    if (report.kind === "record") recorded.add(report.name);
  }
  for (const { report, parsed } of pending) {
    if (report.status !== "refused" && parsed) {
      const unknown = [...new Set(parsed.selectors.map((s) => s.metric))].filter(
        (metric) => !recorded.has(metric) && !options.isKnownMetric(metric),
      );
      if (unknown.length > 0) {
        report.status = "unknown_metrics";
        report.unknownMetrics = unknown;
        report.message =
          `${report.name}: reads ${unknown.join(", ")}, which brokerwatch neither collects nor records ` +
          "(docs/contract.md §3 lists its metrics); kept switched off until the expression is changed";
      }
    }
    result.rules.push(report);
  }
  return result;
}

function readRule(
  node: YamlNode,
  index: number,
  group: z.output<typeof groupSchema>,
  nodeAt: (node: unknown) => FilePosition,
  at: (offset: number) => FilePosition,
  lines: readonly string[],
): { report: RuleReport; parsed: ParsedExpr | null } {
  const report: RuleReport = {
    group: group.name,
    index,
    kind: null,
    name: null,
    status: "refused",
    position: nodeAt(node),
    message: null,
    exprPosition: null,
    unknownMetrics: [],
    rule: null,
  };
  const refuse = (message: string, where: unknown = node, exprPosition: number | null = null) => {
    report.message = report.name ? `${report.name}: ${message}` : message;
    report.position = nodeAt(where);
    report.exprPosition = exprPosition;
    return { report, parsed: null };
  };
  const keyNode = (key: string) => (isMap(node) ? (node.get(key, true) ?? node) : node);
  const value = node && typeof node === "object" && "toJSON" in node ? node.toJSON() : node;
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const v = value as Record<string, unknown>;
    if (typeof v.alert === "string") report.name = v.alert;
    if (typeof v.record === "string") report.name = v.record;
  }
  const parsedRule = ruleSchema.safeParse(value);
  if (!parsedRule.success) {
    // An unknown key first: `exprr:` is a typo of `expr:`, more useful than "expr is missing".
    const issues = parsedRule.error.issues;
    const issue = issues.find((i) => i.code === "unrecognized_keys") ?? issues[0];
    const key = issue.path[0];
    const where = typeof key === "string" ? keyNode(key) : node;
    if (issue.code === "unrecognized_keys") {
      const unknown = issue.keys[0];
      return refuse(
        `unknown key ${unknown} (a rule has alert or record, expr, for, keep_firing_for, labels, annotations)`,
        isMap(node) ? (node.get(unknown, true) ?? node) : node,
      );
    }
    return refuse(`${issue.path.length ? `${issue.path.join(".")}: ` : ""}${issue.message}`, where);
  }
  const r = parsedRule.data;
  if ((r.alert === undefined) === (r.record === undefined)) {
    return refuse("a rule has either alert: or record:, not both and not neither");
  }
  const kind: RuleKind = r.record !== undefined ? "record" : "alert";
  report.kind = kind;
  const name = (r.record ?? r.alert)!;
  if (kind === "record" && !METRIC_NAME.test(name)) {
    return refuse(`record: "${name}" is not a metric name (letters, digits, "_" and ":")`, keyNode("record"));
  }
  if (kind === "alert" && !ALERT_NAME.test(name)) {
    return refuse(
      `alert: "${name}": brokerwatch rule names are letters, digits and "_", not starting with a digit`,
      keyNode("alert"),
    );
  }
  if (kind === "record") {
    for (const key of ["for", "keep_firing_for", "annotations"] as const) {
      if (r[key] !== undefined && r[key] !== null)
        return refuse(`${key}: belongs to alerting rules, not recording rules`, keyNode(key));
    }
  }
  const labels = r.labels ?? {};
  const annotations = r.annotations ?? {};
  if (kind === "record" && "__name__" in labels) return refuse("labels.__name__ may not be set", keyNode("labels"));
  let parsed: ParsedExpr;
  try {
    parsed = parseExpr(r.expr);
  } catch (err) {
    if (!(err instanceof PromqlError)) throw err;
    const exprNode = keyNode("expr");
    const where = err.position === null ? exprNode : positionInScalar(exprNode, err.position, at, lines);
    const result = refuse(`expr: ${err.message}`, exprNode, err.position);
    if (where) report.position = where as FilePosition;
    return result;
  }
  if (kind === "alert") {
    for (const [what, map] of [
      ["labels", labels],
      ["annotations", annotations],
    ] as const) {
      for (const [key, template] of Object.entries(map)) {
        const error = validateTemplate(template);
        if (error) return refuse(`${what}.${key}: template error: ${error}`, keyNode(what));
      }
    }
  }
  report.status = "imported";
  report.rule = {
    kind,
    name,
    expr: r.expr,
    forSeconds: r.for ?? 0,
    keepFiringForSeconds: r.keep_firing_for ?? 0,
    labels,
    annotations,
    group: group.name,
    intervalSeconds: group.interval ?? null,
    limit: group.limit ?? 0,
  };
  return { report, parsed };
}

/**
 * The file position of offset `position` inside a scalar's value, for an expression error: exact
 * for a plain or quoted value on one line and for a `|` block; else the value's start.
 */
function positionInScalar(
  node: unknown,
  position: number,
  at: (offset: number) => FilePosition,
  lines: readonly string[],
): FilePosition | YamlNode {
  if (!isScalar(node) || !node.range) return node as YamlNode;
  const start = node.range[0];
  const text = String(node.value);
  if (
    (node.type === Scalar.PLAIN || node.type === Scalar.QUOTE_SINGLE || node.type === Scalar.QUOTE_DOUBLE) &&
    !text.includes("\n")
  ) {
    if (node.type === Scalar.PLAIN || !/[\\']/.test(text))
      return at(start + (node.type === Scalar.PLAIN ? 0 : 1) + position);
  }
  if (node.type === Scalar.BLOCK_LITERAL) {
    // The content starts on the line after the `|` header, each line indented the same.
    const before = text.slice(0, position);
    const lineInValue = before.split("\n").length - 1;
    const columnInLine = position - (before.lastIndexOf("\n") + 1);
    const line = at(start).line + 1 + lineInValue;
    const indent = /^ */.exec(lines[line - 1] ?? "")![0].length;
    return { line, column: indent + columnInLine + 1 };
  }
  return at(start);
}

// ---------------------------------------------------------------------------------------------
// Export

/** A rule to export, in brokerwatch's terms. */
export interface ExportedRule {
  kind: RuleKind;
  name: string;
  expr: string;
  forSeconds: number;
  keepFiringForSeconds: number;
  labels: Labels;
  annotations: Labels;
  group: string;
  intervalSeconds: number | null;
  limit: number;
}

/**
 * The rules as a Prometheus rule file, one group per group name in the order first seen; a
 * group's `interval` and `limit` are those of its first rule. Empty maps and zero durations are
 * left out, as people write them.
 */
export function formatRuleFile(rules: readonly ExportedRule[], header: readonly string[] = []): string {
  const groups = new Map<
    string,
    { name: string; interval?: string; limit?: number; rules: Record<string, unknown>[] }
  >();
  for (const rule of rules) {
    let group = groups.get(rule.group);
    if (!group) {
      group = { name: rule.group, rules: [] };
      if (rule.intervalSeconds !== null) group.interval = formatDuration(rule.intervalSeconds, "spec");
      if (rule.limit > 0) group.limit = rule.limit;
      groups.set(rule.group, group);
    }
    const out: Record<string, unknown> = { [rule.kind]: rule.name, expr: rule.expr };
    if (rule.kind === "alert") {
      if (rule.forSeconds > 0) out.for = formatDuration(rule.forSeconds, "spec");
      if (rule.keepFiringForSeconds > 0) out.keep_firing_for = formatDuration(rule.keepFiringForSeconds, "spec");
    }
    if (Object.keys(rule.labels).length > 0) out.labels = { ...rule.labels };
    if (rule.kind === "alert" && Object.keys(rule.annotations).length > 0) out.annotations = { ...rule.annotations };
    group.rules.push(out);
  }
  const body = stringify({ groups: [...groups.values()] }, { lineWidth: 0 });
  return header.map((line) => `# ${line}\n`).join("") + body;
}
