"use client";

import Link from "next/link";
import { Badge, formatDuration, formatNumber } from "@/components/ui";
import { LiveIndicator } from "./overview-live";
import { BrokerStatusCell, Connections, Tile } from "./overview-view";
import { useBrokerStream } from "./broker-stream";

/**
 * The broker page's "now" strip: status and current gauges of one broker, kept live by the page's
 * stream from the same snapshot as the overview (so the two pages never disagree about a broker).
 */
export function BrokerLive({ name }: { name: string }) {
  const { live: broker, state } = useBrokerStream();
  if (!broker) {
    return (
      <p className="rounded-lg border border-dashed border-zinc-300 p-4 text-sm text-zinc-600 dark:text-zinc-400 dark:border-zinc-700">
        This broker is disabled: no collector watches it. Its history below is what was recorded while it was enabled.
      </p>
    );
  }
  const stale = broker.status !== "up";
  return (
    <div className="space-y-2" data-broker-live={name}>
      <div className="grid grid-cols-2 gap-3 md:grid-cols-3 xl:grid-cols-6">
        <div className="col-span-2 rounded-lg border border-zinc-200 bg-white px-4 py-3 md:col-span-1 dark:border-zinc-800 dark:bg-zinc-900">
          <div className="text-xs font-medium text-zinc-600 dark:text-zinc-400 uppercase">Status</div>
          <div className="mt-1.5" data-testid={`status-${name}`}>
            <BrokerStatusCell broker={broker} />
          </div>
        </div>
        <div className="col-span-2 rounded-lg border border-zinc-200 bg-white px-4 py-3 md:col-span-1 dark:border-zinc-800 dark:bg-zinc-900">
          <div className="text-xs font-medium text-zinc-600 dark:text-zinc-400 uppercase">Connections</div>
          <div className="mt-1 text-xl font-semibold">
            <Connections broker={broker} stale={stale} />
          </div>
        </div>
        <Tile label="Messages in / s">{formatNumber(broker.messagesInPerSecond)}</Tile>
        <Tile label="Messages out / s">{formatNumber(broker.messagesOutPerSecond)}</Tile>
        <Tile label="Queued">{formatNumber(broker.queuedMessages)}</Tile>
        <Tile label="Firing alerts" tone={broker.firingAlerts > 0 ? "bad" : "good"}>
          {broker.firingAlerts > 0 ? (
            <Link href="/alerts" className="hover:underline focus-visible:outline-2 focus-visible:outline-sky-500">
              {broker.firingAlerts}
            </Link>
          ) : (
            0
          )}
        </Tile>
      </div>
      <div className="flex flex-wrap items-center gap-x-4 gap-y-1 text-xs text-zinc-600 dark:text-zinc-400">
        <span>
          Sessions <span className="font-medium text-zinc-700 dark:text-zinc-300">{formatNumber(broker.sessions)}</span>
        </span>
        <span>
          Subscriptions{" "}
          <span className="font-medium text-zinc-700 dark:text-zinc-300">{formatNumber(broker.subscriptions)}</span>
        </span>
        <span>
          Broker uptime{" "}
          <span className="font-medium text-zinc-700 dark:text-zinc-300">{formatDuration(broker.uptimeSeconds)}</span>
        </span>
        {broker.nodes && (
          <Badge tone={broker.nodes.alive < broker.nodes.expected ? "warn" : "good"}>
            {broker.nodes.alive} / {broker.nodes.expected} nodes alive
          </Badge>
        )}
        <span className="ml-auto">
          <LiveIndicator state={state} />
        </span>
      </div>
    </div>
  );
}
