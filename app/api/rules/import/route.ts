import { route } from "@/lib/api/route";
import { importRuleFile, ruleImportSchema } from "@/lib/settings/rules";

export const dynamic = "force-dynamic";

/**
 * POST /api/rules/import (admin) — imports a Prometheus rule file (`groups:`, the format
 * `promtool check rules` reads): `{ file: "<the YAML text>", dryRun?: false }`. 200 with a report
 * per rule (`imported`, `refused` with the 1-based line/column of the error and, for an
 * expression, the 0-based `exprPosition`, or `unknown_metrics`: stored switched off because it
 * reads metrics brokerwatch does not have); 400 with `fileErrors` when the file as a whole cannot
 * be read (nothing is imported then). docs/rule-files.md.
 */
export const POST = route({ auth: "admin", body: ruleImportSchema }, async ({ body }) => {
  const report = await importRuleFile(body);
  const [fileError] = report.fileErrors;
  if (!fileError) return report;
  // The error shape every 400 has, plus the report (its fileErrors list every problem).
  const where = fileError.position ? `line ${fileError.position.line}, column ${fileError.position.column}: ` : "";
  return Response.json(
    { error: { code: "bad_request", message: `${where}${fileError.message}`, parameter: "file" }, ...report },
    { status: 400 },
  );
});
