/**
 * "Send test notification": one signed POST of a synthetic Alertmanager v4 notification straight to
 * the receiver, not through the outbox (no retries, nothing in the delivery log), so the person
 * at the settings page sees at once what the receiver answered.
 */
import { randomBytes } from "node:crypto";
import { fingerprint } from "@/lib/alerts/state";
import { formatMessage } from "@/lib/notify/format";
import { egressFetch } from "@/lib/egress";
import { responseSnippet } from "@/lib/notify/response";
import { signatureHeaders } from "@/lib/notify/sign";
import { ALERTMANAGER_RESEND_SECONDS, renderBody, type ReceiverKind, type ReceiverOptions } from "@/lib/notify/receivers";
import { sendEmail } from "@/lib/notify/transports";
import type { WebhookMessage } from "@/lib/notify/format";
import type { WebhookTestResult } from "./views";

export const TEST_ALERT_NAME = "BrokerwatchTest";

/** How much of a failing receiver's body the result shows (and the most that is read of it). */
const ERROR_BODY_BYTES = 300;

export interface WebhookTestTarget {
  name: string;
  /** the receiver type (issue 23); webhook when absent */
  type?: ReceiverKind;
  options?: ReceiverOptions;
  url: string;
  /** whsec_…, or null for an unsigned receiver */
  secret: string | null;
  headers: Record<string, string>;
}

export interface WebhookTestOptions {
  /** the UI's own URL, for `externalURL` and the alert's `generatorURL` */
  externalURL: string;
  timeoutMs?: number;
  now?: Date;
  fetch?: typeof fetch;
}

/** The body a test sends: one firing alert, labelled like every brokerwatch alert (docs/contract.md §6). */
export function testNotificationBody(receiver: string, externalURL: string, now: Date): string {
  return JSON.stringify(testMessage(receiver, externalURL, now));
}

function testMessage(receiver: string, externalURL: string, now: Date): WebhookMessage {
  const labels = { alertname: TEST_ALERT_NAME, broker: "brokerwatch", severity: "info" };
  const message = formatMessage({
    receiver,
    groupLabels: { alertname: TEST_ALERT_NAME },
    externalURL,
    now,
    alerts: [
      {
        fingerprint: fingerprint(labels),
        labels,
        annotations: {
          summary: "Test notification from brokerwatch",
          description: `Sent from Settings → Webhooks to check that "${receiver}" receives and verifies brokerwatch's notifications. No action needed.`,
        },
        state: "firing",
        startsAt: now,
        endsAt: null,
        generatorURL: `${externalURL}/settings/webhooks`,
      },
    ],
  });
  return message;
}

function describeFetchError(error: Error, timeoutMs: number): string {
  if (error.name === "TimeoutError") return `no answer within ${timeoutMs / 1000} s`;
  const cause = (error as Error & { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code === "ECONNREFUSED") return "connection refused: nothing listens at that address";
  if (cause?.code === "ENOTFOUND" || cause?.code === "EAI_AGAIN") return "cannot resolve the host name";
  const detail = cause?.code ?? cause?.message;
  return detail ? `${error.message}: ${detail}` : error.message;
}

export async function sendTestNotification(
  target: WebhookTestTarget,
  opts: WebhookTestOptions,
): Promise<WebhookTestResult> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const now = opts.now ?? new Date();
  const messageId = `msg_${randomBytes(16).toString("base64url")}`;
  const type = target.type ?? "webhook";
  const options = target.options ?? {};
  const rendered = renderBody(
    { type, name: target.name, options, repeatIntervalSeconds: ALERTMANAGER_RESEND_SECONDS },
    testMessage(target.name, opts.externalURL, now),
    now,
  );
  const started = performance.now();
  if (type === "email") {
    const answer = await sendEmail({
      url: target.url,
      options,
      password: target.secret,
      messageId,
      content: JSON.parse(rendered),
      timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
    });
    return {
      messageId,
      signed: false,
      delivered: answer?.outcome === "delivered",
      statusCode: null,
      durationMs: Math.round(performance.now() - started),
      error: answer === null ? `no answer within ${timeoutMs / 1000} s` : answer.error,
    };
  }
  let url = target.url;
  let body = rendered;
  const headers = new Headers(type === "webhook" ? target.headers : {});
  headers.set("content-type", "application/json");
  if (type === "webhook") {
    // As the outbox does: the webhook's own headers, then ours, whatever case they were configured in.
    for (const [name, value] of Object.entries(signatureHeaders(target.secret, messageId, now, body))) {
      headers.set(name, value);
    }
  } else if (type === "pagerduty") {
    body = JSON.stringify({ routing_key: target.secret ?? "", ...(JSON.parse(rendered) as object) });
  } else if (type === "alertmanager") {
    // the first Alertmanager answers for the test; deliveries go to every one
    url = `${(options.urls?.[0] ?? target.url).replace(/\/+$/, "")}/api/v2/alerts`;
  }
  const base = { messageId, signed: type === "webhook" && target.secret !== null };
  try {
    const response = await (opts.fetch ?? egressFetch)(url, {
      method: "POST",
      headers,
      body,
      // Standard Webhooks counts a 3xx as a failure, and the outbox does not follow one either.
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
    const durationMs = Math.round(performance.now() - started);
    const delivered = response.status >= 200 && response.status < 300;
    let error: string | null = null;
    if (response.status >= 300 && response.status < 400) {
      error = `redirected to ${response.headers.get("location") ?? "elsewhere"}; deliveries do not follow redirects, so use the final URL`;
    } else if (!delivered) {
      const text = (await responseSnippet(response, ERROR_BODY_BYTES)).slice(0, ERROR_BODY_BYTES);
      error = `HTTP ${response.status}${text ? `: ${text}` : ""}`;
    }
    await response.body?.cancel().catch(() => {});
    return { ...base, delivered, statusCode: response.status, durationMs, error };
  } catch (err) {
    return {
      ...base,
      delivered: false,
      statusCode: null,
      durationMs: Math.round(performance.now() - started),
      error: describeFetchError(err as Error, timeoutMs),
    };
  }
}
