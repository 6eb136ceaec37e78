/**
 * What each receiver type is sent for one notification (issue 23), rendered once when the
 * notification is enqueued so every retry sends the same bytes. Pure. Shapes, from each vendor's
 * published reference:
 *
 * - webhook: Alertmanager's webhook body v4 (format.ts), signed per Standard Webhooks.
 * - slack: an incoming-webhook message, `text` (the notification fallback) plus Block Kit blocks
 *   (header: plain_text ≤ 150 chars; section: mrkdwn ≤ 3000 chars; context).
 * - teams: a Workflows ("When a Teams webhook request is received") message, one attachment of
 *   contentType `application/vnd.microsoft.card.adaptive` holding an Adaptive Card 1.4.
 * - pagerduty: an Events API v2 event (`event_action` trigger/resolve, `dedup_key`, `payload`
 *   with summary ≤ 1024, source, severity). The routing key is a secret: it is added at send time
 *   (outbox.ts), never stored in the body.
 * - email: subject, plain text and HTML, sent over SMTP (transports.ts).
 * - alertmanager: the `postableAlerts` array of Alertmanager's API v2 (`POST /api/v2/alerts`):
 *   labels, annotations, startsAt, endsAt, generatorURL. As Prometheus does (rules/manager.go
 *   sendAlerts), a firing alert's endsAt lies a few resend intervals ahead, so an Alertmanager that
 *   stops hearing from us resolves it on its own; a resolved one carries its real end.
 */
import { createHash } from "node:crypto";
import { renderTemplate } from "@/lib/alerts/template";
import type { Labels } from "@/lib/alerts/promql";
import type { ReceiverKind } from "@/db/vocabulary";
import type { WebhookAlert, WebhookMessage } from "./format";

export type { ReceiverKind };

export interface ReceiverOptions {
  title?: string;
  body?: string;
  /** pagerduty: payload.severity when the alert's `severity` label is not one of PagerDuty's */
  severity?: string;
  /** email */
  to?: string[];
  from?: string;
  smtp?: { host: string; port?: number; tls: "starttls" | "tls" | "none"; username?: string; verifyCertificate: boolean };
  /** alertmanager */
  urls?: string[];
}

export interface RenderTarget {
  type: ReceiverKind;
  name: string;
  options: ReceiverOptions;
  /** how often a firing group is re-sent (seconds): Alertmanager endsAt lies 4 of these ahead */
  repeatIntervalSeconds: number;
}

/** How many alerts a chat or e-mail message lists before "and N more" (the rest are one click away). */
export const LISTED_ALERTS = 50;

/** The data a receiver's `title`/`body` template sees (docs/contract.md §6, receivers). */
export function templateData(message: WebhookMessage): { labels: Labels; value: number; externalLabels: Labels } {
  const firing = message.alerts.filter((a) => a.status === "firing").length;
  return {
    // $labels: what every alert of the notification shares (commonLabels)
    labels: message.commonLabels,
    // $value: how many alerts fire
    value: firing,
    // $externalLabels: the notification itself
    externalLabels: {
      status: message.status,
      receiver: message.receiver,
      firing: String(firing),
      resolved: String(message.alerts.length - firing),
      alerts: String(message.alerts.length),
      externalURL: message.externalURL,
    },
  };
}

/** `[FIRING:3] MQTT_Broker_Down broker=plant-a`, Alertmanager's default title shape. */
export function defaultTitle(message: WebhookMessage): string {
  const firing = message.alerts.filter((a) => a.status === "firing").length;
  const head = message.status === "firing" ? `[FIRING:${firing}]` : "[RESOLVED]";
  const { alertname, ...rest } = message.groupLabels;
  const name = alertname ?? message.commonLabels.alertname ?? "alerts";
  const extra = Object.entries(rest).map(([k, v]) => `${k}=${v}`);
  return [head, name, ...extra].join(" ");
}

