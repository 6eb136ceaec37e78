import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { eq } from "drizzle-orm";
import { sessions, users } from "@/db/schema";
import { checkOrigin } from "@/lib/auth/api";
import { ensureAdminUser } from "@/lib/auth/bootstrap";
import { clientAddress, LoginLimiter, parseTrustedProxies } from "@/lib/auth/login-limit";
import { safeNextPath } from "@/lib/auth/next-path";
import { createSession, sessionUser } from "@/lib/auth/session";
import { assertVerified, markVerified, UnverifiedCallerError } from "@/lib/auth/verified";
import { freshDatabase, type TestDatabase } from "./helpers/db";

// The loaders import "server-only", which throws outside React's server environment.
vi.mock("server-only", () => ({}));

describe("safeNextPath: where a signed-in user is sent after the login page", () => {
  it.each([
    ["/\\evil.example"],
    ["/\t/evil.example"],
    ["/\n/evil.example"],
    ["/\r\n/evil.example"],
    ["/%5Cevil.example"],
    ["/%5cevil.example"],
    ["/%2F/evil.example"],
    ["//evil.example"],
    ["///evil.example"],
    ["/\\/evil.example"],
    ["\\\\evil.example"],
    ["https://evil.example/"],
    ["http:evil.example"],
    ["javascript:alert(1)"],
    ["evil.example"],
    ["/\u0000/evil.example"],
    ["/\u007f/evil.example"],
    [" //evil.example"],
    [""],
    [["/a", "/b"]],
    [undefined],
  ])("refuses %j", (hostile) => {
    expect(safeNextPath(hostile)).toBe("/");
  });

  it.each([
    ["/", "/"],
    ["/clients?q=sensor-1&range=7d", "/clients?q=sensor-1&range=7d"],
    ["/clients/sensor%2F1", "/clients/sensor%2F1"],
    ["/brokers/plant-a#charts", "/brokers/plant-a#charts"],
    ["/settings/./users", "/settings/users"],
  ])("keeps the local path %j", (value, expected) => {
    expect(safeNextPath(value)).toBe(expected);
  });
});

describe("login back-off", () => {
  it("lets five misses through, then doubles the wait per miss, up to the cap", () => {
    const limiter = new LoginLimiter({ freeFailures: 5, baseDelayMs: 1000, maxDelayMs: 8000 });
    const t = 1_000_000;
    for (let i = 0; i < 5; i++) {
      expect(limiter.retryAfterMs("10.0.0.9|admin", t)).toBe(0);
      limiter.fail("10.0.0.9|admin", t);
    }
    expect(limiter.retryAfterMs("10.0.0.9|admin", t)).toBe(0);
    limiter.fail("10.0.0.9|admin", t);
    expect(limiter.retryAfterMs("10.0.0.9|admin", t)).toBe(1000);
    limiter.fail("10.0.0.9|admin", t + 1000);
    expect(limiter.retryAfterMs("10.0.0.9|admin", t + 1000)).toBe(2000);
    limiter.fail("10.0.0.9|admin", t + 3000);
    limiter.fail("10.0.0.9|admin", t + 7000);
    limiter.fail("10.0.0.9|admin", t + 15_000);
    expect(limiter.retryAfterMs("10.0.0.9|admin", t + 15_000)).toBe(8000);
    // a guesser elsewhere does not lock the admin out
    expect(limiter.retryAfterMs("10.0.0.1|admin", t + 15_000)).toBe(0);
    limiter.succeed("10.0.0.9|admin");
    expect(limiter.retryAfterMs("10.0.0.9|admin", t + 15_000)).toBe(0);
  });

  it("does not let a guesser reset its own block by flooding the map with other keys", () => {
    const limiter = new LoginLimiter({ freeFailures: 1, baseDelayMs: 60_000, maxEntries: 100 });
    const t = 5_000_000;
    limiter.fail("198.51.100.7|admin", t);
    limiter.fail("198.51.100.7|admin", t);
    expect(limiter.retryAfterMs("198.51.100.7|admin", t)).toBe(60_000);
    for (let i = 0; i < 1000; i++) limiter.fail(`198.51.100.7|flood-${i}`, t + 1);
    expect(limiter.size).toBeLessThanOrEqual(101);
    expect(limiter.retryAfterMs("198.51.100.7|admin", t + 2)).toBe(60_000 - 2);
  });
});

