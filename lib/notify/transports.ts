/**
 * The e-mail receiver's transport: SMTP through nodemailer, one connection per attempt (alerts are
 * rare; a pooled connection would outlive a relay's idle timeout). Every attempt of a notification
 * carries the same Message-ID, so a mail system that saw the first copy can drop the second.
 */
import net from "node:net";
import nodemailer from "nodemailer";
import { checkLiteralHost, egressLookup } from "@/lib/egress";
import type { Outcome } from "./outbox";
import type { EmailContent, ReceiverOptions } from "./receivers";

export interface SmtpAnswer {
  outcome: Outcome;
  /** the server's answer or the connection problem; null when delivered */
  error: string | null;
  durationMs: number;
}

/** The SMTP port for a TLS mode when the URL has none (RFC 8314: 465 implicit TLS, 587 submission). */
export function defaultSmtpPort(tls: "starttls" | "tls" | "none"): number {
  return tls === "tls" ? 465 : tls === "starttls" ? 587 : 25;
}

/** The `smtp://host:port` a receiver's password is bound to and its `url` column holds. */
export function smtpUrl(smtp: { host: string; port?: number; tls: "starttls" | "tls" | "none" }): string {
  const host = smtp.host.includes(":") && !smtp.host.startsWith("[") ? `[${smtp.host}]` : smtp.host;
  return `smtp://${host}:${smtp.port ?? defaultSmtpPort(smtp.tls)}`;
}

/**
 * What an SMTP answer means for the notification: a 4xx reply is transient (RFC 5321 §4.2.1),
 * a 5xx one permanent; no answer at all is worth retrying.
 */
export function classifySmtp(error: { responseCode?: number; code?: string }): Outcome {
  const code = error.responseCode;
  if (code !== undefined && code >= 500) return "failed";
  return "retry";
}

export async function sendEmail(input: {
  url: string;
  options: ReceiverOptions;
  password: string | null;
  messageId: string;
  content: EmailContent;
  timeoutMs: number;
  signal: AbortSignal;
}): Promise<SmtpAnswer | null> {
  const started = performance.now();
  const smtp = input.options.smtp;
  if (!smtp || !input.options.to?.length || !input.options.from) {
    return { outcome: "failed", error: "e-mail receiver without smtp, from or to", durationMs: 0 };
  }
  const url = new URL(input.url);
  const hostname = url.hostname.replace(/^\[|\]$/g, "");
  let address: string;
  try {
    // the egress policy (lib/egress.ts) decides, and the connection goes to the address it checked
    checkLiteralHost(hostname);
    address = await new Promise<string>((resolve, reject) =>
      egressLookup(hostname, {}, (err, a) => (err ? reject(err) : resolve(a as string))),
    );
  } catch (error) {
    return { outcome: "retry", error: `SMTP ${hostname}: ${(error as Error).message}`, durationMs: performance.now() - started };
  }
  const transport = nodemailer.createTransport({
    host: address,
    name: "brokerwatch",
    port: Number(url.port),
    secure: smtp.tls === "tls",
    requireTLS: smtp.tls === "starttls",
    ignoreTLS: smtp.tls === "none",
    auth: smtp.username ? { user: smtp.username, pass: input.password ?? "" } : undefined,
    // the certificate is checked against the name, not the address connected to
    tls: { rejectUnauthorized: smtp.verifyCertificate, servername: net.isIP(hostname) ? undefined : hostname },
    connectionTimeout: input.timeoutMs,
    greetingTimeout: input.timeoutMs,
    socketTimeout: input.timeoutMs,
  });
  const abort = () => transport.close();
  input.signal.addEventListener("abort", abort, { once: true });
  try {
    await transport.sendMail({
      from: input.options.from,
      to: input.options.to,
      subject: input.content.subject,
      text: input.content.text,
      html: input.content.html,
      messageId: `<${input.messageId}@brokerwatch>`,
    });
    return { outcome: "delivered", error: null, durationMs: performance.now() - started };
  } catch (error) {
    if (input.signal.aborted) return null;
    const e = error as Error & { responseCode?: number; code?: string; response?: string };
    const detail = e.response ?? e.message;
    return {
      outcome: classifySmtp(e),
      error: `SMTP ${e.responseCode ?? e.code ?? "error"}: ${detail}`.slice(0, 300),
      durationMs: performance.now() - started,
    };
  } finally {
    input.signal.removeEventListener("abort", abort);
    transport.close();
  }
}
