import type { Tone } from "@/components/ui";

/** Formatting the overview and the broker page share; numbers and durations come from components/ui. */

export function formatBytes(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = Math.abs(value);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${value < 0 ? "-" : ""}${v.toFixed(v >= 100 || i === 0 ? 0 : 1)} ${units[i]}`;
}

/** A broker URL to show: never its password (an operator may write `mqtt://user:secret@host`). */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.password) return url;
    parsed.password = "";
    return parsed.toString();
  } catch {
    // Not parseable: hide anything between `://` and an `@` rather than risk showing a secret.
    return url.replace(/\/\/[^/@]*@/, "//…@");
  }
}

/**
 * How full a broker is, in the tone of the built-in MQTT_Connection_Saturation rule (> 85% warns):
 * amber from 70% so there is time to act before the alert, red from 85%.
 */
export function saturationTone(ratio: number): Tone {
  if (ratio >= 0.85) return "bad";
  if (ratio >= 0.7) return "warn";
  return "good";
}

export const TONE_BAR: Record<Tone, string> = {
  good: "bg-emerald-500",
  warn: "bg-amber-500",
  bad: "bg-red-500",
  neutral: "bg-zinc-400",
  info: "bg-sky-500",
};

export function severityTone(severity: string | null): Tone {
  if (severity === "critical") return "bad";
  if (severity === "warning") return "warn";
  return "info";
}
