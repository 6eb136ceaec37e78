import Link from "next/link";
import type { Heatmap } from "@/lib/clients";
import { Card, EmptyState } from "@/components/ui";
import { formatDateTime } from "@/components/time-format";

/**
 * The fleet at a glance: one row per ClientID family (or broker), one cell per time bucket, darker
 * for more disconnects; a cell's title lists the reasons. A storm is a dark column, a flapping
 * family a dark row. Server-rendered, no script; each row links to the family's ClientIDs.
 */
const SHADES = [
  "bg-zinc-100 dark:bg-zinc-800",
  "bg-amber-100 dark:bg-amber-950",
  "bg-amber-300 dark:bg-amber-800",
  "bg-orange-500 dark:bg-orange-600",
  "bg-red-700 dark:bg-red-500",
];

function shade(count: number, max: number): string {
  if (count === 0 || max === 0) return SHADES[0]!;
  // square-root scale: one flapping device must not wash out the rest of the fleet
  const level = Math.ceil(Math.sqrt(count / max) * (SHADES.length - 1));
  return SHADES[Math.min(SHADES.length - 1, Math.max(1, level))]!;
}

export function DisconnectHeatmap({ heatmap, rangeLabel, byHref }: { heatmap: Heatmap; rangeLabel: string; byHref: (by: "prefix" | "broker") => string }) {
  const title = `Disconnects across the fleet · last ${rangeLabel}`;
  const switcher = (
    <nav aria-label="Heatmap rows" className="flex gap-1 text-xs">
      {(["prefix", "broker"] as const).map((by) => (
        <Link
          key={by}
          href={byHref(by)}
          aria-current={heatmap.by === by ? "true" : undefined}
          className="rounded px-2 py-0.5 ring-1 ring-zinc-300 hover:bg-zinc-100 focus-visible:outline-2 focus-visible:outline-sky-500 aria-[current=true]:bg-zinc-800 aria-[current=true]:text-white dark:ring-zinc-700 dark:hover:bg-zinc-800 dark:aria-[current=true]:bg-zinc-200 dark:aria-[current=true]:text-zinc-900"
          scroll={false}
        >
          by {by === "prefix" ? "ClientID family" : "broker"}
        </Link>
      ))}
    </nav>
  );
  if (heatmap.rows.length === 0) {
    return (
      <Card title={title} actions={switcher}>
        <EmptyState>No client disconnected in this range. A storm would show here as a dark column.</EmptyState>
      </Card>
    );
  }
  const hourly = heatmap.bucketMs >= 3600_000;
  const label = (i: number) => formatDateTime(heatmap.from + i * heatmap.bucketMs, "utc").slice(hourly ? 5 : 11, 16);
  return (
    <Card title={title} actions={switcher}>
      <div className="relative overflow-x-auto" role="region" aria-label="Disconnect heatmap" tabIndex={0}>
        <table className="w-full border-separate border-spacing-0.5 text-xs" data-testid="heatmap">
          <caption className="sr-only">
            Disconnects per {heatmap.by === "prefix" ? "ClientID family" : "broker"} and{" "}
            {Math.round(heatmap.bucketMs / 60_000)}-minute bucket; busiest first
          </caption>
          <thead>
            <tr>
              <th scope="col" className="pr-2 text-left font-medium text-zinc-600 dark:text-zinc-400">
                {heatmap.by === "prefix" ? "family" : "broker"}
              </th>
              {heatmap.rows[0]!.cells.map((_, i) => (
                <th key={i} scope="col" className="min-w-2.5 p-0 font-normal">
                  <span className="sr-only">{label(i)}</span>
                </th>
              ))}
              <th scope="col" className="pl-2 text-right font-medium text-zinc-600 dark:text-zinc-400">
                total
              </th>
            </tr>
          </thead>
          <tbody>
            {heatmap.rows.map((row) => (
              <tr key={row.name} data-row={row.name}>
                <th scope="row" className="max-w-40 truncate pr-2 text-left font-mono font-normal whitespace-nowrap">
                  {heatmap.by === "prefix" && !row.name.startsWith("other (") ? (
                    <Link
                      href={`/clients?q=${encodeURIComponent(row.name)}`}
                      className="text-sky-800 underline underline-offset-2 focus-visible:outline-2 focus-visible:outline-sky-500 dark:text-sky-300"
                    >
                      {row.name}
                    </Link>
                  ) : (
                    row.name
                  )}
                </th>
                {row.cells.map((cell, i) => {
                  const reasons = Object.entries(cell.reasons)
                    .sort((a, b) => b[1] - a[1])
                    .map(([r, n]) => `${n} ${r}`)
                    .join(", ");
                  const text = `${label(i)} UTC: ${cell.total} ${cell.total === 1 ? "disconnect" : "disconnects"}${reasons ? ` (${reasons})` : ""}`;
                  return (
                    <td key={i} title={text} className={`h-4 min-w-2.5 rounded-sm p-0 ${shade(cell.total, heatmap.max)}`}>
                      <span className="sr-only">{cell.total > 0 ? text : ""}</span>
                    </td>
                  );
                })}
                <td className="pl-2 text-right tabular-nums">{row.total.toLocaleString("en")}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <p className="mt-2 flex items-center justify-between text-zinc-600 dark:text-zinc-400">
          <span>{formatDateTime(heatmap.from, "utc")}</span>
          <span className="inline-flex items-center gap-1">
            fewer
            {SHADES.map((s) => (
              <span key={s} aria-hidden className={`inline-block size-3 rounded-sm ${s}`} />
            ))}
            more
          </span>
          <span>{formatDateTime(heatmap.to, "utc")}</span>
        </p>
      </div>
    </Card>
  );
}
