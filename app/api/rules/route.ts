import { ruleCreateSchema } from "@/lib/alerts/preview";
import { route } from "@/lib/api/route";
import { createRule, ruleStates } from "@/lib/settings/rules";

export const dynamic = "force-dynamic";

/**
 * GET /api/rules — every rule (built-in, file, UI; evaluated, refused or switched off) with its
 * definition, its alerts' state and its last evaluation. Only the running engine knows the rule
 * set, since file rules are read at start.
 */
export const GET = route({ auth: "viewer" }, () => ({ rules: ruleStates() }));

/**
 * POST /api/rules (admin) — creates a UI rule: `{ name, expr, for?, keep_firing_for?, labels?,
 * annotations?, enabled? }` with durations like `5m`. 201 with the stored rule. An expression that
 * does not parse is a 400 with `parameter: "expr"` and the 0-based `position`; a name that a
 * built-in, file or other UI rule has is a 409. The engine evaluates it at once.
 */
export const POST = route({ auth: "admin", body: ruleCreateSchema }, async ({ body }) =>
  Response.json(await createRule(body), { status: 201 }),
);
