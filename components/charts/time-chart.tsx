"use client";

import "uplot/dist/uPlot.min.css";
import uPlot from "uplot";
import { useEffect, useMemo, useRef, useSyncExternalStore } from "react";
import type { ChartGap, ChartPoint } from "@/lib/charts/load";
import { formatAxisTime } from "@/components/time-format";
import { fittedFrom } from "./fit";
import { useTimeZone } from "@/components/time-zone";

/** The values under the cursor, for a readout outside the canvas (null when the cursor leaves). */
export type ChartHover = { t: number; values: (number | null | undefined)[] } | null;

export interface ChartLine {
  label: string;
  /** a colour readable on white and on zinc-900 */
  color: string;
  points: ChartPoint[];
  dash?: number[];
  fill?: boolean;
}

/**
 * A time series chart on uPlot: the lines share the x axis of [from, to], the collector's gaps
 * are shaded (hatched) and break the lines, the width follows the container, and the colours
 * follow the system's light or dark mode. Times are written as everywhere else (components/
 * time-format.ts) in the zone chosen in the nav. The x axis fits the data it holds (a broker watched
 * for a minute does not get a sliver at the right edge of 15 minutes); dragging across a chart zooms
 * (onZoom), and every chart given the same `zoom` shows the same window.
 */
export function TimeChart({
  lines,
  gaps,
  from,
  to,
  format,
  label,
  height = 170,
  integer = false,
  onHover,
  zoom = null,
  onZoom,
}: {
  lines: ChartLine[];
  gaps: ChartGap[];
  from: number;
  to: number;
  format: (value: number) => string;
  /** what the chart shows, for screen readers (the canvas says nothing) */
  label: string;
  height?: number;
  /** a count (connections, messages queued): no ticks between whole numbers */
  integer?: boolean;
  onHover?: (hover: ChartHover) => void;
  /** the window shown instead of [from, to] while zoomed (ms) */
  zoom?: { from: number; to: number } | null;
  /** drag-to-zoom: called with the window dragged across */
  onZoom?: (zoom: { from: number; to: number }) => void;
}) {
  const wrapper = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const dark = usePrefersDark();
  const zone = useTimeZone();
  const data = useMemo(() => alignLines(lines, gaps, to), [lines, gaps, to]);
  const shownFrom = zoom?.from ?? fittedFrom(lines, gaps, from, to);
  const shownTo = zoom?.to ?? to;
  // What the draw hooks and scale ranges read: refs, so new data does not rebuild the chart.
  const view = useRef({ from: shownFrom, to: shownTo, gaps, format, onHover, onZoom, zone });
  useEffect(() => {
    view.current = { from: shownFrom, to: shownTo, gaps, format, onHover, onZoom, zone };
  });
  const shape = lines.map((l) => `${l.label}|${l.color}|${l.dash?.join(",") ?? ""}|${l.fill ?? ""}`).join(";");

  useEffect(() => {
    const el = wrapper.current;
    if (!el) return;
    const colors = dark
      ? { axis: "#a1a1aa", grid: "rgba(255,255,255,0.07)", gap: "rgba(161,161,170,0.28)" }
      : { axis: "#52525b", grid: "rgba(0,0,0,0.07)", gap: "rgba(113,113,122,0.22)" };
    const hatch = hatchPattern(colors.gap);
    const axis = {
      stroke: colors.axis,
      grid: { stroke: colors.grid, width: 1 },
      ticks: { stroke: colors.grid, width: 1 },
      font: "11px system-ui, sans-serif",
    };
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      // ticks on whole hours of the chosen zone
      tzDate: (ts) => (view.current.zone === "utc" ? uPlot.tzDate(new Date(ts * 1000), "Etc/UTC") : new Date(ts * 1000)),
      scales: {
        x: { time: true, range: () => [view.current.from / 1000, view.current.to / 1000] },
        y: {
          range: (_u, _min, max) => [0, max !== null && max > 0 ? niceCeil(max * 1.1) : 1],
        },
      },
      axes: [
        {
          ...axis,
          values: (_u, splits) => {
            const span = (view.current.to - view.current.from) || 1;
            return splits.map((v) => formatAxisTime(v * 1000, view.current.zone, span));
          },
        },
        {
          ...axis,
          values: (_u, splits) => splits.map((v) => view.current.format(v)),
          incrs: integer ? INTEGER_INCREMENTS : undefined,
          // as wide as the longest label ("95.4 MiB" needs more room than "40")
          size: (u, values) => {
            if (!values?.length) return 40;
            const ctx = u.ctx;
            ctx.save();
            ctx.font = axis.font; // CSS pixels: measured before uPlot's pixel-ratio scaling
            const widest = Math.max(...values.map((v) => ctx.measureText(v).width));
            ctx.restore();
            return Math.ceil(widest) + 18;
          },
        },
      ],
      series: [
        {},
        ...lines.map((l) => ({
          label: l.label,
          stroke: l.color,
          width: 1.5,
          dash: l.dash,
          fill: l.fill ? `${l.color}22` : undefined,
          spanGaps: false,
          points: { show: false },
        })),
      ],
      // Drag-to-zoom: the dragged window goes to onZoom, which the page applies to every chart (the
      // x range is always the page's, so the charts never disagree).
      cursor: { drag: { x: true, y: false, setScale: false } },
      // uPlot's legend is a table under the chart; the card header shows the values instead (onHover)
      legend: { show: false },
      hooks: {
        setSelect: [
          (u) => {
            const { left, width } = u.select;
            if (width >= 4 && view.current.onZoom) {
              const a = u.posToVal(left, "x") * 1000;
              const b = u.posToVal(left + width, "x") * 1000;
              if (b - a >= 1000) view.current.onZoom({ from: Math.round(a), to: Math.round(b) });
            }
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
          },
        ],
        setCursor: [
          (u) => {
            const idx = u.cursor.idx;
            view.current.onHover?.(
              idx === null || idx === undefined
                ? null
                : { t: u.data[0][idx] * 1000, values: u.data.slice(1).map((ys) => ys[idx]) },
            );
          },
        ],
        // Under the lines: a hatched band for every interval the collector could not see the broker.
        drawClear: [
          (u) => {
            const { ctx, bbox } = u;
            ctx.save();
            ctx.fillStyle = hatch ?? colors.gap;
            for (const g of view.current.gaps) {
              const start = Math.max(u.valToPos(g.start / 1000, "x", true), bbox.left);
              const end = Math.min(u.valToPos((g.end ?? view.current.to) / 1000, "x", true), bbox.left + bbox.width);
              if (end > start) ctx.fillRect(start, bbox.top, Math.max(end - start, 2), bbox.height);
            }
            ctx.restore();
          },
        ],
      },
    };
    const chart = new uPlot(opts, data, el);
    plot.current = chart;
    const resize = new ResizeObserver(() => chart.setSize({ width: Math.max(200, el.clientWidth), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      chart.destroy();
      plot.current = null;
    };
    // The chart is rebuilt only when its shape or the colour scheme changes; data goes through setData.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [shape, dark, height, integer]);

  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);

  // a new window (zoom, fitted start) or zone: redraw the x scale without rebuilding the chart
  useEffect(() => {
    plot.current?.setScale("x", { min: shownFrom / 1000, max: shownTo / 1000 });
  }, [shownFrom, shownTo, zone]);

  return <div ref={wrapper} role="img" aria-label={label} className="w-full min-w-0" />;
}

/**
 * uPlot's data: one x array (seconds) and one y array per line. A line without a point at some x
 * gets `undefined` there (uPlot draws across it); each gap gets an x with `null` in every line, so
 * no line is drawn across an interval nobody was watching.
 */
export function alignLines(lines: ChartLine[], gaps: ChartGap[], to: number): uPlot.AlignedData {
  const xs = new Set<number>();
  for (const l of lines) for (const [t] of l.points) xs.add(t);
  const gapMarks = new Set<number>();
  for (const g of gaps) {
    const mid = Math.round((g.start + (g.end ?? to)) / 2);
    if (!xs.has(mid)) gapMarks.add(mid);
  }
  const sorted = [...xs, ...gapMarks].sort((a, b) => a - b);
  const index = new Map(sorted.map((t, i) => [t, i]));
  const ys = lines.map(() => new Array<number | null | undefined>(sorted.length).fill(undefined));
  lines.forEach((l, i) => {
    for (const [t, v] of l.points) ys[i][index.get(t)!] = v;
    for (const t of gapMarks) ys[i][index.get(t)!] = null;
  });
  return [sorted.map((t) => t / 1000), ...ys] as uPlot.AlignedData;
}

const INTEGER_INCREMENTS = Array.from({ length: 10 }, (_, e) => [1, 2, 2.5, 5].map((m) => m * 10 ** e))
  .flat()
  .filter((v) => Number.isInteger(v));

function niceCeil(value: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (value <= step * magnitude) return step * magnitude;
  return 10 * magnitude;
}

function hatchPattern(color: string): CanvasPattern | null {
  const size = 8 * (typeof devicePixelRatio === "number" ? devicePixelRatio : 1);
  const canvas = document.createElement("canvas");
  canvas.width = size;
  canvas.height = size;
  const ctx = canvas.getContext("2d");
  if (!ctx) return null;
  ctx.fillStyle = color.replace(/[\d.]+\)$/, (a) => `${Number.parseFloat(a) / 2})`);
  ctx.fillRect(0, 0, size, size);
  ctx.strokeStyle = color;
  ctx.lineWidth = size / 6;
  ctx.beginPath();
  ctx.moveTo(0, size);
  ctx.lineTo(size, 0);
  ctx.moveTo(-size / 2, size / 2);
  ctx.lineTo(size / 2, -size / 2);
  ctx.moveTo(size / 2, size * 1.5);
  ctx.lineTo(size * 1.5, size / 2);
  ctx.stroke();
  return ctx.createPattern(canvas, "repeat");
}

const darkQuery = "(prefers-color-scheme: dark)";

function usePrefersDark(): boolean {
  return useSyncExternalStore(
    (onChange) => {
      const mq = matchMedia(darkQuery);
      mq.addEventListener("change", onChange);
      return () => mq.removeEventListener("change", onChange);
    },
    () => matchMedia(darkQuery).matches,
    () => false,
  );
}
