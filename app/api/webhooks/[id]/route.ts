import { authorize } from "@/lib/auth/api";
import { errorResponse } from "@/lib/http";
import { getRuntime } from "@/lib/runtime";
import { idParam, readJsonObject } from "@/lib/settings/input";
import { editWebhook } from "@/lib/settings/webhooks";

export const dynamic = "force-dynamic";

/**
 * PATCH /api/webhooks/{id} (admin) — change, disable (`{"enabled": false}`) or re-enable a webhook.
 * A key absent keeps its value, null clears it; `secret` and `headers` are write-only. `enabled: true`
 * also lifts a stop after a 410 Gone, the one change a brokerwatch.yaml webhook accepts (others: 409).
 */
export async function PATCH(request: Request, ctx: { params: Promise<{ id: string }> }): Promise<Response> {
  try {
    await authorize(request, "admin");
    const id = idParam((await ctx.params).id, "webhook");
    const body = await readJsonObject(request);
    return Response.json({ webhook: await editWebhook(getRuntime().database.db, id, body) });
  } catch (err) {
    return errorResponse(err);
  }
}
