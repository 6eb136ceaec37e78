import { z } from "zod";
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
