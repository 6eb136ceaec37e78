import { z } from "zod";
import { webhookOutbox } from "@/db/webhooks";
import { limitParam, parseQuery } from "@/lib/api/params";
import { authorize } from "@/lib/auth/api";
import { ApiError, errorResponse } from "@/lib/http";
import { deliveryLog, listWebhooks } from "@/lib/notify/webhooks";
import { getRuntime } from "@/lib/runtime";

export const dynamic = "force-dynamic";

const deliveriesSchema = z.object({ limit: limitParam });

/**
 * GET /api/webhooks/{id}/deliveries?limit= — one webhook's delivery log: its newest notifications
 * with their retry status (`state`, `attempts`, `lastStatusCode`, `lastError`, `nextAttemptAt`
 * while pending) and its newest HTTP attempts, newest first. Never the secret.
 */
export async function GET(request: Request, ctx: { params: Promise<{ id: string }> }): Promise<Response> {
  try {
    const { id } = await ctx.params;
    const { limit } = parseQuery(new URL(request.url), deliveriesSchema);
    await authorize(request);
    const db = getRuntime().database.db;
    const webhook = /^\d+$/.test(id) ? (await listWebhooks(db)).find((w) => w.id === Number(id)) : undefined;
    if (!webhook) throw new ApiError("not_found", `no webhook with id "${id}"`, { parameter: "id" });
    const [notifications, attempts] = await Promise.all([
      webhookOutbox(db, webhook.id, limit),
      deliveryLog(db, webhook.id, limit),
    ]);
    return Response.json({ webhook: { id: webhook.id, name: webhook.name }, notifications, attempts });
  } catch (err) {
    return errorResponse(err);
  }
}
