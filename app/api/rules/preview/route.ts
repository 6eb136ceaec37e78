import { z } from "zod";
import { parseJsonBody, previewExpr } from "@/lib/alerts/preview";
import { parseExpr, PromqlError, type ParsedExpr } from "@/lib/alerts/promql";
import { authorize } from "@/lib/auth/api";
import { ApiError, errorResponse } from "@/lib/http";
import { getRuntime } from "@/lib/runtime";

export const dynamic = "force-dynamic";

const previewSchema = z.strictObject({ expr: z.string().trim().min(1, { error: "is required" }) });

/**
 * POST /api/rules/preview — `{ expr }` evaluated now against the stored samples, as the next
 * round would: `{ kind: "result", samples, compared, selectors }` (see lib/alerts/preview.ts), or
 * `{ kind: "error", message }` for an error that depends on the data. An expression that does not
 * parse is a 400 with `parameter: "expr"` and the 0-based `position`. Any signed-in user may
 * preview: it reads what the dashboards already show and changes nothing.
 */
export async function POST(request: Request): Promise<Response> {
  try {
    const { expr } = await parseJsonBody(request, previewSchema);
    await authorize(request);
    let parsed: ParsedExpr;
    try {
      parsed = parseExpr(expr);
    } catch (err) {
      if (!(err instanceof PromqlError)) throw err;
      throw new ApiError("bad_request", err.message, { parameter: "expr", position: err.position });
    }
    return Response.json(await previewExpr(getRuntime().database, parsed, Date.now()));
  } catch (err) {
    return errorResponse(err);
  }
}
