import { route } from "@/lib/api/route";
import { exportRuleFile } from "@/lib/settings/rules";

export const dynamic = "force-dynamic";

/**
 * GET /api/rules/export — every rule the engine evaluates (built-in, brokerwatch.yaml, rule files,
 * UI), recording and alerting, as one Prometheus rule file that `promtool check rules` accepts.
 */
export const GET = route(
  { auth: "viewer" },
  () =>
    new Response(exportRuleFile(), {
      headers: {
        "content-type": "application/yaml; charset=utf-8",
        "content-disposition": 'attachment; filename="brokerwatch-rules.yml"',
      },
    }),
);
