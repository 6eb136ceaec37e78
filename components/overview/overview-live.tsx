"use client";

import { useState } from "react";
import { PageHeader } from "@/components/ui";
import { Time } from "@/components/time";
import { OverviewView } from "./overview-view";
import type { OverviewSnapshot } from "@/lib/overview/types";
import { useEventSource, type StreamState } from "./use-event-source";

/**
 * The overview page, live: starts from the snapshot the server rendered (useful before any
 * JavaScript runs) and re-renders with each one /api/stream/overview sends.
 */
export function OverviewLive({ initial }: { initial: OverviewSnapshot }) {
  const [snapshot, setSnapshot] = useState(initial);
  const state = useEventSource("/api/stream/overview", {
    snapshot: (data) => setSnapshot(data as OverviewSnapshot),
  });
  return (
    <>
      <PageHeader
        title="Overview"
        subtitle="What is up, what is firing, and how loaded each broker is, right now."
        actions={<LiveIndicator state={state} updatedAt={snapshot.generatedAt} />}
      />
      <OverviewView snapshot={snapshot} />
    </>
  );
}

export function LiveIndicator({
  state,
  updatedAt,
  paused = false,
}: {
  state: StreamState;
  updatedAt?: string | null;
  paused?: boolean;
}) {
  const look = paused
    ? { dot: "bg-zinc-400", text: "Paused" }
    : {
        live: { dot: "bg-emerald-500 animate-pulse", text: "Live" },
        connecting: { dot: "bg-zinc-400", text: "Connecting…" },
        reconnecting: { dot: "bg-amber-500", text: "Reconnecting…" },
      }[state];
  return (
    <span
      role="status"
      aria-live="polite"
      data-testid="live-state"
      data-state={state}
      className="inline-flex items-center gap-2 rounded-full px-2.5 py-1 text-xs text-zinc-600 ring-1 ring-zinc-200 dark:text-zinc-400 dark:ring-zinc-800"
    >
      <span aria-hidden className={`size-2 rounded-full ${look.dot}`} />
      {look.text}
      {state !== "live" && !paused && updatedAt && (
        <span className="text-zinc-600 dark:text-zinc-400">
          · data from <Time value={updatedAt} relative />
        </span>
      )}
    </span>
  );
}
