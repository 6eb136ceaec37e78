/** Small formatting helpers shared by the alerts pages and the rule editor (client-safe). */
import { formatDuration } from "@/lib/duration";

/** The value of an alert or preview sample: exact enough to compare with a threshold, never 17 digits. */
export function formatValue(value: number | string | null | undefined): string {
  if (value === null || value === undefined) return "—";
  if (typeof value === "string") return value; // "NaN", "+Inf", "-Inf" as Prometheus spells them
  if (Number.isInteger(value)) return value.toLocaleString("en-US");
  return value.toLocaleString("en-US", { maximumFractionDigits: Math.abs(value) < 1 ? 4 : 2 });
}

/** A silence matcher as Alertmanager writes it: `broker="plant-a"`, `alertname=~"MQTT_.*"`. */
export function matcherText(m: { name: string; value: string; isRegex: boolean; isEqual: boolean }): string {
  const op = m.isRegex ? (m.isEqual ? "=~" : "!~") : m.isEqual ? "=" : "!=";
  return `${m.name}${op}${JSON.stringify(m.value)}`;
}

/** Seconds as a Prometheus duration (`90` → `1m30s`), for a rule's `for` in a form or a table. */
export function promDuration(seconds: number): string {
  return formatDuration(seconds, "spec");
}

/** Label names shown on their own rather than as chips. */
export const HEADLINE_LABELS = new Set(["alertname", "severity"]);

export function severityTone(severity: string | undefined): "bad" | "warn" | "info" | "neutral" {
  if (severity === "critical" || severity === "page") return "bad";
  if (severity === "warning") return "warn";
  if (severity === "info") return "info";
  return "neutral";
}
