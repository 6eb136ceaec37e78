"use client";

import { TimeChart, type ChartLine } from "@/components/charts/time-chart";
import { formatNumber } from "@/components/ui";

type Series = Partial<Record<string, [number, number][]>>;

const bytes = (v: number) =>
  v >= 1024 ** 3
    ? `${(v / 1024 ** 3).toFixed(1)} GiB`
    : v >= 1024 ** 2
      ? `${(v / 1024 ** 2).toFixed(1)} MiB`
      : `${(v / 1024).toFixed(0)} KiB`;

/**
 * The evidence around an incident on the shared uPlot chart: memory, connections against the
 * limit, sessions and queued messages, message rates. The time the broker was down is shaded like
 * a collector gap.
 */
export function IncidentCharts({
  series,
  from,
  to,
  down,
}: {
  series: Series;
  from: number;
  to: number;
  down: { start: number; end: number | null };
}) {
  const gaps = [{ start: down.start, end: down.end, reason: "broker down" }];
  const line = (metric: string, label: string, color: string, extra: Partial<ChartLine> = {}): ChartLine | null => {
    const points = series[metric];
    return points && points.length ? { label, color, points, ...extra } : null;
  };
  const charts: { title: string; lines: (ChartLine | null)[]; format: (v: number) => string; integer?: boolean }[] = [
    { title: "Memory", lines: [line("mqtt_memory_bytes", "memory", "#7c3aed", { fill: true })], format: bytes },
    {
      title: "Connections",
      lines: [
        line("mqtt_connections_current", "connections", "#0284c7", { fill: true }),
        line("mqtt_connections_max", "max connections", "#dc2626", { dash: [6, 4] }),
      ],
      format: (v) => formatNumber(v),
      integer: true,
    },
    {
      title: "Sessions and queued messages",
      lines: [line("mqtt_sessions", "sessions", "#059669"), line("mqtt_queued_messages", "queued messages", "#d97706")],
      format: (v) => formatNumber(v),
      integer: true,
    },
    {
      title: "Messages per second",
      lines: [
        line("mqtt_messages_received_per_second", "received/s", "#0284c7"),
        line("mqtt_messages_sent_per_second", "sent/s", "#059669"),
      ],
      format: (v) => formatNumber(v),
    },
  ];
  return (
    <div className="grid gap-4 lg:grid-cols-2" data-testid="incident-charts">
      {charts.map((c) => {
        const lines = c.lines.filter((l): l is ChartLine => l !== null);
        return (
          <div key={c.title}>
            <h3 className="mb-1 text-xs font-medium text-zinc-600 dark:text-zinc-400 uppercase">{c.title}</h3>
            {lines.length === 0 ? (
              <p className="text-sm text-zinc-600 dark:text-zinc-400">The broker does not report this.</p>
            ) : (
              <TimeChart
                lines={lines}
                gaps={gaps}
                from={from}
                to={to}
                format={c.format}
                label={c.title}
                integer={c.integer}
              />
            )}
          </div>
        );
      })}
    </div>
  );
}
