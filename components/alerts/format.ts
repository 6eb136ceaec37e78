/** Small formatting helpers shared by the alerts pages and the rule editor (client-safe). */
import { formatDuration } from "@/lib/duration";

/** The value of an alert or preview sample: exact enough to compare with a threshold, never 17 digits. */
export function formatValue(value: number | string | null | undefined): string {
  if (value === null || value === undefined) return "—";
  if (typeof value === "string") return value; // "NaN", "+Inf", "-Inf" as Prometheus spells them
  if (Number.isInteger(value)) return value.toLocaleString("en-US");
  return value.toLocaleString("en-US", { maximumFractionDigits: Math.abs(value) < 1 ? 4 : 2 });
}

/**
 * What an alert's value is measured in, read from the rule's expression: the metric compared (the
 * first name in it) says the unit by Prometheus' naming (`_bytes`, `_seconds`, `_per_second`, …); a
 * division of two metrics is a ratio, shown as a percentage. Null when the expression does not say.
 */
export type ValueUnit = "percent" | "bytes" | "seconds" | "per_second" | "connections" | "messages" | "up" | "nodes";

export function valueUnit(expr: string | null | undefined): ValueUnit | null {
  if (!expr) return null;
  const names = [...expr.matchAll(/\b(mqtt_[a-z_]+|brokerwatch_[a-z_]+)\b/g)].map((m) => m[1]!);
  const first = names[0];
  if (!first) return null;
  if (names.length >= 2 && /\)\s*\/\s*[a-z_(]|[a-z_]\s*\/\s*[a-z_(]/.test(expr) && !/predict_linear/.test(expr)) {
    return "percent";
  }
  if (first.endsWith("_bytes")) return "bytes";
  if (first.endsWith("_seconds")) return "seconds";
  if (first.endsWith("_per_second")) return "per_second";
  if (first === "mqtt_broker_up") return "up";
  if (first.startsWith("mqtt_cluster_nodes")) return "nodes";
  if (first.startsWith("mqtt_connections")) return "connections";
  if (first.includes("messages")) return "messages";
  return null;
}

const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/** An alert's value with its unit: `91.2%`, `4.2 GiB`, `12,400 messages`, `down (0)`. */
export function formatValueWithUnit(value: number | string | null | undefined, unit: ValueUnit | null): string {
  if (typeof value !== "number" || unit === null) return formatValue(value);
  switch (unit) {
    case "percent":
      return `${(value * 100).toLocaleString("en-US", { maximumFractionDigits: 1 })}%`;
    case "bytes": {
      let v = value;
      let i = 0;
      while (Math.abs(v) >= 1024 && i < BYTE_UNITS.length - 1) {
        v /= 1024;
        i++;
      }
      return `${v.toLocaleString("en-US", { maximumFractionDigits: 1 })} ${BYTE_UNITS[i]}`;
    }
    case "seconds":
      return formatDuration(value);
    case "per_second":
      return `${formatValue(value)}/s`;
    case "up":
      return value === 0 ? "down (0)" : value === 1 ? "up (1)" : formatValue(value);
    default:
      return `${formatValue(value)} ${unit}`;
  }
}

/** Where a label's value leads: the broker's page, the client's trace page; null for the rest. */
export function labelHref(name: string, value: string): string | null {
  if (name === "broker") return `/brokers/${encodeURIComponent(value)}`;
  if (name === "client_id" || name === "clientid" || name === "clientId") return `/clients/${encodeURIComponent(value)}`;
  return null;
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
