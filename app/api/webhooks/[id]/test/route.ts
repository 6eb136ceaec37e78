import { authorize } from "@/lib/auth/api";
import { errorResponse } from "@/lib/http";
import { getRuntime } from "@/lib/runtime";
import { idParam } from "@/lib/settings/input";
import { sendTestNotification } from "@/lib/settings/test-webhook";
import { webhookTarget } from "@/lib/settings/webhooks";

export const dynamic = "force-dynamic";

/**
 * POST /api/webhooks/{id}/test (admin) — POSTs one signed Alertmanager v4 notification (a firing
 * `alertname="BrokerwatchTest"`) straight to the receiver, not through the outbox, and answers 200
 * `{ result: { delivered, statusCode, durationMs, error, messageId } }` whatever the receiver said.
 */
export async function POST(request: Request, ctx: { params: Promise<{ id: string }> }): Promise<Response> {
  try {
    await authorize(request, "admin");
    const id = idParam((await ctx.params).id, "webhook");
    const target = await webhookTarget(getRuntime().database.db, id);
    const result = await sendTestNotification(target, { externalURL: new URL(request.url).origin });
    return Response.json({ result });
  } catch (err) {
    return errorResponse(err);
  }
}
