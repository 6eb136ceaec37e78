import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appFetch, startApp, type RunningApp } from "../helpers/app";
import { launchChromium, signIn } from "../helpers/browser";
import { needs } from "../helpers/require";
import { loginCookie } from "../helpers/session";

/**
 * What a session or token may still see after it ends, and what a viewer may see at all: an event
 * stream must close once its credential is revoked, a viewer must not read a webhook URL (a
 * Slack-style URL is the credential), and every response carries the security headers.
 */
const TOKEN = "security-stream-admin-token";
const ADMIN_PASSWORD = "security-stream-admin-password";
const VIEWER_PASSWORD = "security-stream-viewer-password";
const HOOK_URL = "https://hooks.slack-canary.invalid/services/T000/B000/xoxb-secret-path";
const RECHECK_MS = 300;

/** Read an event stream until the server ends it or `ms` pass; says which happened. */
function readStream(res: Response, ms: number) {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let timedOut = false;
  let sawEvent!: () => void;
  const firstEvent = new Promise<void>((r) => (sawEvent = r));
  const ended = (async () => {
    const deadline = setTimeout(() => {
      timedOut = true;
      void reader.cancel("test deadline");
    }, ms);
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
        if (text.includes("event: ")) sawEvent();
      }
    } catch {
      // cancelled by the deadline
    } finally {
      clearTimeout(deadline);
    }
    return { text, endedBy: timedOut ? ("deadline" as const) : ("server" as const), at: Date.now() };
  })();
  return { ended, firstEvent };
}

