import type { ChartGap, ChartPoint } from "@/lib/charts/load";

/**
 * Where the x axis starts: `from`, unless the data starts well inside the window (a broker watched
 * for the last minute of 15), then a little before the first point, so the data fills the chart.
 */
export function fittedFrom(lines: readonly { points: readonly ChartPoint[] }[], gaps: ChartGap[], from: number, to: number): number {
  let first = Infinity;
  for (const l of lines) if (l.points.length && l.points[0]![0] < first) first = l.points[0]![0];
  for (const g of gaps) if (g.start < first) first = Math.max(g.start, from);
  if (!Number.isFinite(first) || first <= from) return from;
  const span = to - from;
  if (first - from < span * 0.1) return from;
  // at least a minute shown, and a margin of 5% before the first point
  const start = Math.min(first - (to - first) * 0.05, to - 60_000);
  return Math.max(from, Math.round(start));
}
