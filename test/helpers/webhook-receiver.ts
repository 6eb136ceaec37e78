import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";

/**
 * A webhook receiver as an operator would run one: a node:http server on a free port that records
 * every POST, checks its Standard Webhooks signature with the reference library (the same check a
 * real receiver makes, so a signing bug cannot hide behind our own code), and can be told to
 * answer 503 to the next N requests to exercise the sender's retries.
 */
export interface ReceivedWebhook {
  /** wall-clock ms (performance.timeOrigin + performance.now()) when the body was complete */
  at: number;
  method: string;
  path: string;
  /** lower-case header names, as node:http gives them */
  headers: Record<string, string>;
  /** the exact bytes received */
  body: string;
  /** the body parsed as JSON, or null when it is not JSON */
  json: AlertmanagerMessage | null;
  /** the status this receiver answered with */
  answered: number;
  /** `Webhook.verify` accepted the signature headers for this body */
  signatureValid: boolean;
  /** why verification failed, when it did */
  signatureError: string | null;
}

/** The Alertmanager webhook body, version "4" (docs/contract.md §6). */
export interface AlertmanagerMessage {
  version: string;
  groupKey: string;
  truncatedAlerts?: number;
  status: "firing" | "resolved";
  receiver: string;
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  externalURL: string;
  alerts: {
    status: "firing" | "resolved";
    labels: Record<string, string>;
    annotations: Record<string, string>;
    startsAt: string;
    endsAt: string;
    generatorURL: string;
    fingerprint: string;
  }[];
}

export interface WebhookReceiver {
  url: string;
  /** the `whsec_…` secret signatures are checked against */
  secret: string;
  /** every request, oldest first */
  readonly requests: ReceivedWebhook[];
  /** answer `status` (503 by default) to the next `n` requests, then 200 again */
  failNext(n: number, status?: number): void;
  /** the first recorded request (already received or still to come) that satisfies `match` */
  waitFor(what: string, match: (r: ReceivedWebhook) => boolean, timeoutMs?: number): Promise<ReceivedWebhook>;
  /** called for each request as it completes (the benchmark timestamps arrivals here) */
  on(event: "request", listener: (r: ReceivedWebhook) => void): unknown;
  off(event: "request", listener: (r: ReceivedWebhook) => void): unknown;
  close(): Promise<void>;
}

/** A fresh Standard Webhooks secret: `whsec_` + base64 of 32 random bytes. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

export async function startWebhookReceiver(
  opts: { secret?: string; /** the URL's path, `/alertmanager` by default */ path?: string } = {},
): Promise<WebhookReceiver> {
  const secret = opts.secret ?? newWebhookSecret();
  const verifier = new Webhook(secret);
  const requests: ReceivedWebhook[] = [];
  const events = new EventEmitter<{ request: [ReceivedWebhook] }>();
  let failing = 0;
  let failStatus = 503;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const at = performance.timeOrigin + performance.now();
      const body = Buffer.concat(chunks).toString("utf8");
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value;
      }
      let signatureError: string | null = null;
      try {
        verifier.verify(body, headers);
      } catch (err) {
        signatureError = (err as Error).message;
      }
      let json: AlertmanagerMessage | null = null;
      try {
        json = JSON.parse(body) as AlertmanagerMessage;
      } catch {
        json = null;
      }
      const answered = failing > 0 ? failStatus : 200;
      if (failing > 0) failing--;
      const record: ReceivedWebhook = {
        at,
        method: req.method ?? "",
        path: req.url ?? "",
        headers,
        body,
        json,
        answered,
        signatureValid: signatureError === null,
        signatureError,
      };
      requests.push(record);
      res.writeHead(answered, { "content-type": "text/plain" });
      res.end(answered === 200 ? "ok" : "receiver unavailable (test)");
      events.emit("request", record);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}${opts.path ?? "/alertmanager"}`,
    secret,
    requests,
    failNext(n, status = 503) {
      failing = n;
      failStatus = status;
    },
    waitFor(what, match, timeoutMs = 15_000) {
      const found = requests.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const listener = (r: ReceivedWebhook) => {
          if (!match(r)) return;
          clearTimeout(timer);
          events.off("request", listener);
          resolve(r);
        };
        const timer = setTimeout(() => {
          events.off("request", listener);
          const seen = requests.map(
            (r) => `${r.answered} ${r.json?.status ?? "?"} ${r.json?.groupKey ?? r.body.slice(0, 80)}`,
          );
          reject(new Error(`no webhook request ${what} within ${timeoutMs} ms; received:\n  ${seen.join("\n  ")}`));
        }, timeoutMs);
        events.on("request", listener);
      });
    },
    on: (event, listener) => events.on(event, listener),
    off: (event, listener) => events.off(event, listener),
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
