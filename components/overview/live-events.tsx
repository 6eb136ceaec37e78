"use client";

import Link from "next/link";
import { useState } from "react";
import { Time } from "@/components/time";
import {
  Badge,
  clientHref,
  reasonTone,
  rowClass,
  secondaryButtonClass,
  tableClass,
  TableHead,
  tdClass,
  type Tone,
} from "@/components/ui";
import { useBrokerStream } from "./broker-stream";
import type { LiveEvent } from "@/lib/overview/events";
import { LiveIndicator } from "./overview-live";

const TYPE_TONE: Record<string, Tone> = {
  connected: "good",
  disconnected: "neutral",
  connect_failed: "bad",
  messages_dropped: "warn",
};

/**
 * One broker's connection events as they are written, newest on top. The server renders the
 * latest stored ones; the page's stream adds each batch the writer commits. Pausing freezes the
 * list so a burst can be read, and counts what arrives meanwhile.
 */
export function LiveEvents() {
  const { events: latest, state } = useBrokerStream();
  const [frozen, setFrozen] = useState<LiveEvent[] | null>(null);
  const paused = frozen !== null;
  const events = frozen ?? latest;
  const shownKeys = paused ? new Set(frozen.map((e) => e.key)) : null;
  const held = shownKeys ? latest.filter((e) => !shownKeys.has(e.key)).length : 0;
  const toggle = () => setFrozen(paused ? null : latest);

  return (
    <section
      aria-labelledby="live-events-heading"
      className="rounded-lg border border-zinc-200 bg-white dark:border-zinc-800 dark:bg-zinc-900"
    >
      <div className="flex flex-wrap items-center justify-between gap-2 border-b border-zinc-200 px-4 py-2.5 dark:border-zinc-800">
        <h2 id="live-events-heading" className="text-sm font-medium">
          Connection events
        </h2>
        <div className="flex items-center gap-2">
          <LiveIndicator state={state} paused={paused} />
          <button
            type="button"
            onClick={toggle}
            className={`${secondaryButtonClass} !py-0.5 text-xs`}
            aria-pressed={paused}
          >
            {paused ? `Resume${held ? ` (${held} new)` : ""}` : "Pause"}
          </button>
        </div>
      </div>
      {events.length === 0 ? (
        <p className="p-6 text-center text-sm text-zinc-600 dark:text-zinc-400" data-testid="no-events">
          No connection events yet. They appear here the moment a client connects or disconnects.
        </p>
      ) : (
        <div tabIndex={0} className="max-h-[28rem] overflow-auto">
          <table className={tableClass} data-testid="live-events">
            <TableHead
              className="sticky top-0 border-b border-zinc-200 bg-white dark:border-zinc-800 dark:bg-zinc-900"
              columns={["Time", "Event", "Client", { label: "From", className: "hidden sm:table-cell" }]}
            />
            <tbody>
              {events.map((e) => (
                <tr key={e.key} className={rowClass} data-event-type={e.type} data-client-id={e.clientId ?? ""}>
                  <td className={`${tdClass} text-xs whitespace-nowrap text-zinc-600 dark:text-zinc-400`}>
                    <Time value={e.ts} />
                  </td>
                  <td className={tdClass}>
                    <span className="flex flex-wrap items-center gap-1">
                      <Badge tone={TYPE_TONE[e.type] ?? "neutral"}>{e.type.replace("_", " ")}</Badge>
                      {e.reason && e.type !== "connected" && <Badge tone={reasonTone(e.reason)}>{e.reason}</Badge>}
                    </span>
                  </td>
                  <td className={`${tdClass} max-w-72 break-all`}>
                    {e.clientId === null ? (
                      <span className="text-zinc-600 dark:text-zinc-400 italic">unknown client</span>
                    ) : (
                      <Link
                        href={clientHref(e.clientId)}
                        className="font-mono text-xs text-sky-700 underline-offset-2 hover:underline focus-visible:outline-2 focus-visible:outline-sky-500 dark:text-sky-400"
                      >
                        {e.clientId}
                      </Link>
                    )}
                    {e.username && <span className="ml-1 text-xs text-zinc-600 dark:text-zinc-400">({e.username})</span>}
                  </td>
                  <td className={`${tdClass} hidden font-mono text-xs text-zinc-600 dark:text-zinc-400 sm:table-cell`}>
                    {e.address ? `${e.address}${e.port ? `:${e.port}` : ""}` : "—"}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