export function titleOf(message: WebhookMessage, options: ReceiverOptions): string {
  return options.title ? renderTemplate(options.title, templateData(message)) : defaultTitle(message);
}

function introOf(message: WebhookMessage, options: ReceiverOptions): string | null {
  return options.body ? renderTemplate(options.body, templateData(message)) : null;
}

/** One line per alert: its summary (or labels), since when, and its link. */
export function alertLine(alert: WebhookAlert): string {
  const labels = Object.entries(alert.labels)
    .filter(([k]) => k !== "alertname")
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
  const what = alert.annotations.summary ?? alert.annotations.description ?? (labels || alert.labels.alertname || "alert");
  const when = alert.status === "firing" ? `since ${alert.startsAt}` : `resolved ${alert.endsAt}`;
  return `${alert.status === "firing" ? "FIRING" : "RESOLVED"} ${what} (${when})`;
}

function listed(message: WebhookMessage): { lines: string[]; more: number } {
  const shown = message.alerts.slice(0, LISTED_ALERTS);
  return { lines: shown.map(alertLine), more: message.alerts.length - shown.length };
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Slack mrkdwn needs &, < and > escaped (Slack "Formatting text for app surfaces"). */
function slackEscape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export function slackMessage(message: WebhookMessage, options: ReceiverOptions): object {
  const title = titleOf(message, options);
  const intro = introOf(message, options);
  const { lines, more } = listed(message);
  const text = [intro, ...lines.map((l) => `• ${l}`), more > 0 ? `… and ${more} more` : null]
    .filter((l): l is string => l !== null)
    .map(slackEscape)
    .join("\n");
  return {
    text: clip(title, 3000),
    blocks: [
      { type: "header", text: { type: "plain_text", text: clip(title, 150), emoji: true } },
      { type: "section", text: { type: "mrkdwn", text: clip(text || " ", 3000) } },
      {
        type: "context",
        elements: [{ type: "mrkdwn", text: `<${message.externalURL}/alerts|brokerwatch> · ${slackEscape(message.receiver)}` }],
      },
    ],
  };
}

export function teamsMessage(message: WebhookMessage, options: ReceiverOptions): object {
  const title = titleOf(message, options);
  const intro = introOf(message, options);
  const { lines, more } = listed(message);
  const body: object[] = [
    {
      type: "TextBlock",
      text: title,
      weight: "Bolder",
      size: "Medium",
      wrap: true,
      color: message.status === "firing" ? "Attention" : "Good",
    },
  ];
  if (intro) body.push({ type: "TextBlock", text: intro, wrap: true });
  for (const line of lines) body.push({ type: "TextBlock", text: line, wrap: true, spacing: "Small" });
  if (more > 0) body.push({ type: "TextBlock", text: `… and ${more} more`, wrap: true, isSubtle: true });
  return {
    type: "message",
    attachments: [
      {
        contentType: "application/vnd.microsoft.card.adaptive",
        contentUrl: null,
        content: {
          $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
          type: "AdaptiveCard",
          version: "1.4",
          body,
          actions: [{ type: "Action.OpenUrl", title: "Open in brokerwatch", url: `${message.externalURL}/alerts` }],
        },
      },
    ],
  };
}

const PAGERDUTY_SEVERITY = new Set(["critical", "error", "warning", "info"]);

/**
 * One stable `dedup_key` per receiver and alert group: the trigger and the resolve of a group meet
 * in one PagerDuty incident, and a retried trigger is merged into it (exactly once per key).
 */
export function pagerdutyDedupKey(receiver: string, groupKey: string): string {
  return createHash("sha256").update(`${receiver}\u0000${groupKey}`).digest("hex").slice(0, 64);
}

/** The event without `routing_key` (added at send time from the encrypted store). */
export function pagerdutyEvent(message: WebhookMessage, options: ReceiverOptions): Record<string, unknown> {
  const dedupKey = pagerdutyDedupKey(message.receiver, message.groupKey);
  if (message.status === "resolved") return { event_action: "resolve", dedup_key: dedupKey };
  const label = message.commonLabels.severity;
  const severity = label && PAGERDUTY_SEVERITY.has(label) ? label : (options.severity ?? "error");
  const firing = message.alerts.filter((a) => a.status === "firing");
  const details: Record<string, string> = {};
  firing.slice(0, LISTED_ALERTS).forEach((a, i) => (details[`alert ${i + 1}`] = alertLine(a)));
  if (firing.length > LISTED_ALERTS) details.more = `${firing.length - LISTED_ALERTS} more`;
  const intro = introOf(message, options);
  if (intro) details.description = intro;
  return {
    event_action: "trigger",
    dedup_key: dedupKey,
    payload: {
      summary: clip(titleOf(message, options), 1024),
      source: message.commonLabels.broker ?? message.commonLabels.instance ?? "brokerwatch",
      severity,
      timestamp: firing[0]?.startsAt ?? new Date().toISOString(),
      component: message.commonLabels.clientId ?? message.commonLabels.broker,
      group: message.commonLabels.cluster,
      class: message.commonLabels.alertname,
      custom_details: details,
    },
    links: [{ href: `${message.externalURL}/alerts`, text: "brokerwatch alerts" }],
    client: "brokerwatch",
    client_url: message.externalURL,
  };
}

function htmlEscape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

export interface EmailContent {
  subject: string;
  text: string;
  html: string;
}

export function emailMessage(message: WebhookMessage, options: ReceiverOptions): EmailContent {
  const subject = clip(titleOf(message, options).replace(/[\r\n]+/g, " "), 250);
  const intro = introOf(message, options);
  const { lines, more } = listed(message);
  const link = `${message.externalURL}/alerts`;
  const text = [intro, "", ...lines, more > 0 ? `… and ${more} more` : null, "", `Open in brokerwatch: ${link}`]
    .filter((l): l is string => l !== null)
    .join("\n")
    .trim();
  const html = [
    `<h2>${htmlEscape(subject)}</h2>`,
    intro ? `<p>${htmlEscape(intro)}</p>` : "",
    `<ul>${lines.map((l) => `<li>${htmlEscape(l)}</li>`).join("")}</ul>`,
    more > 0 ? `<p>… and ${more} more</p>` : "",
    `<p><a href="${htmlEscape(link)}">Open in brokerwatch</a></p>`,
  ].join("");
  return { subject, text, html };
}

/** Alertmanager API v2 postable alerts for the notification's alerts. */
export function alertmanagerAlerts(message: WebhookMessage, now: Date, resendSeconds: number): object[] {
  // Prometheus: endsAt = now + 4 × max(resend delay, evaluation interval)
  const aheadMs = 4 * Math.max(60, resendSeconds) * 1000;
  return message.alerts.map((a) => ({
    labels: a.labels,
    annotations: a.annotations,
    startsAt: a.startsAt,
    endsAt: a.status === "firing" ? new Date(now.getTime() + aheadMs).toISOString() : a.endsAt,
    generatorURL: a.generatorURL,
  }));
}

/** The stored body of one notification to `target`. */
export function renderBody(target: RenderTarget, message: WebhookMessage, now: Date): string {
  switch (target.type) {
    case "webhook":
      return JSON.stringify(message);
    case "slack":
      return JSON.stringify(slackMessage(message, target.options));
    case "teams":
      return JSON.stringify(teamsMessage(message, target.options));
    case "pagerduty":
      return JSON.stringify(pagerdutyEvent(message, target.options));
    case "email":
      return JSON.stringify(emailMessage(message, target.options));
    case "alertmanager":
      return JSON.stringify(alertmanagerAlerts(message, now, target.repeatIntervalSeconds));
  }
}

/** Alertmanager re-sends while firing (Prometheus: every minute); other receivers repeat every 4 h by default. */
export const ALERTMANAGER_RESEND_SECONDS = 60;
