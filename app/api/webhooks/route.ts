import { jsonObject, route } from "@/lib/api/route";
import { webhooksFor } from "@/lib/auth/redact";
import { getRuntime } from "@/lib/runtime";
import { createWebhook, webhookSettings } from "@/lib/settings/webhooks";

export const dynamic = "force-dynamic";

/**
 * GET /api/webhooks — every receiver, from brokerwatch.yaml (`source: "file"`) and the UI, with
 * `signed` and `headerNames` but never the secret or a header value. A viewer gets each `url` cut to
 * its scheme and host (the path of a Slack-style URL is its credential).
 */
export const GET = route({ auth: "viewer" }, async ({ caller }) => ({
  webhooks: webhooksFor(caller, await webhookSettings(caller)),
}));

/**
 * POST /api/webhooks (admin) — `{ name, url, secret?, sendResolved?, enabled?, headers?, groupBy?,
 * groupWait?, repeatInterval? }`, the fields of a brokerwatch.yaml entry; 201 with the webhook.
 */
export const POST = route({ auth: "admin", body: jsonObject }, async ({ body }) =>
  Response.json({ webhook: await createWebhook(getRuntime().database.db, body) }, { status: 201 }),
);
