import { deleteAlertRule, listAlertRules, updateAlertRule } from "@/db/alerts";
import type { AlertRuleRow } from "@/db/schema";
import {
  isUniqueViolation,
  parseJsonBody,
  patchedRule,
  reservedBy,
  rulePatchSchema,
  ruleProblem,
  ruleRowValues,
} from "@/lib/alerts/preview";
import { authorize } from "@/lib/auth/api";
import { ApiError, errorResponse } from "@/lib/http";
import { getRuntime } from "@/lib/runtime";

export const dynamic = "force-dynamic";

type Params = { params: Promise<{ id: string }> };

/**
 * The UI rule `{id}`. Built-in and file rules have no id: they are changed in brokerwatch.yaml, so
 * naming one here is a 409 that says so rather than a bare 404.
 */
async function findUiRule(idText: string): Promise<AlertRuleRow> {
  const { database, alertEngine } = getRuntime();
  const id = /^\d+$/.test(idText) ? Number(idText) : null;
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
  throw new ApiError("not_found", `no rule created in the UI has id "${idText}"`, { parameter: "id" });
}

/**
 * PATCH /api/rules/{id} (admin) — changes a UI rule: any of `name, expr, for, keep_firing_for,
 * labels, annotations, enabled` (`{ "enabled": false }` switches it off). The result is checked as
 * a whole, as POST checks a new rule. 200 with the stored rule.
 */
export async function PATCH(request: Request, ctx: Params): Promise<Response> {
  try {
    const { id } = await ctx.params;
    const patch = await parseJsonBody(request, rulePatchSchema);
    await authorize(request, "admin");
    const rule = await findUiRule(id);
    const next = patchedRule(rule, patch);
    const problem = ruleProblem(next);
    if (problem) throw new ApiError("bad_request", problem.message, { ...problem });
    const { database, alertEngine } = getRuntime();
    if (next.name !== rule.name) {
      const owner = alertEngine ? reservedBy(alertEngine.ruleStates(), next.name) : null;
      if (owner) {
        const what = owner === "builtin" ? "a built-in rule" : "a rule in brokerwatch.yaml";
        throw new ApiError("conflict", `${next.name} is ${what}; give this rule another name`, { parameter: "name" });
      }
    }
    const updated = await updateAlertRule(database.db, rule.id, ruleRowValues(next)).catch((err) => {
      if (isUniqueViolation(err)) {
        throw new ApiError("conflict", `a rule named ${next.name} already exists`, { parameter: "name" });
      }
      throw err;
    });
    if (!updated) throw new ApiError("not_found", `no rule created in the UI has id "${id}"`, { parameter: "id" });
    alertEngine?.evaluateNow("rule changed");
    return Response.json(updated);
  } catch (err) {
    return errorResponse(err);
  }
}

/** DELETE /api/rules/{id} (admin) — deletes a UI rule; its firing alerts resolve at the next round. */
export async function DELETE(request: Request, ctx: Params): Promise<Response> {
  try {
    const { id } = await ctx.params;
    await authorize(request, "admin");
    const rule = await findUiRule(id);
    if (!(await deleteAlertRule(getRuntime().database.db, rule.id))) {
      throw new ApiError("not_found", `no rule created in the UI has id "${id}"`, { parameter: "id" });
    }
    getRuntime().alertEngine?.evaluateNow("rule changed");
    return Response.json({ id: rule.id, name: rule.name, deleted: true });
  } catch (err) {
    return errorResponse(err);
  }
}
