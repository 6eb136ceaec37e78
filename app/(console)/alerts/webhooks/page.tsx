import { AutoRefresh } from "@/components/alerts/auto-refresh";
import { Time } from "@/components/time";
import { Badge, Card, EmptyState, rowClass, tableClass, tdClass, thClass, type Tone } from "@/components/ui";
import { requireUser } from "@/lib/auth/page";
import {
  webhookDeliveryLogs,
  type DeliveryLogEntry,
  type OutboxEntryStatus,
  type WebhookSummary,
} from "@/lib/notify/deliveries";

export const metadata = { title: "Webhook deliveries" };
export const dynamic = "force-dynamic";

const NOTIFICATIONS_SHOWN = 20;
const ATTEMPTS_SHOWN = 50;

const STATE_TONE: Record<string, Tone> = { delivered: "good", pending: "warn", failed: "bad", cancelled: "neutral" };

export default async function WebhookDeliveriesPage() {
  const logs = await webhookDeliveryLogs(await requireUser(), {
    notifications: NOTIFICATIONS_SHOWN,
    attempts: ATTEMPTS_SHOWN,
  });
  return (
    <>
      <AutoRefresh />
      {logs.length === 0 ? (
        <EmptyState>
          No webhooks yet. Add one under <code>webhooks:</code> in brokerwatch.yaml (or in Settings); each notification
          it is sent then appears here with its delivery attempts, retries and the receiver&apos;s answers.
        </EmptyState>
      ) : (
        <div className="space-y-6">
          {logs.map((log) => (
            <WebhookLog key={log.hook.id} {...log} />
          ))}
        </div>
      )}
    </>
  );
}

function WebhookLog({
  hook,
  notifications,
  attempts,
}: {
  hook: WebhookSummary;
  notifications: OutboxEntryStatus[];
  attempts: DeliveryLogEntry[];
}) {
  return (
    <Card
      title={
        <span className="flex flex-wrap items-center gap-2">
          {hook.name}
          {hook.enabled ? <Badge tone="good">enabled</Badge> : <Badge tone="neutral">disabled</Badge>}
          {hook.signed && <Badge tone="info">signed</Badge>}
          {hook.source === "file" && <Badge tone="neutral">from brokerwatch.yaml</Badge>}
        </span>
      }
      actions={<code className="truncate text-xs text-zinc-600 dark:text-zinc-400">{hook.url}</code>}
    >
      <div data-webhook={hook.name}>
        {hook.disabledReason && (
          <p role="status" className="mb-3 text-sm text-red-700 dark:text-red-400">
            Delivery stopped: {hook.disabledReason}
          </p>
        )}
        {notifications.length === 0 ? (
          <p className="text-sm text-zinc-600 dark:text-zinc-400">
            Nothing sent yet. Notifications appear here when an alert fires or resolves.
          </p>
        ) : (
          <div tabIndex={0} className="relative overflow-x-auto">
            <table className={tableClass}>
              <thead>
                <tr>
                  <th className={thClass}>Notification</th>
                  <th className={thClass}>State</th>
                  <th className={`${thClass} text-right`}>Attempts</th>
                  <th className={thClass}>Last answer</th>
                  <th className={thClass}>Next attempt / delivered</th>
                </tr>
              </thead>
              <tbody>
                {notifications.map((n) => (
                  <tr key={n.id} className={rowClass} data-notification={n.messageId} data-state={n.state}>
                    <td className={tdClass}>
                      <div className="flex items-center gap-2">
                        <Badge tone={n.status === "firing" ? "bad" : "good"}>{n.status}</Badge>
                        <Time value={n.createdAt} relative />
                      </div>
                      <code className="mt-1 block max-w-md truncate text-xs text-zinc-600 dark:text-zinc-400" title={n.groupKey}>
                        {n.groupKey}
                      </code>
                      <code className="block text-xs text-zinc-600 dark:text-zinc-400" title="webhook-id header">
                        {n.messageId}
                      </code>
                    </td>
                    <td className={tdClass}>
                      <Badge tone={STATE_TONE[n.state] ?? "neutral"}>{n.state}</Badge>
                    </td>
                    <td className={`${tdClass} text-right tabular-nums`} data-attempts>
                      {n.attempts}
                    </td>
                    <td className={`${tdClass} text-xs`}>
                      <Answer statusCode={n.lastStatusCode} error={n.lastError} none={n.attempts === 0} />
                    </td>
                    <td className={`${tdClass} text-xs whitespace-nowrap`}>
                      {n.state === "delivered" && n.deliveredAt ? (
                        <>
                          delivered <Time value={n.deliveredAt} relative />
                        </>
                      ) : n.nextAttemptAt ? (
                        <>
                          retry <Time value={n.nextAttemptAt} relative />
                        </>
                      ) : (
                        <span className="text-zinc-600 dark:text-zinc-400">no further attempt</span>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {attempts.length > 0 && (
          <details className="mt-4">
            <summary className="cursor-pointer text-sm text-zinc-600 dark:text-zinc-400">
              HTTP attempts (newest {attempts.length})
            </summary>
            <div tabIndex={0} className="relative mt-2 overflow-x-auto">
              <table className={tableClass}>
                <thead>
                  <tr>
                    <th className={thClass}>When</th>
                    <th className={thClass}>Notification</th>
                    <th className={thClass}>Answer</th>
                    <th className={`${thClass} text-right`}>Took</th>
                  </tr>
                </thead>
                <tbody>
                  {attempts.map((a) => (
                    <tr key={a.attemptId} className={rowClass}>
                      <td className={`${tdClass} text-xs whitespace-nowrap`}>
                        <Time value={a.attemptedAt} />
                      </td>
                      <td className={`${tdClass} text-xs`}>
                        <code>{a.messageId}</code> · {a.status}
                      </td>
                      <td className={`${tdClass} text-xs`}>
                        <Answer statusCode={a.statusCode} error={a.error} none={false} />
                      </td>
                      <td className={`${tdClass} text-right text-xs tabular-nums`}>{Math.round(a.durationMs)} ms</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </details>
        )}
      </div>
    </Card>
  );
}

/** An HTTP answer: the status code (green for 2xx) and any error text; "no answer" for a timeout or refused connection. */
function Answer({ statusCode, error, none }: { statusCode: number | null; error: string | null; none: boolean }) {
  if (none) return <span className="text-zinc-600 dark:text-zinc-400">not tried yet</span>;
  return (
    <span className="flex flex-wrap items-center gap-1.5">
      {statusCode === null ? (
        <Badge tone="bad">no answer</Badge>
      ) : (
        <Badge tone={statusCode >= 200 && statusCode < 300 ? "good" : "bad"}>HTTP {statusCode}</Badge>
      )}
      {error && (
        <span className="max-w-xs truncate text-zinc-600 dark:text-zinc-400" title={error}>
          {error}
        </span>
      )}
    </span>
  );
}