describe("the client address behind a reverse proxy", () => {
  const proxies = parseTrustedProxies("10.0.0.0/8, 192.0.2.1, fd00::/8");

  it("believes X-Forwarded-For only from a trusted proxy, reading it right to left", () => {
    expect(clientAddress("10.1.2.3", "203.0.113.5", proxies)).toBe("203.0.113.5");
    expect(clientAddress("::ffff:10.1.2.3", "203.0.113.5", proxies)).toBe("203.0.113.5");
    // the left part is whatever the client chose to send
    expect(clientAddress("10.1.2.3", "1.2.3.4, 203.0.113.5, 10.9.9.9", proxies)).toBe("203.0.113.5");
    expect(clientAddress("203.0.113.9", "1.2.3.4", proxies)).toBe("203.0.113.9");
    expect(clientAddress("127.0.0.1", "1.2.3.4", parseTrustedProxies(undefined))).toBe("127.0.0.1");
    expect(clientAddress("10.1.2.3", "not-an-address", proxies)).toBe("10.1.2.3");
  });

  it("refuses a malformed BROKERWATCH_TRUSTED_PROXIES entry with its name", () => {
    expect(() => parseTrustedProxies("10.0.0.0/33")).toThrow(/BROKERWATCH_TRUSTED_PROXIES: "10.0.0.0\/33"/);
    expect(() => parseTrustedProxies("proxy.internal")).toThrow(/not an IP address or CIDR/);
  });
});

describe("cookie mutations from another site", () => {
  const post = (origin: string | null) =>
    new Request("http://127.0.0.1:3000/api/auth/login", {
      method: "POST",
      headers: { host: "127.0.0.1:3000", ...(origin === null ? {} : { origin }) },
    });

  it("refuses Origin: null and a foreign origin as forbidden, accepts our own", () => {
    expect(() => checkOrigin(post("null"))).toThrow(/cross-site/);
    expect(() => checkOrigin(post("https://evil.example"))).toThrow(/cross-site/);
    expect(() => checkOrigin(post("http://127.0.0.1:3000"))).not.toThrow();
  });
});

describe("data loaders refuse a caller that was never checked", () => {
  it("throws for a hand-made user object, not for a verified one", async () => {
    const { activeAlerts } = await import("@/lib/alerts/console");
    const { overviewSnapshot } = await import("@/lib/overview/snapshot");
    const forged = { role: "admin" as const, username: "admin" };
    await expect(activeAlerts(forged)).rejects.toBeInstanceOf(UnverifiedCallerError);
    await expect(overviewSnapshot(forged)).rejects.toBeInstanceOf(UnverifiedCallerError);
    expect(() => assertVerified(null)).toThrow(UnverifiedCallerError);
    expect(() => assertVerified(markVerified({ role: "viewer", username: "v" }))).not.toThrow();
  });
});

describe("rotating BROKERWATCH_ADMIN_PASSWORD", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await freshDatabase();
  });
  afterAll(async () => db?.drop());

  it("ends the admin's sessions when the password changes, and only then", async () => {
    const d = db.database.db;
    await ensureAdminUser(d, "first-admin-password");
    const [admin] = await d.select().from(users).where(eq(users.username, "admin"));
    const { token } = await createSession(d, admin.id);

    await ensureAdminUser(d, "first-admin-password"); // a restart with the same value
    expect(await sessionUser(d, token)).toMatchObject({ username: "admin" });

    await ensureAdminUser(d, "rotated-admin-password");
    expect(await sessionUser(d, token)).toBeNull();
    expect(await d.select().from(sessions).where(eq(sessions.userId, admin.id))).toEqual([]);
  });
});
