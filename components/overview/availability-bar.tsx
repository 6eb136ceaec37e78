import type { Availability } from "@/lib/availability";
import { formatDuration } from "@/components/ui";
import { formatDateTime } from "@/components/time-format";

/** Up, down and not-watched over a window, as one bar with the share of each said in words. */
const FILL = { up: "#059669", down: "#dc2626" } as const;

export function AvailabilityBar({ title, data }: { title: string; data: Availability }) {
  const span = Math.max(1, data.to - data.from);
  const patternId = `availability-blind-${title.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
  const pct = (s: number) => `${((s * 1000 * 100) / span).toFixed(s * 1000 * 100 < span ? 2 : 1)}%`;
  const summary =
    `${title}: up ${pct(data.seconds.up)}` +
    (data.seconds.down > 0 ? `, down ${formatDuration(data.seconds.down)}` : ", never seen down") +
    (data.seconds.blind > 0 ? `, not watched ${formatDuration(data.seconds.blind)} (unknown)` : "");
  return (
    <figure className="space-y-1" data-testid="availability-bar">
      <figcaption className="text-xs text-zinc-700 dark:text-zinc-300">{summary}</figcaption>
      <svg viewBox="0 0 1000 14" preserveAspectRatio="none" className="h-3.5 w-full rounded bg-zinc-100 dark:bg-zinc-800" role="img" aria-label={summary}>
        <defs>
          <pattern id={patternId} width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
            <rect width="6" height="6" fill="rgba(113,113,122,0.25)" />
            <line x1="0" y1="0" x2="0" y2="6" stroke="rgba(82,82,91,0.7)" strokeWidth="2" />
          </pattern>
        </defs>
        {data.segments.map((s) => (
          <rect
            key={s.start}
            data-state={s.state}
            x={((s.start - data.from) / span) * 1000}
            y={0}
            width={Math.max(s.state === "up" ? 0 : 2, ((s.end - s.start) / span) * 1000)}
            height={14}
            fill={s.state === "blind" ? `url(#${patternId})` : FILL[s.state]}
          >
            <title>{`${s.state === "blind" ? "not watched" : s.state} ${formatDateTime(s.start, "utc")} → ${formatDateTime(s.end, "utc")}${s.why ? `: ${s.why}` : ""}`}</title>
          </rect>
        ))}
      </svg>
    </figure>
  );
}
