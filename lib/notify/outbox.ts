/**
 * The delivery outbox: notifications are rows in Postgres (`notifications`) until a receiver takes
 * them, so a restart or a crash mid-delivery loses nothing (docs/contract.md §6). Delivery is
 * at-least-once; the `webhook-id` stays the same across every attempt of one notification so the
 * receiver can drop the duplicates (Standard Webhooks: "often used as an idempotency key").
 */
import { randomBytes } from "node:crypto";
import type { Database, Db } from "@/db/client";
import {
  claimDueNotifications,
  countPendingNotifications,
  insertNotification,
  recordAttempt,
  supersedeNotifications,
  updatePendingNotification,
  webhooksByIds,
  type ClaimedNotification,
} from "@/db/outbox";
import type { WebhookRow } from "@/db/schema";
import { decryptHeaderValues, decryptSecret, receiverSecretAddress } from "@/lib/crypto";
import type { ReceiverOptions } from "./receivers";
import { sendEmail, type SmtpAnswer } from "./transports";
import { egressFetch } from "../egress";
import { responseSnippet } from "./response";
import type { NotificationStatus } from "./format";
import { signatureHeaders } from "./sign";

export interface OutboxEntry {
  webhookId: number;
  /** unique per webhook: enqueueing the same notification again is a no-op */
  dedupKey: string;
  groupKey: string;
  status: NotificationStatus;
  /** the exact bytes every attempt sends and signs */
  body: string;
}

/** Adds a notification to the outbox; false when one with the same dedupKey is already there. */
export async function enqueue(db: Db, entry: OutboxEntry): Promise<boolean> {
  return insertNotification(db, { ...entry, messageId: newMessageId() });
}

/** `msg_` + 128 random bits, in the shape of the Standard Webhooks examples (`msg_2KWPBgLlAfxdpx2AI54pPJ85f4W`). */
function newMessageId(): string {
  return `msg_${randomBytes(16).toString("base64url")}`;
}

export interface DeliveryStats {
  delivered: number;
  /** attempts that did not deliver, retried or not */
  failedAttempts: number;
  /** notifications given up on: a 4xx, 410 Gone, or 24 h of failures */
  permanentFailures: number;
  /** notifications waiting in the outbox, all workers together, as of the last poll */
  pending: number;
}

export interface DeliveryWorkerOptions {
  /** the service key (BROKERWATCH_SECRET) that decrypts each webhook's stored whsec_ secret */
  secret: string;
  fetch?: typeof fetch;
  /** the clock for due times, backoff and signature timestamps, in ms */
  now?: () => number;
  log?: (line: string) => void;
  /** how often to look for due rows another process enqueued or a retry made due; default 1000 */
  pollMs?: number;
  /** per-attempt HTTP timeout; default 15 s, the low end of Standard Webhooks' 15–30 s */
  timeoutMs?: number;
  /** first retry delay before jitter; default 1 s */
  backoffBaseMs?: number;
}

const DEFAULT_TIMEOUT_MS = 15_000;
/**
 * A notification that has failed at least once and has a newer one of its group waiting behind it
 * longer than this is superseded (cancelled, its attempts kept in the delivery log): the newer one
 * carries the group's whole current state, and a receiver that never answers in time must not
 * hold a group's resolution back until the 24 h give-up. A receiver that answers within this
 * still hears every notification, in order.
 */
const SUPERSEDE_AFTER_MS = 60_000;
const DEFAULT_BACKOFF_BASE_MS = 1000;
/** The backoff doubles up to this: a receiver back from an outage hears from us within 5 minutes. */
const BACKOFF_CAP_MS = 5 * 60_000;
/** A receiver asking for more than an hour of quiet gets an attempt after an hour anyway. */
const RETRY_AFTER_CAP_MS = 60 * 60_000;
/** Standard Webhooks retries for about a day; a page older than that is history, not news. */
const GIVE_UP_AFTER_MS = 24 * 60 * 60_000;
/** A claimed row is hidden from other workers this long; a crash mid-delivery makes it due again then. */
const MIN_LEASE_MS = 30_000;
/** Concurrent HTTP requests per worker. */
const MAX_IN_FLIGHT = 64;
/** Concurrent requests to one webhook: a receiver that hangs ties up this many slots, never all of them. */
const MAX_IN_FLIGHT_PER_WEBHOOK = 4;
/** How much of a failed response body the delivery log keeps. */
const ERROR_BODY_CHARS = 200;

