import { z } from "zod";
import { route, segment } from "@/lib/api/route";
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
export const POST = route({ auth: "admin", params: z.object({ id: segment }) }, async ({ params, url }) => {
  const target = await webhookTarget(getRuntime().database.db, idParam(params.id, "webhook"));
  return { result: await sendTestNotification(target, { externalURL: url.origin }) };
});
