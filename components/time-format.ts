/**
 * The one way brokerwatch writes a time, in tables, charts, tooltips and alerts alike:
 * `2026-12-07 22:26:49 UTC` or, in the viewer's zone, `2026-12-07 23:26:49 GMT+1` — year first (no
 * 07/12 vs 12/07 ambiguity), 24-hour clock, and the zone always said. Pure and client-safe.
 */
export type TimeZoneChoice = "local" | "utc";

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

interface Parts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

function partsOf(date: Date, zone: TimeZoneChoice): Parts {
  return zone === "utc"
    ? {
        year: date.getUTCFullYear(),
        month: date.getUTCMonth() + 1,
        day: date.getUTCDate(),
        hour: date.getUTCHours(),
        minute: date.getUTCMinutes(),
        second: date.getUTCSeconds(),
      }
    : {
        year: date.getFullYear(),
        month: date.getMonth() + 1,
        day: date.getDate(),
        hour: date.getHours(),
        minute: date.getMinutes(),
        second: date.getSeconds(),
      };
}

/** `UTC`, or the viewer's zone as the browser names it briefly (`GMT+1`, `CET`, `EST`). */
export function zoneName(zone: TimeZoneChoice, at: Date = new Date()): string {
  if (zone === "utc") return "UTC";
  const name = new Intl.DateTimeFormat("en-US", { timeZoneName: "short" })
    .formatToParts(at)
    .find((p) => p.type === "timeZoneName")?.value;
  return name ?? "local";
}

/** `2026-12-07 22:26:49 UTC` */
export function formatDateTime(value: Date | number | string, zone: TimeZoneChoice = "utc"): string {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) return "—";
  const p = partsOf(date, zone);
  return `${p.year}-${pad(p.month)}-${pad(p.day)} ${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)} ${zoneName(zone, date)}`;
}

/**
 * A chart axis tick: as much as the span needs and no more — `22:26:49` within minutes, `22:26`
 * within a day, `12-07 22:00` over days. The zone is said once, beside the axis, not on every tick.
 */
export function formatAxisTime(ms: number, zone: TimeZoneChoice, spanMs: number): string {
  const p = partsOf(new Date(ms), zone);
  if (spanMs <= 10 * 60_000) return `${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)}`;
  if (spanMs <= 36 * 3600_000) return `${pad(p.hour)}:${pad(p.minute)}`;
  return `${pad(p.month)}-${pad(p.day)} ${pad(p.hour)}:${pad(p.minute)}`;
}
