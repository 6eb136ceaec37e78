import { describe, expect, it } from "vitest";
import { decryptSecret, encryptSecret } from "@/lib/crypto";

const AT = "mqtt://broker.example:1883";

describe("stored secret encryption", () => {
  it("round-trips a broker password and never stores it in clear", () => {
    const stored = encryptSecret("hunter2 ünï", "service-key", AT);
    expect(stored).not.toContain("hunter2");
    expect(decryptSecret(stored, "service-key", AT)).toBe("hunter2 ünï");
  });

  it("refuses to decrypt with another key instead of returning garbage", () => {
    const stored = encryptSecret("hunter2", "service-key", AT);
    expect(() => decryptSecret(stored, "other-key", AT)).toThrow(/BROKERWATCH_SECRET/);
  });

  it("detects a tampered value", () => {
    const stored = encryptSecret("hunter2", "k", AT);
    const parts = stored.split(".");
    parts[3] = Buffer.from("x" + Buffer.from(parts[3], "base64url").toString("latin1"), "latin1").toString("base64url");
    expect(() => decryptSecret(parts.join("."), "k", AT)).toThrow();
  });
});
