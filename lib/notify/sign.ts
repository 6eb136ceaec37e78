/**
 * Standard Webhooks signing (spec v1.0.0, "Signature scheme"), through the reference library so the
 * bytes are exactly what every Standard Webhooks verifier computes:
 * `webhook-signature: v1,` + base64(HMAC-SHA256(key, `${webhook-id}.${webhook-timestamp}.${body}`)).
 */
import { Webhook } from "standardwebhooks";

/**
 * The Standard Webhooks headers for one delivery attempt: `webhook-id` (stable across every retry of
 * one notification), `webhook-timestamp` (this attempt's Unix seconds; verifiers reject ones outside
 * their tolerance, 5 min in the reference library) and `webhook-signature`. `secret` is the webhook's `whsec_…`.
 * Without one there is no timestamp or signature (a signature nobody can check is noise), but the
 * `webhook-id` still goes out: it is the idempotency key that spares a receiver duplicate pages
 * after a retry (docs/alerting.md A2, alertmanager#4108).
 * Sign per attempt, not per notification: each retry carries a fresh timestamp, which a receiver
 * checks against its tolerance, so an hours-later retry signed at the first attempt would be refused.
 */
export function signatureHeaders(
  secret: string | null,
  messageId: string,
  timestamp: Date,
  body: string,
): Record<string, string> {
  if (secret === null) return { "webhook-id": messageId };
  return {
    "webhook-id": messageId,
    "webhook-timestamp": String(Math.floor(timestamp.getTime() / 1000)),
    "webhook-signature": new Webhook(secret).sign(messageId, timestamp, body),
  };
}
