import Link from "next/link";
import type { ReactNode } from "react";
import type { ClientDisconnects, ReasonCount } from "@/lib/overview/broker-detail";
import { Time } from "@/components/time";
import { Badge, Card, clientHref, reasonTone } from "@/components/ui";

/**
 * Why clients of one broker disconnect, and which clients disconnect most, over the last hour
 * and the last day side by side: a reason or client that dominates the hour but not the day is
 * what changed.
 */
export function DisconnectReasons({ hour, day }: { hour: ReasonCount[]; day: ReasonCount[] }) {
  return (
    <Card title="Top disconnect reasons">
      <Windows
        testId="top-reasons"
        hour={hour}
        day={day}
        empty="No disconnects"
        render={(rows) => {
          const max = Math.max(1, ...rows.map((r) => r.count));
          return (
            <ul className="space-y-1.5">
              {rows.map((r) => (
                <li key={r.reason} className="text-sm" data-reason={r.reason}>
                  <div className="flex items-center justify-between gap-2">
                    <Badge tone={reasonTone(r.reason)}>{r.reason}</Badge>
                    <span className="tabular-nums">{r.count}</span>
                  </div>
                  <div aria-hidden className="mt-1 h-1 rounded-full bg-zinc-100 dark:bg-zinc-800">
                    <div
                      className="h-full rounded-full bg-zinc-400 dark:bg-zinc-500"
                      style={{ width: `${(r.count / max) * 100}%` }}
                    />
                  </div>
                </li>
              ))}
            </ul>
          );
        }}
      />
    </Card>
  );
}

export function DisconnectingClients({ hour, day }: { hour: ClientDisconnects[]; day: ClientDisconnects[] }) {
  return (
    <Card title="Clients that disconnect most">
      <Windows
        testId="top-clients"
        hour={hour}
        day={day}
        empty="No client disconnected"
        render={(rows) => (
          <ol className="space-y-2">
            {rows.map((c) => (
              <li key={c.clientId} className="text-sm">
                <div className="flex items-baseline justify-between gap-2">
                  <Link
                    href={clientHref(c.clientId)}
                    className="min-w-0 font-mono text-xs break-all text-sky-700 underline-offset-2 hover:underline focus-visible:outline-2 focus-visible:outline-sky-500 dark:text-sky-400"
                  >
                    {c.clientId}
                  </Link>
                  <span className="shrink-0 tabular-nums" title="disconnects">
                    {c.count}×
                  </span>
                </div>
                <div className="mt-0.5 flex flex-wrap items-center gap-1 text-xs text-zinc-600 dark:text-zinc-400">
                  last <Badge tone={reasonTone(c.lastReason)}>{c.lastReason}</Badge>
                  <Time value={c.lastAt} relative />
                </div>
              </li>
            ))}
          </ol>
        )}
      />
    </Card>
  );
}

function Windows<T>({
  hour,
  day,
  render,
  empty,
  testId,
}: {
  hour: T[];
  day: T[];
  render: (rows: T[]) => ReactNode;
  empty: string;
  testId: string;
}) {
  return (
    <div className="grid gap-6 sm:grid-cols-2" data-testid={testId}>
      {(
        [
          ["Last hour", hour, "hour"],
          ["Last 24 hours", day, "day"],
        ] as const
      ).map(([label, rows, key]) => (
        <div key={key} data-window={key} className="min-w-0">
          <h3 className="mb-2 text-xs font-medium text-zinc-600 dark:text-zinc-400 uppercase">{label}</h3>
          {rows.length ? render(rows) : <p className="text-sm text-zinc-600 dark:text-zinc-400">{empty} in this window.</p>}
        </div>
      ))}
    </div>
  );
}
