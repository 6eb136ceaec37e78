"use client";

import { Card, formatNumber } from "@/components/ui";
import { Time } from "@/components/time";
import type { Headroom } from "@/lib/api/brokers";
import { TimeChart, type ChartLine } from "./time-chart";

/** How far ahead the projection is drawn when it never reaches the capacity (the predicted-saturation rule's 4 h). */
const PROJECTION_MS = 4 * 3600_000;

/**
 * Capacity headroom of one broker: connections of the last hour against maxConnections, the
 * least-squares projection drawn on to saturation (or 4 h), the time left, and — for Mosquitto —
 * the single-thread message ceiling, each with the formula it came from (lib/capacity.ts).
 */
export function HeadroomPanel({ headroom }: { headroom: Headroom }) {
  const { capacity, connections, from, now } = headroom;
  const saturationMs = capacity.saturationAt ? Date.parse(capacity.saturationAt) : null;
  const to = saturationMs !== null ? Math.min(Math.max(saturationMs, now + 15 * 60_000), now + 7 * 24 * 3600_000) : now + PROJECTION_MS;
  const current = connections.at(-1)?.[1] ?? null;
  const lines: ChartLine[] = [{ label: "connected", color: "#0ea5e9", points: connections, fill: true }];
  if (capacity.connectionsMax !== null) {
    lines.push({ label: "capacity", color: "#ef4444", points: [[from, capacity.connectionsMax], [to, capacity.connectionsMax]], dash: [6, 4] });
  }
  if (capacity.connectionsPerSecondTrend !== null && current !== null) {
    // the fitted line from now on: its value at now is current-ish; drawn with the trend's slope
    const projected = (t: number) => current + (capacity.connectionsPerSecondTrend! * (t - now)) / 1000;
    lines.push({ label: "projection", color: "#f59e0b", points: [[now, projected(now)], [to, projected(to)]], dash: [2, 4] });
  }
  const left = saturationMs !== null ? Math.max(0, saturationMs - now) : null;
  return (
    <Card title="Capacity headroom">
      <dl className="mb-3 grid gap-3 text-sm sm:grid-cols-3" data-testid="headroom">
        <div>
          <dt className="text-zinc-600 dark:text-zinc-400">Headroom</dt>
          <dd className="text-lg font-medium" data-testid="headroom-ratio">
            {capacity.headroomRatio === null ? "—" : `${formatNumber(capacity.headroomRatio * 100, 1)}%`}
          </dd>
          <dd className="text-xs text-zinc-600 dark:text-zinc-400">
            {capacity.connectionsMax === null
              ? "set maxConnections to see it"
              : `1 − ${formatNumber(current, 0)} ÷ ${formatNumber(capacity.connectionsMax, 0)}`}
          </dd>
        </div>
        <div>
          <dt className="text-zinc-600 dark:text-zinc-400">Time to saturation</dt>
          <dd className="text-lg font-medium" data-testid="saturation">
            {left === null ? "not growing towards it" : left === 0 ? "at capacity now" : formatLeft(left)}
          </dd>
          {capacity.saturationAt && (
            <dd className="text-xs text-zinc-600 dark:text-zinc-400">
              at <Time value={capacity.saturationAt} />
            </dd>
          )}
        </div>
        <div>
          <dt className="text-zinc-600 dark:text-zinc-400">Single-thread ceiling</dt>
          <dd className="text-lg font-medium" data-testid="ceiling">
            {capacity.messagesPerSecondCeiling === null ? "—" : `${formatNumber(capacity.messagesPerSecondCeiling, 0)} msg/s`}
          </dd>
          {capacity.busiestMinuteMessagesPerSecond !== null && (
            <dd className="text-xs text-zinc-600 dark:text-zinc-400">
              busiest minute {formatNumber(capacity.busiestMinuteMessagesPerSecond, 0)} msg/s
            </dd>
          )}
        </div>
      </dl>
      <TimeChart
        lines={lines}
        gaps={[]}
        from={from}
        to={to}
        integer
        format={(v) => formatNumber(v, 0)}
        label="Connections of the last hour against the capacity, with the projection"
      />
      <p className="mt-3 text-xs text-zinc-600 dark:text-zinc-400" data-testid="headroom-basis">
        {capacity.basis}
      </p>
    </Card>
  );
}

function formatLeft(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes < 60) return `${minutes} min`;
  const hours = minutes / 60;
  return hours < 48 ? `${formatNumber(hours, 1)} h` : `${formatNumber(hours / 24, 1)} days`;
}
