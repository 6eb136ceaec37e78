import { describe, expect, it } from "vitest";
import { Webhook } from "standardwebhooks";
import { signatureHeaders } from "@/lib/notify/sign";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

describe("Standard Webhooks signature", () => {
  it("verifies with the reference library on the receiving side", () => {
    const body = JSON.stringify({ version: "4", status: "firing", alerts: [] });
    const headers = signatureHeaders(SECRET, "msg_abc", new Date(), body);
    expect(new Webhook(SECRET).verify(body, headers)).toEqual(JSON.parse(body));
  });

  it("fails verification when a single byte of the body changed in transit", () => {
    const body = '{"status":"firing"}';
    const headers = signatureHeaders(SECRET, "msg_abc", new Date(), body);
    expect(() => new Webhook(SECRET).verify('{"status":"resolved"}', headers)).toThrow(/No matching signature/);
  });

  it("puts the attempt's time, in Unix seconds, in webhook-timestamp", () => {
    const headers = signatureHeaders(SECRET, "msg_abc", new Date("2026-05-01T10:00:00.900Z"), "{}");
    expect(headers["webhook-timestamp"]).toBe(String(Date.parse("2026-05-01T10:00:00Z") / 1000));
  });

  it("sends only the idempotency key for a webhook without a secret", () => {
    expect(signatureHeaders(null, "msg_abc", new Date(), "{}")).toEqual({ "webhook-id": "msg_abc" });
  });
});