export type Outcome = "delivered" | "retry" | "gone" | "failed";

/**
 * What an answer means for the notification (Standard Webhooks "Retry schedule"; Alertmanager
 * notify/util.go Retrier): 2xx delivered; no answer, 408, 429 and 5xx are worth retrying;
 * 410 Gone means the endpoint was removed; any other status (3xx and 4xx) will not change on retry.
 */
function classify(statusCode: number | null): Outcome {
  if (statusCode === null) return "retry";
  if (statusCode >= 200 && statusCode < 300) return "delivered";
  if (statusCode === 408 || statusCode === 429 || statusCode >= 500) return "retry";
  if (statusCode === 410) return "gone";
  return "failed";
}

/** `Retry-After` as seconds or an HTTP-date (RFC 9110 section 10.2.3), in ms from `nowMs`. */
export function parseRetryAfter(value: string | null, nowMs: number): number | null {
  if (value === null) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}

type ClaimedRow = ClaimedNotification;

interface AttemptResult {
  statusCode: number | null;
  error: string | null;
  retryAfterMs: number | null;
  durationMs: number;
}

/**
 * Sends due notifications. Any number of workers (processes) may run against one database:
 * a row is claimed with an atomic `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING`
 * that pushes its `next_attempt_at` a lease into the future, so no two workers send it at once.
 */
export class DeliveryWorker {
  private readonly db: Db;
  private readonly fetch: typeof fetch;
  private readonly now: () => number;
  private readonly log: (line: string) => void;
  private readonly pollMs: number;
  private readonly timeoutMs: number;
  private readonly backoffBaseMs: number;
  private readonly leaseMs: number;
  private readonly counters: DeliveryStats = { delivered: 0, failedAttempts: 0, permanentFailures: 0, pending: 0 };
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private ticking: Promise<void> | null = null;
  private tickAgain = false;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly inFlightByWebhook = new Map<number, number>();
  /** aborts the in-flight requests on stop() */
  private readonly stopping = new AbortController();

  constructor(
    database: Database,
    private readonly opts: DeliveryWorkerOptions,
  ) {
    this.db = database.db;
    this.fetch = opts.fetch ?? egressFetch;
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? console.log;
    this.pollMs = opts.pollMs ?? 1000;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.backoffBaseMs = opts.backoffBaseMs ?? DEFAULT_BACKOFF_BASE_MS;
    // The lease must outlast the request, or a slow receiver's row would be claimed a second time.
    this.leaseMs = Math.max(MIN_LEASE_MS, this.timeoutMs + 5000);
  }

  get stats(): Readonly<DeliveryStats> {
    return { ...this.counters };
  }

  start(): void {
    if (this.running || this.stopping.signal.aborted) return;
    this.running = true;
    this.schedule(0);
  }

