/**
 * The webhook body: Alertmanager's webhook format, version "4" (alertmanager notify/webhook/webhook.go,
 * `Message{ *template.Data; Version; GroupKey; TruncatedAlerts }`), so every receiver written for
 * Alertmanager works unchanged (docs/contract.md §6). Pure: the caller passes the group and the time.
 */
import type { Labels } from "@/lib/alerts/promql";

/** What the alert engine hands the notifier for each firing alert and each alert resolved this round. */
export interface NotifyAlert {
  /** lib/alerts/state.ts fingerprint(labels): the same 16 hex digits Alertmanager sends */
  fingerprint: string;
  labels: Labels;
  annotations: Labels;
  state: "firing" | "resolved";
  /** when it started firing */
  startsAt: Date;
  /** when it resolved; null while firing */
  endsAt: Date | null;
  generatorURL: string;
}

import type { NotificationStatus } from "@/db/vocabulary";
export type { NotificationStatus };

/** The alerts whose notification links to the broker's incident page (docs/contract.md §7). */
export const INCIDENT_LINKED_ALERTS: readonly string[] = ["MQTT_Broker_Down"];
/** The annotation that carries the link; an extra annotation keeps the Alertmanager v4 body shape. */
export const INCIDENT_URL_ANNOTATION = "incidentURL";

/** The incident page of an incident, under the UI's external URL. */
export function incidentURL(externalURL: string, incidentId: number): string {
  return `${externalURL.replace(/\/+$/, "")}/incidents/${incidentId}`;
}

/** The alert with its incident link added to its annotations (an alert's own `incidentURL` is kept). */
export function withIncidentURL(alert: NotifyAlert, externalURL: string, incidentId: number | null): NotifyAlert {
  if (incidentId === null || alert.annotations[INCIDENT_URL_ANNOTATION] !== undefined) return alert;
  return {
    ...alert,
    annotations: { ...alert.annotations, [INCIDENT_URL_ANNOTATION]: incidentURL(externalURL, incidentId) },
  };
}

export interface WebhookAlert {
  status: NotificationStatus;
  labels: Labels;
  annotations: Labels;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
  fingerprint: string;
}

/** Keys in the order Alertmanager's Go struct marshals them, embedded template.Data first. */
export interface WebhookMessage {
  receiver: string;
  status: NotificationStatus;
  alerts: WebhookAlert[];
  groupLabels: Labels;
  commonLabels: Labels;
  commonAnnotations: Labels;
  externalURL: string;
  version: "4";
  groupKey: string;
  truncatedAlerts: number;
}

/**
 * Go's zero time.Time, which Alertmanager receivers see as `endsAt` of a firing alert
 * (docs/alerting.md A2: the docs' sample and real captures); receivers test for it to mean "still firing".
 */
export const ZERO_TIME = "0001-01-01T00:00:00Z";

/** The root route's key; Alertmanager prefixes every group key with its route's key. */
const ROOT_ROUTE_KEY = "{}";

/**
 * Alertmanager's groupKey, `routeKey:groupLabels` (dispatch.go aggrGroup.GroupKey), with the label set
 * printed as prometheus/common model.LabelSet.String does: `name="value"` pairs (value quoted like Go's
 * %q), sorted, joined by ", ". Example: `{}:{alertname="MQTT_Broker_Down", broker="plant-a"}`.
 */
export function groupKeyOf(groupLabels: Labels): string {
  return `${ROOT_ROUTE_KEY}:${labelSetString(groupLabels)}`;
}

function labelSetString(labels: Labels): string {
  const pairs = Object.entries(labels).map(([name, value]) => `${name}=${goQuote(value)}`);
  pairs.sort(compareBytewise);
  return `{${pairs.join(", ")}}`;
}

export interface FormatInput {
  /** the webhook's name, Alertmanager's `receiver` */
  receiver: string;
  groupLabels: Labels;
  externalURL: string;
  /** firing and resolved alerts of the group, in any order */
  alerts: readonly NotifyAlert[];
  /** endsAt for a resolved alert the engine passed without one */
  now: Date;
}

export function formatMessage(input: FormatInput): WebhookMessage {
  const alerts = [...input.alerts].sort(byLabels).map((alert): WebhookAlert => ({
    status: alert.state,
    labels: sortedKeys(alert.labels),
    annotations: sortedKeys(alert.annotations),
    startsAt: rfc3339(alert.startsAt),
    endsAt: alert.state === "firing" ? ZERO_TIME : rfc3339(alert.endsAt ?? input.now),
    generatorURL: alert.generatorURL,
    fingerprint: alert.fingerprint,
  }));
  return {
    receiver: input.receiver,
    // template.Data.Status: firing while any alert of the notification fires.
    status: alerts.some((a) => a.status === "firing") ? "firing" : "resolved",
    alerts,
    groupLabels: sortedKeys(input.groupLabels),
    commonLabels: common(alerts.map((a) => a.labels)),
    commonAnnotations: common(alerts.map((a) => a.annotations)),
    externalURL: input.externalURL,
    version: "4",
    groupKey: groupKeyOf(input.groupLabels),
    truncatedAlerts: 0,
  };
}

/**
 * Go marshals time.Time as RFC 3339 with fractional seconds only as precise as needed
 * (`…T10:00:00Z`, `…T10:00:00.5Z`); toISOString always prints milliseconds.
 */
export function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.?0+Z$/, "Z");
}

/** template.Data CommonLabels/CommonAnnotations: the pairs every alert of the notification has, equal. */
function common(sets: Labels[]): Labels {
  if (sets.length === 0) return {};
  const [first, ...rest] = sets;
  const out: Labels = {};
  for (const [name, value] of Object.entries(first)) {
    if (rest.every((set) => set[name] === value)) out[name] = value;
  }
  return out;
}

/** Go's encoding/json writes map keys sorted; doing the same keeps bodies byte-stable. */
function sortedKeys(labels: Labels): Labels {
  const out: Labels = {};
  for (const name of Object.keys(labels).sort(compareBytewise)) out[name] = labels[name];
  return out;
}

/** A stable order for the alerts of a notification, so the same group always yields the same bytes. */
function byLabels(a: NotifyAlert, b: NotifyAlert): number {
  return compareBytewise(labelSetString(a.labels), labelSetString(b.labels));
}

/** Go sorts strings bytewise; for UTF-8 that is not JS's UTF-16 order. */
function compareBytewise(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

const GO_ESCAPES: Record<string, string> = {
  "\u0007": "\\a",
  "\b": "\\b",
  "\f": "\\f",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\v": "\\v",
  "\\": "\\\\",
  '"': '\\"',
};

/** Go's strconv.Quote for the characters label values realistically hold: escapes, other controls as \xNN. */
function goQuote(value: string): string {
  let out = '"';
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    if (GO_ESCAPES[ch]) out += GO_ESCAPES[ch];
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return `${out}"`;
}
