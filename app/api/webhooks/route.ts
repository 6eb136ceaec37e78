import { authorize } from "@/lib/auth/api";
import { webhooksFor } from "@/lib/auth/redact";
import { errorResponse } from "@/lib/http";
import { getRuntime } from "@/lib/runtime";
import { readJsonObject } from "@/lib/settings/input";
import { createWebhook, webhookSettings } from "@/lib/settings/webhooks";

export const dynamic = "force-dynamic";

/**
 * GET /api/webhooks — every receiver, from brokerwatch.yaml (`source: "file"`) and the UI, with
 * `signed` and `headerNames` but never the secret or a header value. A viewer gets each `url` cut to
 * its scheme and host (the path of a Slack-style URL is its credential).
 */
export async function GET(request: Request): Promise<Response> {
  try {
    const caller = await authorize(request);
    return Response.json({ webhooks: webhooksFor(caller, await webhookSettings(getRuntime().database.db)) });
  } catch (err) {
    return errorResponse(err);
  }
}

/**
 * POST /api/webhooks (admin) — `{ name, url, secret?, sendResolved?, enabled?, headers?, groupBy?,
 * groupWait?, repeatInterval? }`, the fields of a brokerwatch.yaml entry; 201 with the webhook.
 */
export async function POST(request: Request): Promise<Response> {
  try {
    await authorize(request, "admin");
    const body = await readJsonObject(request);
    const webhook = await createWebhook(getRuntime().database.db, body);
    return Response.json({ webhook }, { status: 201 });
  } catch (err) {
    return errorResponse(err);
  }
}
