/**
 * The one duration formatter of brokerwatch, for the UI and the domain code alike (client-safe: no
 * imports). Two spellings of the same number of seconds:
 *
 * - `human` (the default), for reading: `250 ms`, `1.5 s`, `45 s`, `5.8 min`, `2 h`, `3 d`; two
 *   significant-ish digits, because "5.8 min" says more than "348 s" at a glance.
 * - `spec`, for writing back into a form or brokerwatch.yaml: a Prometheus duration (`30s`, `1m30s`,
 *   `1s500ms`) that `parseDuration` in lib/config/schema.ts reads to the same number.
 *
 * Prometheus template `humanizeDuration` (lib/alerts/template.ts) is not this: it must match Go's
 * output to the letter, so it keeps its own.
 */
export type DurationStyle = "human" | "spec";

export function formatDuration(seconds: number | null | undefined, style: DurationStyle = "human"): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return style === "spec" ? "" : "—";
  return style === "spec" ? specText(seconds) : humanText(seconds);
}

/** A number with at most `digits` decimals and no trailing zeros: 5.0 → "5", 5.83 → "5.8". */
function trimmed(value: number, digits: number): string {
  return String(Number(value.toFixed(digits)));
}

function humanText(seconds: number): string {
  if (seconds === 0) return "0 s";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 10) return `${trimmed(seconds, 1)} s`;
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) {
    const minutes = seconds / 60;
    return `${trimmed(minutes, minutes < 10 ? 1 : 0)} min`;
  }
  if (seconds < 172_800) return `${trimmed(seconds / 3600, 1)} h`;
  return `${trimmed(seconds / 86400, 1)} d`;
}

const SPEC_UNITS: readonly [string, number][] = [
  ["d", 86_400_000],
  ["h", 3_600_000],
  ["m", 60_000],
  ["s", 1000],
  ["ms", 1],
];

/** Each unit at most once, largest first, as Prometheus `model.Duration` prints it. */
function specText(seconds: number): string {
  let rest = Math.round(seconds * 1000);
  if (rest <= 0) return "0s";
  let out = "";
  for (const [unit, size] of SPEC_UNITS) {
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return out;
}
