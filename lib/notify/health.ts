/**
 * Receiver health as people look for it (issue 23): "failing since 22:25 · 0/12 delivered · HTTP 500"
 * on the receiver in Settings, and a banner on the overview while any receiver fails. A receiver is
 * failing when its newest delivery attempt did not deliver; a green badge means the newest one did.
 */
import type { Db } from "@/db/client";
import { webhookHealth, type WebhookHealthRow } from "@/db/webhooks";

/** The counts cover the notifications of this window. */
export const HEALTH_WINDOW_MS = 24 * 3600_000;

export type ReceiverHealthState = "delivering" | "failing" | "idle" | "stopped" | "disabled";

export interface ReceiverHealth {
  state: ReceiverHealthState;
  /** ISO time of the first failed attempt after the last success, while failing */
  failingSince: string | null;
  /** notifications of the last 24 h: delivered of all, and still waiting for a retry */
  delivered: number;
  total: number;
  pending: number;
  /** the newest attempt's problem in a few words ("HTTP 500", "no answer within 15000 ms"); null after a success */
  lastProblem: string | null;
  lastDeliveredAt: string | null;
}

/** "HTTP 500" or the transport error's first clause: short enough for a badge line, no URL in it. */
export function problemOf(statusCode: number | null, error: string | null): string {
  if (statusCode !== null) return `HTTP ${statusCode}`;
  if (!error) return "no answer";
  const text = error.split(/; |\n/)[0];
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}

export function receiverHealth(
  row: WebhookHealthRow | undefined,
  receiver: { enabled: boolean; disabledReason: string | null },
): ReceiverHealth {
  const failing = row?.failingSince != null;
  const state: ReceiverHealthState = !receiver.enabled
    ? "disabled"
    : receiver.disabledReason !== null
      ? "stopped"
      : failing
        ? "failing"
        : row?.lastAttemptAt
          ? "delivering"
          : "idle";
  return {
    state,
    failingSince: row?.failingSince?.toISOString() ?? null,
    delivered: row?.delivered ?? 0,
    total: row?.total ?? 0,
    pending: row?.pending ?? 0,
    lastProblem: failing ? problemOf(row!.lastStatusCode, row!.lastError) : null,
    lastDeliveredAt: row?.lastDeliveredAt?.toISOString() ?? null,
  };
}

/** Health of each of `receivers`, by id. */
export async function receiverHealthById(
  db: Db,
  receivers: readonly { id: number; enabled: boolean; disabledReason: string | null }[],
  now: Date,
): Promise<Map<number, ReceiverHealth>> {
  const rows = await webhookHealth(
    db,
    receivers.map((r) => r.id),
    new Date(now.getTime() - HEALTH_WINDOW_MS),
  );
  const byId = new Map(rows.map((r) => [r.webhookId, r]));
  return new Map(receivers.map((r) => [r.id, receiverHealth(byId.get(r.id), r)]));
}

/** "0/12 delivered · HTTP 500": the part of the line that needs no clock. */
export function healthCounts(h: ReceiverHealth): string {
  const parts = [`${h.delivered}/${h.total} delivered`];
  if (h.lastProblem) parts.push(h.lastProblem);
  return parts.join(" · ");
}
