import { z } from "zod";
import { webhookOutbox } from "@/db/webhooks";
import { limitParam } from "@/lib/api/params";
import { route, segment } from "@/lib/api/route";
import { ApiError } from "@/lib/http";
import { deliveryLog, listWebhooks } from "@/lib/notify/webhooks";
import { getRuntime } from "@/lib/runtime";

export const dynamic = "force-dynamic";

const deliveriesSchema = z.object({ limit: limitParam });

/**
 * GET /api/webhooks/{id}/deliveries?limit= — one webhook's delivery log: its newest notifications
 * with their retry status (`state`, `attempts`, `lastStatusCode`, `lastError`, `nextAttemptAt`
 * while pending) and its newest HTTP attempts, newest first. Never the secret.
 */
export const GET = route(
  { auth: "viewer", params: z.object({ id: segment }), query: deliveriesSchema },
  async ({ params: { id }, query: { limit } }) => {
    const db = getRuntime().database.db;
    const webhook = /^\d+$/.test(id) ? (await listWebhooks(db)).find((w) => w.id === Number(id)) : undefined;
    if (!webhook) throw new ApiError("not_found", `no webhook with id "${id}"`, { parameter: "id" });
    const [notifications, attempts] = await Promise.all([
      webhookOutbox(db, webhook.id, limit),
      deliveryLog(db, webhook.id, limit),
    ]);
    return { webhook: { id: webhook.id, name: webhook.name }, notifications, attempts };
  },
);
