import { z } from "zod";
import { route } from "@/lib/api/route";
import { previewRule } from "@/lib/settings/rules";

export const dynamic = "force-dynamic";

const previewSchema = z.strictObject({ expr: z.string().trim().min(1, { error: "is required" }) });

/**
 * POST /api/rules/preview — `{ expr }` evaluated now against the stored samples, as the next
 * round would: `{ kind: "result", samples, compared, selectors }` (see lib/alerts/preview.ts), or
 * `{ kind: "error", message }` for an error that depends on the data. An expression that does not
 * parse is a 400 with `parameter: "expr"` and the 0-based `position`. Any signed-in user may
 * preview: it reads what the dashboards already show and changes nothing.
 */
export const POST = route({ auth: "viewer", body: previewSchema }, async ({ body }) => previewRule(body.expr));
