"use client";

import { useEffect, useState } from "react";
import { formatDateTime } from "./time-format";
import { useTimeZone } from "./time-zone";

/**
 * A time in the one format (components/time-format.ts), in the zone the viewer chose in the nav
 * (UTC or local), with the UTC instant on hover. The server renders UTC; the browser switches to
 * the viewer's choice after hydration.
 */
export function Time({ value, relative = false }: { value: Date | string | null; relative?: boolean }) {
  const zone = useTimeZone();
  const [now, setNow] = useState<number | null>(null);
  const iso = value ? (typeof value === "string" ? new Date(value) : value).toISOString() : null;
  useEffect(() => {
    if (!relative) return;
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), 10_000);
    return () => clearInterval(timer);
  }, [relative]);
  if (!iso) return <span className="text-zinc-600 dark:text-zinc-400">never</span>;
  const utc = formatDateTime(iso, "utc");
  const text = relative && now !== null ? relativeTime(new Date(iso), now) : formatDateTime(iso, zone);
  return (
    <time dateTime={iso} title={relative ? formatDateTime(iso, zone) : utc} suppressHydrationWarning>
      {text}
    </time>
  );
}
export function relativeTime(date: Date, now = Date.now()): string {
  const seconds = Math.round((now - date.getTime()) / 1000);
  const abs = Math.abs(seconds);
  const [value, unit] =
    abs < 60
      ? [abs, "s"]
      : abs < 3600
        ? [Math.floor(abs / 60), "min"]
        : abs < 86400
          ? [Math.floor(abs / 3600), "h"]
          : [Math.floor(abs / 86400), "d"];
  return seconds >= 0 ? `${value} ${unit} ago` : `in ${value} ${unit}`;
}

/**
 * A clock time ("22:25") in the viewer's zone, with the date when it is not today; UTC until
 * hydration. The exact UTC instant on hover.
 */
export function ClockTime({ value }: { value: string }) {
  const [local, setLocal] = useState<string | null>(null);
  useEffect(() => {
    const at = new Date(value);
    const sameDay = at.toDateString() === new Date().toDateString();
    const time = at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    setLocal(sameDay ? time : `${at.toLocaleDateString()} ${time}`);
  }, [value]);
  const utc = value.replace("T", " ").replace(/:\d\d(\.\d+)?Z$/, " UTC");
  return (
    <time dateTime={value} title={value.replace("T", " ").replace(/\.\d+Z$/, " UTC")} suppressHydrationWarning>
      {local ?? utc}
    </time>
  );
}
