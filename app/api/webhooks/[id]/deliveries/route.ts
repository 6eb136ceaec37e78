import { z } from "zod";
import { limitParam } from "@/lib/api/params";
import { route, segment } from "@/lib/api/route";
import { ApiError } from "@/lib/http";
import { webhookDeliveries } from "@/lib/notify/deliveries";

export const dynamic = "force-dynamic";

const deliveriesSchema = z.object({ limit: limitParam });

/**
 * GET /api/webhooks/{id}/deliveries?limit= — one webhook's delivery log: its newest notifications
 * with their retry status (`state`, `attempts`, `lastStatusCode`, `lastError`, `nextAttemptAt`
 * while pending) and its newest HTTP attempts, newest first. Never the secret.
 */
export const GET = route(
  { auth: "viewer", params: z.object({ id: segment }), query: deliveriesSchema },
  async ({ caller, params: { id }, query: { limit } }) => {
    const found = await webhookDeliveries(caller, id, limit);
    if (!found) throw new ApiError("not_found", `no webhook with id "${id}"`, { parameter: "id" });
    const { hook, notifications, attempts } = found;
    return { webhook: { id: hook.id, name: hook.name }, notifications, attempts };
  },
);
