import { z } from "zod";
import { createAlertRule, listAlertRules } from "@/db/alerts";
import {
  isUniqueViolation,
  parseJsonBody,
  reservedBy,
  ruleCreateSchema,
  ruleProblem,
  ruleRowValues,
} from "@/lib/alerts/preview";
import { parseQuery } from "@/lib/api/params";
import { authorize } from "@/lib/auth/api";
import { ApiError, errorResponse } from "@/lib/http";
import { getRuntime } from "@/lib/runtime";

export const dynamic = "force-dynamic";

/**
 * GET /api/rules — every rule (built-in, file, UI; evaluated, refused or switched off) with its
 * definition, its alerts' state and its last evaluation. Only the running engine knows the rule
 * set, since file rules are read at start.
 */
export async function GET(request: Request): Promise<Response> {
  try {
    parseQuery(new URL(request.url), z.object({}));
    await authorize(request);
    const engine = getRuntime().alertEngine;
    if (!engine) throw new ApiError("unavailable", "the alert engine is not running");
    return Response.json({ rules: engine.ruleStates() });
  } catch (err) {
    return errorResponse(err);
  }
}

const SOURCE_WORDS = { builtin: "a built-in rule", file: "a rule in brokerwatch.yaml" } as const;

/**
 * POST /api/rules (admin) — creates a UI rule: `{ name, expr, for?, keep_firing_for?, labels?,
 * annotations?, enabled? }` with durations like `5m`. 201 with the stored rule. An expression that
 * does not parse is a 400 with `parameter: "expr"` and the 0-based `position`; a name that a
 * built-in, file or other UI rule has is a 409. The engine evaluates it at once.
 */
export async function POST(request: Request): Promise<Response> {
  try {
    const input = await parseJsonBody(request, ruleCreateSchema);
    await authorize(request, "admin");
    const problem = ruleProblem(input);
    if (problem) throw new ApiError("bad_request", problem.message, { ...problem });
    const { database, alertEngine } = getRuntime();
    if (!alertEngine) throw new ApiError("unavailable", "the alert engine is not running");
    const owner = reservedBy(alertEngine.ruleStates(), input.name);
    if (owner) {
      throw new ApiError("conflict", `${input.name} is ${SOURCE_WORDS[owner]}; give the new rule another name`, {
        parameter: "name",
      });
    }
    if ((await listAlertRules(database.db)).some((r) => r.name === input.name)) {
      throw new ApiError("conflict", `a rule named ${input.name} already exists`, { parameter: "name" });
    }
    const rule = await createAlertRule(database.db, ruleRowValues(input)).catch((err) => {
      // Two requests creating the same name at once: the unique index decides.
      if (isUniqueViolation(err)) throw new ApiError("conflict", `a rule named ${input.name} already exists`);
      throw err;
    });
    alertEngine.evaluateNow("rule changed");
    return Response.json(rule, { status: 201 });
  } catch (err) {
    return errorResponse(err);
  }
}
