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
  return Response.json(report, { status: report.fileErrors.length > 0 ? 400 : 200 });
});
