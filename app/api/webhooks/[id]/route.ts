import { z } from "zod";
import { jsonObject, route, segment } from "@/lib/api/route";
import { getRuntime } from "@/lib/runtime";
import { idParam } from "@/lib/settings/input";
import { editWebhook } from "@/lib/settings/webhooks";

export const dynamic = "force-dynamic";

/**
 * PATCH /api/webhooks/{id} (admin) — change, disable (`{"enabled": false}`) or re-enable a webhook.
 * A key absent keeps its value, null clears it; `secret` and `headers` are write-only. `enabled: true`
 * also lifts a stop after a 410 Gone, the one change a brokerwatch.yaml webhook accepts (others: 409).
 */
export const PATCH = route(
  { auth: "admin", params: z.object({ id: segment }), body: jsonObject },
  async ({ params, body }) => ({
    webhook: await editWebhook(getRuntime().database.db, idParam(params.id, "webhook"), body),
  }),
);