describe("sessions, tokens and viewers", () => {
  let app: RunningApp;
  let viewerId: number;

  const api = (path: string, init: RequestInit = {}) => appFetch(app, TOKEN, path, init);

  beforeAll(async () => {
    app = await startApp({
      env: {
        BROKERWATCH_API_TOKEN: TOKEN,
        BROKERWATCH_ADMIN_PASSWORD: ADMIN_PASSWORD,
        BROKERWATCH_STREAM_RECHECK_MS: String(RECHECK_MS),
      },
    });
    const user = await api("/api/users", {
      method: "POST",
      body: JSON.stringify({ username: "watcher", password: VIEWER_PASSWORD, role: "viewer" }),
    });
    expect(user.status).toBe(201);
    viewerId = ((await user.json()) as { user: { id: number } }).user.id;
    const hook = await api("/api/webhooks", { method: "POST", body: JSON.stringify({ name: "slack-canary", url: HOOK_URL }) });
    expect(hook.status).toBe(201);
  }, 900_000);
  afterAll(async () => app?.stop());

  it("closes the overview stream soon after its session logs out", async () => {
    const cookie = await loginCookie(app.url, "watcher", VIEWER_PASSWORD);
    const res = await fetch(`${app.url}/api/stream/overview`, { headers: { cookie } });
    expect(res.status).toBe(200);
    const stream = readStream(res, 15_000);
    await stream.firstEvent;
    const out = await fetch(`${app.url}/api/auth/logout`, { method: "POST", headers: { cookie, origin: app.url } });
    expect(out.status).toBe(200);
    const loggedOutAt = Date.now();
    const { endedBy, at } = await stream.ended;
    expect(endedBy).toBe("server");
    expect(at - loggedOutAt).toBeLessThan(RECHECK_MS * 10);
  });

  it("closes a broker's event stream soon after its API token is revoked", async () => {
    const created = await api("/api/tokens", { method: "POST", body: JSON.stringify({ name: "dashboard", role: "viewer" }) });
    expect(created.status).toBe(201);
    const { token, id } = (await created.json()) as { token: string; id: number };
    const res = await fetch(`${app.url}/api/stream/events?broker=bundled`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
    const stream = readStream(res, 15_000);
    await stream.firstEvent;
    expect((await api(`/api/tokens/${id}`, { method: "DELETE" })).status).toBeLessThan(300);
    const revokedAt = Date.now();
    const { endedBy, at } = await stream.ended;
    expect(endedBy).toBe("server");
    expect(at - revokedAt).toBeLessThan(RECHECK_MS * 10);
  });

  it("keeps a stream open while its credential still verifies", async () => {
    const res = await fetch(`${app.url}/api/stream/overview`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const stream = readStream(res, RECHECK_MS * 8);
    const { endedBy, text } = await stream.ended;
    expect(endedBy).toBe("deadline");
    expect(text).toContain("event: snapshot");
  });

  it("shows a viewer only the scheme and host of a webhook URL; an admin sees it whole", async () => {
    const viewer = await loginCookie(app.url, "watcher", VIEWER_PASSWORD);
    const admin = await loginCookie(app.url, "admin", ADMIN_PASSWORD);

    const asViewer = await (await fetch(`${app.url}/api/webhooks`, { headers: { cookie: viewer } })).text();
    expect(asViewer).not.toContain("xoxb-secret-path");
    expect(asViewer).toContain("https://hooks.slack-canary.invalid");
    const asAdmin = await (await fetch(`${app.url}/api/webhooks`, { headers: { cookie: admin } })).text();
    expect(asAdmin).toContain(HOOK_URL);

    for (const page of ["/settings/webhooks", "/alerts/webhooks"]) {
      const html = await (await fetch(`${app.url}${page}`, { headers: { cookie: viewer } })).text();
      expect(html, page).toContain("hooks.slack-canary.invalid");
      expect(html, page).not.toContain("xoxb-secret-path");
    }
    const settings = await (await fetch(`${app.url}/settings/webhooks`, { headers: { cookie: admin } })).text();
    expect(settings).toContain(HOOK_URL);
  });

  it("ends a user's sessions when an admin sets a new password", async () => {
    const viewer = await loginCookie(app.url, "watcher", VIEWER_PASSWORD);
    expect((await fetch(`${app.url}/api/webhooks`, { headers: { cookie: viewer } })).status).toBe(200);
    const changed = await api(`/api/users/${viewerId}`, {
      method: "PATCH",
      body: JSON.stringify({ password: `${VIEWER_PASSWORD}-2` }),
    });
    expect(changed.status).toBe(200);
    expect((await fetch(`${app.url}/api/webhooks`, { headers: { cookie: viewer } })).status).toBe(401);
  });

  it.skipIf(needs({ chromium: true }).length > 0)(
    "runs the overview and a broker page (inline bootstrap, uPlot charts, live streams) under the CSP",
    async () => {
      const browser = await launchChromium();
      try {
        const page = await browser.newPage();
        const violations: string[] = [];
        page.on("console", (m) => {
          if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
        });
        await page.addInitScript(() =>
          document.addEventListener("securitypolicyviolation", (e) =>
            console.error(`Content Security Policy violation: ${e.violatedDirective} ${e.blockedURI}`),
          ),
        );
        await signIn(page, app.url, "admin", ADMIN_PASSWORD);
        // the overview hydrated and its stream delivers: the bundled broker's row appears
        await page.getByText("bundled").first().waitFor({ timeout: 15_000 });
        await page.goto(`${app.url}/brokers/bundled`);
        await page.locator("canvas").first().waitFor({ timeout: 15_000 });
        expect(violations).toEqual([]);
        // and the detector does see a violation: an image from another origin is blocked
        await page.evaluate(() => {
          const img = document.createElement("img");
          img.src = "https://csp-canary.invalid/pixel.png";
          document.body.append(img);
        });
        await expect.poll(() => violations.join("\n")).toMatch(/img-src.*csp-canary/);
      } finally {
        await browser.close();
      }
    },
  );

  it("sends the security headers on pages and API responses", async () => {
    for (const path of ["/login", "/api/health", "/api/webhooks"]) {
      const res = await fetch(`${app.url}${path}`);
      const csp = res.headers.get("content-security-policy") ?? "";
      expect(csp, path).toContain("frame-ancestors 'none'");
      // pages: a per-request nonce (proxy.ts); API answers: no inline script at all
      expect(csp, path).toMatch(path === "/login" ? /script-src 'self' 'nonce-[^']+' 'strict-dynamic'/ : /script-src 'self';/);
      expect(csp, path).not.toMatch(/script-src[^;]*'unsafe-inline'/);
      expect(csp, path).toContain("object-src 'none'");
      expect(res.headers.get("x-frame-options"), path).toBe("DENY");
      expect(res.headers.get("x-content-type-options"), path).toBe("nosniff");
      expect(res.headers.get("referrer-policy"), path).toBe("same-origin");
    }
  });
});
