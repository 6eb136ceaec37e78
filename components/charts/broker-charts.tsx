"use client";

import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Card, formatNumber } from "@/components/ui";
import { Time } from "@/components/time";
import { formatDateTime, zoneName } from "@/components/time-format";
import { useTimeZone } from "@/components/time-zone";
import { formatBytes } from "@/components/overview/format";
import type { ChartPoint } from "@/lib/charts/load";
import type { BrokerChartData } from "@/lib/charts/load";
import { CHART_RANGE_NAMES, CHART_RANGES, type ChartRange } from "@/lib/charts/ranges";
import { TimeChart, type ChartHover, type ChartLine } from "./time-chart";

/** Colours that read on white and on zinc-900 alike (Tailwind 500s). */
const COLORS = {
  connections: "#0ea5e9",
  capacity: "#ef4444",
  received: "#10b981",
  sent: "#8b5cf6",
  queued: "#f59e0b",
  memory: "#6366f1",
};

interface Panel {
  title: string;
  /** a gauge some dialects do not report (EMQX has no queue gauge in $SYS) */
  optional?: boolean;
  /** counts: whole-number ticks */
  integer?: boolean;
  format: (v: number) => string;
  lines: (s: BrokerChartData["series"]) => ChartLine[];
}

const PANELS: Panel[] = [
  {
    title: "Connections",
    integer: true,
    format: (v) => `${formatNumber(v, 0)} clients`,
    lines: (s) => [
      { label: "connected", color: COLORS.connections, points: s.mqtt_connections_current ?? [], fill: true },
      ...(s.mqtt_connections_max?.length
        ? [{ label: "capacity", color: COLORS.capacity, points: s.mqtt_connections_max, dash: [6, 4] }]
        : []),
    ],
  },
  {
    title: "Messages per second",
    format: (v) => `${formatNumber(v)} msg/s`,
    lines: (s) => [
      { label: "in", color: COLORS.received, points: s.mqtt_messages_received_per_second ?? [] },
      { label: "out", color: COLORS.sent, points: s.mqtt_messages_sent_per_second ?? [] },
    ],
  },
  {
    title: "Queued messages",
    optional: true,
    integer: true,
    format: (v) => `${formatNumber(v, 0)} msgs`,
    lines: (s) => [{ label: "queued", color: COLORS.queued, points: s.mqtt_queued_messages ?? [], fill: true }],
  },
  {
    title: "Memory",
    optional: true,
    format: formatBytes,
    lines: (s) => [{ label: "memory", color: COLORS.memory, points: s.mqtt_memory_bytes ?? [], fill: true }],
  },
];

/**
 * The broker page's charts: a range selector (15 min to 7 days) over four panels, refreshed while
 * the page is open. The server renders the first range's data; later ranges and refreshes come
 * from GET /api/brokers/{name}/series. The chosen range is kept in the URL (?range=).
 */
export function BrokerCharts({ initial }: { initial: BrokerChartData }) {
  const [data, setData] = useState(initial);
  const [range, setRange] = useState<ChartRange>(initial.range);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [zoom, setZoom] = useState<{ from: number; to: number } | null>(null);
  const zone = useTimeZone();
  const request = useRef<AbortController | null>(null);

  const load = useCallback(
    async (next: ChartRange, quiet: boolean) => {
      request.current?.abort();
      const controller = new AbortController();
      request.current = controller;
      if (!quiet) setLoading(true);
      try {
        const res = await fetch(`/api/brokers/${encodeURIComponent(initial.broker)}/series?range=${next}`, {
          signal: controller.signal,
          cache: "no-store",
        });
        if (!res.ok) {
          const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
          throw new Error(body?.error?.message ?? `the server answered ${res.status}`);
        }
        setData((await res.json()) as BrokerChartData);
        setError(null);
      } catch (err) {
        if (controller.signal.aborted) return;
        setError((err as Error).message);
      } finally {
        if (request.current === controller) setLoading(false);
      }
    },
    [initial.broker],
  );

  // Keep the chosen range current: short ranges every few seconds, long ones every minute or so.
  useEffect(() => {
    const timer = setInterval(() => {
      if (document.visibilityState === "visible") void load(range, true);
    }, CHART_RANGES[range].refreshMs);
    return () => clearInterval(timer);
  }, [range, load]);

  useEffect(() => () => request.current?.abort(), []);

  const choose = (next: ChartRange) => {
    if (next === range) return;
    setZoom(null);
    setRange(next);
    const url = new URL(window.location.href);
    url.searchParams.set("range", next);
    window.history.replaceState(null, "", url);
    void load(next, false);
  };

  const shown = data.range === range ? data : null;
  return (
    <section aria-labelledby="charts-heading" className="space-y-3">
      <div className="flex flex-wrap items-center justify-between gap-3">
        <h2 id="charts-heading" className="text-sm font-medium">
          Metrics{" "}
          <span className="font-normal text-zinc-600 dark:text-zinc-400">
            {data.resolution === "raw"
              ? "· every sample"
              : `· ${data.resolution === "1m" ? "1-minute" : "5-minute"} averages`}
          </span>
        </h2>
        <div
          role="group"
          aria-label="Time range"
          className="inline-flex rounded-md ring-1 ring-zinc-300 dark:ring-zinc-700"
        >
          {CHART_RANGE_NAMES.map((name) => (
            <button
              key={name}
              type="button"
              aria-pressed={name === range}
              data-range={name}
              onClick={() => choose(name)}
              className={`px-3 py-1 text-xs font-medium first:rounded-l-md last:rounded-r-md focus-visible:outline-2 focus-visible:outline-offset-1 focus-visible:outline-sky-500 ${
                name === range
                  ? "bg-sky-700 text-white"
                  : "text-zinc-700 hover:bg-zinc-100 dark:text-zinc-300 dark:hover:bg-zinc-800"
              }`}
            >
              {name}
            </button>
          ))}
        </div>
      </div>
      <p className="flex flex-wrap items-center gap-2 text-xs text-zinc-600 dark:text-zinc-400">
        <span>Times in {zoneName(zone)}.</span>
        {zoom ? (
          <>
            <span data-testid="chart-zoom">
              Zoomed to {formatDateTime(zoom.from, zone)} → {formatDateTime(zoom.to, zone)}
            </span>
            <button
              type="button"
              onClick={() => setZoom(null)}
              className="rounded px-2 py-0.5 font-medium text-sky-800 ring-1 ring-sky-300 hover:bg-sky-50 focus-visible:outline-2 focus-visible:outline-sky-500 dark:text-sky-300 dark:ring-sky-700 dark:hover:bg-sky-950"
            >
              Reset zoom
            </button>
          </>
        ) : (
          <span>Drag across a chart to zoom into a spike.</span>
        )}
      </p>
      {error && (
        <p role="alert" className="text-xs text-red-700 dark:text-red-300">
          Could not refresh the charts: {error}. Showing what was loaded before.
        </p>
      )}
      <div
        className={`grid gap-4 transition-opacity lg:grid-cols-2 ${loading || !shown ? "opacity-60" : ""}`}
        aria-busy={loading}
        data-testid="charts"
      >
        {PANELS.map((panel) => (
          <ChartPanel key={panel.title} panel={panel} data={data} zoom={zoom} onZoom={setZoom} />
        ))}
      </div>
      <GapList gaps={data.gaps} />
    </section>
  );
}

