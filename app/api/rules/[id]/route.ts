import { z } from "zod";
import { rulePatchSchema } from "@/lib/alerts/preview";
import { route, segment } from "@/lib/api/route";
import { changeRule, removeRule } from "@/lib/settings/rules";

export const dynamic = "force-dynamic";

const idParams = z.object({ id: segment });

/**
 * PATCH /api/rules/{id} (admin) — changes a UI rule: any of `name, expr, for, keep_firing_for,
 * labels, annotations, enabled` (`{ "enabled": false }` switches it off). The result is checked as
 * a whole, as POST checks a new rule. 200 with the stored rule. Built-in and file rules: 409.
 */
export const PATCH = route(
  { auth: "admin", params: idParams, body: rulePatchSchema },
  async ({ params: { id }, body }) => changeRule(id, body),
);

/** DELETE /api/rules/{id} (admin) — deletes a UI rule; its firing alerts resolve at the next round. */
export const DELETE = route({ auth: "admin", params: idParams }, async ({ params: { id } }) => removeRule(id));