  /**
   * Stops polling and aborts requests in flight. Their rows go back to due at once (no attempt is
   * recorded), so the next worker sends them without waiting out the lease.
   */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.stopping.abort();
    await this.ticking;
    await Promise.allSettled([...this.inFlight]);
  }

  /** Delivers due rows now; the dispatcher calls it right after enqueueing so a page leaves in ms, not a poll. */
  wake(): void {
    this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    const at = Date.now() + Math.max(0, delayMs);
    if (this.timer !== undefined && this.timerAt <= at) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.runTick();
      },
      Math.max(0, delayMs),
    );
  }

  private runTick(): void {
    if (this.ticking) {
      this.tickAgain = true;
      return;
    }
    this.ticking = (async () => {
      try {
        do {
          this.tickAgain = false;
          await this.tick();
        } while (this.tickAgain && this.running);
      } catch (error) {
        this.log(`brokerwatch: webhook delivery: ${(error as Error).message}`);
      } finally {
        this.ticking = null;
        this.schedule(this.pollMs);
      }
    })();
  }

  private async tick(): Promise<void> {
    const capacity = MAX_IN_FLIGHT - this.inFlight.size;
    if (capacity > 0) {
      const busy = [...this.inFlightByWebhook].filter(([, n]) => n >= MAX_IN_FLIGHT_PER_WEBHOOK).map(([id]) => id);
      const claimed = await this.claim(capacity, busy);
      // One batch can still hold more rows for a webhook than its share; those go back at once.
      const excess: ClaimedRow[] = [];
      const toSend: ClaimedRow[] = [];
      for (const row of claimed) {
        const n = this.inFlightByWebhook.get(row.webhookId) ?? 0;
        if (n >= MAX_IN_FLIGHT_PER_WEBHOOK) {
          excess.push(row);
        } else {
          this.inFlightByWebhook.set(row.webhookId, n + 1);
          toSend.push(row);
        }
      }
      await Promise.all(excess.map((row) => this.release(row)));
      if (toSend.length > 0) {
        const ids = [...new Set(toSend.map((row) => row.webhookId))];
        const hooks = await webhooksByIds(this.db, ids);
        const byId = new Map(hooks.map((hook) => [hook.id, hook]));
        for (const row of toSend) this.track(row, this.deliver(row, byId.get(row.webhookId)));
      }
    }
    this.counters.pending = await countPendingNotifications(this.db);
  }

  private track(row: ClaimedRow, delivery: Promise<void>): void {
    const settled = delivery
      .catch((error: Error) => {
        // The row keeps its lease and becomes due again when it runs out: nothing is lost.
        this.log(`brokerwatch: webhook delivery of ${row.messageId}: ${error.message}`);
      })
      .finally(() => {
        this.inFlight.delete(settled);
        const n = this.inFlightByWebhook.get(row.webhookId)! - 1;
        if (n === 0) this.inFlightByWebhook.delete(row.webhookId);
        else this.inFlightByWebhook.set(row.webhookId, n);
      });
    this.inFlight.add(settled);
  }

  /**
   * Claims up to `limit` due rows. A row waits while an older notification of the same group to
   * the same webhook is still pending, so a receiver never hears "resolved" before the "firing" it
   * resolves (Alertmanager flushes each group sequentially for the same reason).
   */
  private async claim(limit: number, busyWebhooks: number[]): Promise<ClaimedRow[]> {
    const now = this.now();
    await supersedeNotifications(this.db, {
      claimedBefore: new Date(now - this.leaseMs),
      newerCreatedBefore: new Date(now - SUPERSEDE_AFTER_MS),
    });
    return claimDueNotifications(this.db, {
      now: new Date(now),
      leaseUntil: new Date(now + this.leaseMs),
      limit,
      busyWebhooks,
    });
  }

  private async deliver(row: ClaimedRow, webhook: WebhookRow | undefined): Promise<void> {
    if (!webhook || !webhook.enabled || webhook.disabledReason !== null) {
      // Switched off (or removed from the config file) since the notification was queued.
      await updatePendingNotification(this.db, row.id, {
        state: "cancelled",
        lastError: "webhook disabled before delivery",
      });
      return;
    }
    let secret: string | null = null;
    let headers: Record<string, string>;
    try {
      // Bound to the URL they were saved for: a URL changed behind our back gets neither.
      const address = receiverSecretAddress(webhook.type, webhook.url);
      if (webhook.secretEnc !== null) secret = decryptSecret(webhook.secretEnc, this.opts.secret, address);
      headers = webhook.headersEncrypted
        ? decryptHeaderValues(webhook.headers, this.opts.secret, address)
        : webhook.headers;
    } catch (error) {
      // Sending unsigned would downgrade the receiver's security; a changed service key needs an operator.
      await this.record(
        row,
        webhook,
        { statusCode: null, error: (error as Error).message, retryAfterMs: null, durationMs: 0 },
        "failed",
      );
      return;
    }
    if (!this.running) return this.release(row);
    const sent = await this.send(row, webhook, secret, headers);
    if (sent === null) return this.release(row);
    const [result, outcome] = sent;
    await this.record(row, webhook, result, outcome);
  }

  /** One delivery attempt by the receiver's type; null when stop() cut it off. */
  private async send(
    row: ClaimedRow,
    webhook: WebhookRow,
    secret: string | null,
    headers: Record<string, string>,
  ): Promise<[AttemptResult, Outcome] | null> {
    const withOutcome = (r: AttemptResult | null): [AttemptResult, Outcome] | null =>
      r === null ? null : [r, classify(r.statusCode)];
    const options = webhook.options as ReceiverOptions;
    switch (webhook.type) {
      case "webhook":
        return withOutcome(await this.attempt(webhook.url, row.body, this.headersFor(headers, secret, row)));
      case "slack":
      case "teams":
        return withOutcome(await this.attempt(webhook.url, row.body, jsonHeaders()));
      case "pagerduty": {
        if (secret === null) return [problem("no routing key stored"), "failed"];
        // the routing key lives encrypted in the receiver, never in the stored body
        const body = JSON.stringify({ routing_key: secret, ...(JSON.parse(row.body) as object) });
        return withOutcome(await this.attempt(webhook.url, body, jsonHeaders()));
      }
      case "alertmanager":
        return withOutcome(await this.toAlertmanagers(options.urls ?? [webhook.url], row.body));
      case "email": {
        const answer: SmtpAnswer | null = await sendEmail({
          url: webhook.url,
          options,
          password: secret,
          messageId: row.messageId,
          content: JSON.parse(row.body),
          timeoutMs: this.timeoutMs,
          signal: this.stopping.signal,
        });
        if (answer === null) return null;
        return [
          { statusCode: null, error: answer.error, retryAfterMs: null, durationMs: answer.durationMs },
          answer.outcome,
        ];
      }
    }
  }

  /**
   * Every Alertmanager gets the alerts (Prometheus sends to each of its Alertmanagers); the attempt
   * succeeds when all took them. A retry sends to all again: Alertmanager merges an alert it already
   * has by its labels, so a repeat is harmless.
   */
  private async toAlertmanagers(urls: readonly string[], body: string): Promise<AttemptResult | null> {
    const results = await Promise.all(
      urls.map((url) => this.attempt(`${url.replace(/\/+$/, "")}/api/v2/alerts`, body, jsonHeaders())),
    );
    if (results.some((r) => r === null)) return null;
    const done = results as AttemptResult[];
    const failed = done.find((r) => classify(r.statusCode) !== "delivered");
    const durationMs = Math.max(...done.map((r) => r.durationMs));
    if (!failed) return { ...done[0], durationMs };
    const which = urls[done.indexOf(failed)];
    return { ...failed, error: `${which}: ${failed.error}`, durationMs };
  }

  /** One HTTP POST; null when stop() aborted it, so it does not count as an attempt. */
  private async attempt(url: string, body: string, headers: Headers): Promise<AttemptResult | null> {
    const started = performance.now();
    // An explicit timer rather than AbortSignal.timeout: composed with AbortSignal.any on Node 20,
    // the timeout signal did not always fire, leaving a hung receiver holding its row.
    const timeout = new AbortController();
    const timer = setTimeout(
      () => timeout.abort(new DOMException(`no answer within ${this.timeoutMs} ms`, "TimeoutError")),
      this.timeoutMs,
    );
    try {
      const response = await this.fetch(url, {
        method: "POST",
        headers,
        body,
        // Standard Webhooks counts a 3xx as a failure; following it would also send signed alerts
        // wherever the receiver points.
        redirect: "manual",
        signal: AbortSignal.any([timeout.signal, this.stopping.signal]),
      });
      const ok = response.status >= 200 && response.status < 300;
      const error = ok ? null : `HTTP ${response.status}${await bodySnippet(response)}`;
      if (ok) await response.body?.cancel();
      return {
        statusCode: response.status,
        error,
        retryAfterMs: ok ? null : parseRetryAfter(response.headers.get("retry-after"), this.now()),
        durationMs: performance.now() - started,
      };
    } catch (error) {
      if (this.stopping.signal.aborted) return null;
      return {
        statusCode: null,
        error: describeFetchError(timeout.signal.aborted ? (timeout.signal.reason as Error) : (error as Error), this.timeoutMs),
        retryAfterMs: null,
        durationMs: performance.now() - started,
      };
    } finally {
      clearTimeout(timer);
    }
  }

  /** The webhook's own headers, then ours, replacing any of the same name in whatever case it was configured. */
  private headersFor(customHeaders: Record<string, string>, secret: string | null, row: ClaimedRow): Headers {
    const timestamp = new Date(this.now());
    const headers = new Headers(customHeaders);
    headers.set("content-type", "application/json");
    for (const [name, value] of Object.entries(signatureHeaders(secret, row.messageId, timestamp, row.body))) {
      headers.set(name, value);
    }
    return headers;
  }

  /** Back to due now: the next worker sends it without waiting for the lease to run out. */
  private async release(row: ClaimedRow): Promise<void> {
    await updatePendingNotification(this.db, row.id, { nextAttemptAt: new Date(this.now()), claimedAt: null });
  }

  /** Writes the attempt to the delivery log and moves the notification on, in one transaction. */
  private async record(row: ClaimedRow, webhook: WebhookRow, result: AttemptResult, outcome: Outcome): Promise<void> {
    const now = this.now();
    const attempt = row.attempts + 1;
    let state: "pending" | "delivered" | "failed" | "cancelled" = "pending";
    let nextAttemptAt = new Date(now);
    let lastError = result.error;
    if (outcome === "delivered") state = "delivered";
    else if (outcome === "gone") state = "cancelled";
    else if (outcome === "failed") state = "failed";
    else if (now - row.createdAt.getTime() >= GIVE_UP_AFTER_MS) {
      state = "failed";
      lastError = `gave up after ${attempt} attempts over 24 h; last: ${result.error}`;
    } else {
      nextAttemptAt = new Date(now + this.retryDelayMs(attempt, result.retryAfterMs));
    }

    const goneReason = `receiver answered 410 Gone at ${new Date(now).toISOString()}`;
    // Standard Webhooks: 410 Gone means the endpoint is no more; stop until someone re-enables it.
    await recordAttempt(this.db, {
      notificationId: row.id,
      webhookId: webhook.id,
      attemptedAt: new Date(now),
      statusCode: result.statusCode,
      error: result.error,
      durationMs: result.durationMs,
      next: { state, nextAttemptAt, lastError, deliveredAt: state === "delivered" ? new Date(now) : null },
      goneReason: outcome === "gone" ? goneReason : null,
      staleClaimsBefore: new Date(now - this.leaseMs),
    });

    if (state === "delivered") {
      this.counters.delivered += 1;
      // The next notification of this group may have been waiting for this one.
      this.schedule(0);
      return;
    }
    this.counters.failedAttempts += 1;
    if (state === "pending") {
      if (attempt === 1) this.log(`brokerwatch: webhook ${webhook.name}: ${result.error}; retrying`);
      this.schedule(nextAttemptAt.getTime() - now);
      return;
    }
    this.counters.permanentFailures += 1;
    this.log(`brokerwatch: webhook ${webhook.name}: notification ${row.messageId} ${state}: ${lastError}`);
    this.schedule(0);
  }

  /**
   * Exponential backoff per notification: step n waits between half and all of base·2^(n-1),
   * capped at 5 minutes, so receivers coming back from an outage are not hit by every sender at
   * once, and a failing receiver hears from one notification at most ~14 times in 15 minutes
   * whatever happens elsewhere; a `Retry-After` wins. Only a success on the same receiver brings
   * its other waiting notifications forward (db/outbox.ts recordAttempt).
   *
   * Issue 23: a receiver answering 500 for 15 minutes got one notification 291 times, every 3–4 s.
   * The oldest pending notification of each webhook "probed" at a fixed 5 s cap instead of backing
   * off (test/notify-retry-isolation.test.ts).
   */
  private retryDelayMs(attempt: number, retryAfterMs: number | null): number {
    if (retryAfterMs !== null) return Math.min(retryAfterMs, RETRY_AFTER_CAP_MS);
    const step = Math.min(BACKOFF_CAP_MS, this.backoffBaseMs * 2 ** Math.min(attempt - 1, 30));
    return step / 2 + Math.random() * (step / 2);
  }
}

function jsonHeaders(): Headers {
  return new Headers({ "content-type": "application/json" });
}

function problem(error: string): AttemptResult {
  return { statusCode: null, error, retryAfterMs: null, durationMs: 0 };
}

async function bodySnippet(response: Response): Promise<string> {
  try {
    // bytes, not characters: at most this much of the body is ever read
    const text = await responseSnippet(response, ERROR_BODY_CHARS);
    return text === "" ? "" : `: ${text.slice(0, ERROR_BODY_CHARS)}`;
  } catch {
    return "";
  }
}

function describeFetchError(error: Error, timeoutMs: number): string {
  if (error.name === "TimeoutError") return `no answer within ${timeoutMs} ms`;
  const cause = (error as Error & { cause?: { code?: string; message?: string } }).cause;
  const detail = cause?.code ?? cause?.message;
  return detail ? `${error.message}: ${detail}` : error.message;
}