function ChartPanel({
  panel,
  data,
  zoom,
  onZoom,
}: {
  panel: Panel;
  data: BrokerChartData;
  zoom: { from: number; to: number } | null;
  onZoom: (zoom: { from: number; to: number }) => void;
}) {
  const [hover, setHover] = useState<ChartHover>(null);
  // memoised: hovering re-renders the panel, and new line arrays would re-feed the chart on every move
  const lines = useMemo(() => panel.lines(data.series), [panel, data.series]);
  const empty = lines.every((l) => l.points.length === 0);
  return (
    <Card title={panel.title} actions={<Readout lines={lines} format={panel.format} hover={hover} />}>
      <div className="relative">
        <TimeChart
          lines={lines}
          gaps={data.gaps}
          from={data.from}
          to={data.to}
          format={panel.format}
          integer={panel.integer}
          onHover={setHover}
          zoom={zoom}
          onZoom={onZoom}
          label={`${panel.title}, last ${CHART_RANGES[data.range].label}${describe(lines, panel.format)}`}
        />
        {empty && (
          <p className="pointer-events-none absolute inset-x-0 top-14 text-center text-xs text-zinc-600 dark:text-zinc-400">
            No samples in this range{panel.optional ? " (not every broker reports this)" : ""}
          </p>
        )}
      </div>
    </Card>
  );
}

/** The latest value of each line, or the values under the cursor while it is over the chart. */
function Readout({ lines, format, hover }: { lines: ChartLine[]; format: (v: number) => string; hover: ChartHover }) {
  const zone = useTimeZone();
  return (
    <span className="flex flex-wrap items-center justify-end gap-x-3 text-xs tabular-nums">
      {hover && (
        <span className="text-zinc-600 dark:text-zinc-400">
          {formatDateTime(hover.t, zone)}
        </span>
      )}
      {lines.map((l, i) => {
        const value = hover ? hover.values[i] : l.points.at(-1)?.[1];
        return (
          <span
            key={l.label}
            className="inline-flex items-center gap-1.5"
            title={hover ? l.label : `latest ${l.label}`}
          >
            <span aria-hidden className="inline-block h-0.5 w-3 rounded" style={{ backgroundColor: l.color }} />
            <span className="text-zinc-600 dark:text-zinc-400">{l.label}</span>
            <span className="font-medium">{value === null || value === undefined ? "—" : format(value)}</span>
          </span>
        );
      })}
    </span>
  );
}

function describe(lines: ChartLine[], format: (v: number) => string): string {
  const parts = lines
    .filter((l) => l.points.length)
    .map((l) => {
      const values = l.points.map((p: ChartPoint) => p[1]);
      return `${l.label} now ${format(values.at(-1)!)}, peak ${format(Math.max(...values))}`;
    });
  return parts.length ? `: ${parts.join("; ")}` : ": no samples";
}

function GapList({ gaps }: { gaps: BrokerChartData["gaps"] }) {
  if (gaps.length === 0) {
    return (
      <p className="text-xs text-zinc-600 dark:text-zinc-400">No collector gaps in this range: nothing is missing from these charts.</p>
    );
  }
  return (
    <div className="text-xs text-zinc-600 dark:text-zinc-400" data-testid="gap-list">
      <p className="flex items-center gap-2">
        <span
          aria-hidden
          className="inline-block size-3 rounded-sm bg-[repeating-linear-gradient(135deg,rgba(113,113,122,0.45)_0_2px,transparent_2px_5px)]"
        />
        Hatched: the collector could not see the broker, so samples and events may be missing.
      </p>
      <ul className="mt-1 space-y-0.5 pl-5">
        {gaps.map((g) => (
          <li key={g.start}>
            <Time value={new Date(g.start)} /> →{" "}
            {g.end === null ? <strong>still open</strong> : <Time value={new Date(g.end)} />}: {g.reason}
          </li>
        ))}
      </ul>
    </div>
  );
}
