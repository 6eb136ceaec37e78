import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type RunningApp } from "../helpers/app";

/** The login endpoint of the running app (the rules themselves: test/security-login.test.ts). */
describe("the login endpoint over HTTP", () => {
  let app: RunningApp;
  const PASSWORD = "security-login-admin-password";

  beforeAll(async () => {
    // the test itself is the "reverse proxy" on 127.0.0.1
    app = await startApp({ env: { BROKERWATCH_ADMIN_PASSWORD: PASSWORD, BROKERWATCH_TRUSTED_PROXIES: "127.0.0.1" } });
  }, 900_000);
  afterAll(async () => app?.stop());

  const login = (password: string, headers: Record<string, string> = {}) =>
    fetch(`${app.url}/api/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: app.url, ...headers },
      body: JSON.stringify({ username: "admin", password }),
    });

  it("refuses a login posted from another site or from Origin: null (login CSRF)", async () => {
    for (const origin of ["https://evil.example", "null"]) {
      const res = await login(PASSWORD, { origin });
      expect(res.status).toBe(403);
      expect(res.headers.get("set-cookie")).toBeNull();
    }
  });

  it("sends a signed-in user only to paths on this site", async () => {
    const res = await login(PASSWORD);
    expect(res.status).toBe(200);
    const cookie = (res.headers.get("set-cookie") ?? "").split(";")[0];
    for (const next of [
      "/\\evil.example",
      "/\t/evil.example",
      "/%5Cevil.example",
      "//evil.example",
      "https://evil.example/",
    ]) {
      const page = await fetch(`${app.url}/login?next=${encodeURIComponent(next)}`, {
        headers: { cookie },
        redirect: "manual",
      });
      expect(page.status, next).toBeGreaterThanOrEqual(300);
      expect(page.status, next).toBeLessThan(400);
      expect(page.headers.get("location"), next).toBe("/");
    }
    const good = await fetch(`${app.url}/login?next=${encodeURIComponent("/clients?q=a")}`, {
      headers: { cookie },
      redirect: "manual",
    });
    expect(good.headers.get("location")).toBe("/clients?q=a");
  });

  it("backs off one address behind the proxy with 429 and Retry-After, not the admin everywhere", async () => {
    const guesser = { "x-forwarded-for": "203.0.113.66" };
    // five free misses, then each miss doubles the wait (1 s, 2 s, 4 s, 8 s): wait them out until
    // the block is long enough that the next request surely lands inside it on a busy machine
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await login("wrong-guess", guesser);
      statuses.push(res.status);
      if (res.status !== 429) continue;
      const wait = Number(res.headers.get("retry-after"));
      if (wait >= 8) break;
      await new Promise((r) => setTimeout(r, wait * 1000));
    }
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.at(-1)).toBe(429);
    const refused = await login(PASSWORD, guesser);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    // the admin at another address behind the same proxy still signs in
    expect((await login(PASSWORD, { "x-forwarded-for": "203.0.113.10" })).status).toBe(200);
  });
});
