import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appFetch, startApp, type RunningApp } from "../helpers/app";
import { launchChromium, signIn } from "../helpers/browser";
import { freePort } from "../helpers/ports";
import { needs } from "../helpers/require";
import { loginCookie } from "../helpers/session";

/**
 * What one viewer can do to the service and what viewers see: streams per credential are capped,
 * URLs come without their query (where `?token=` lives), a receiver's answer is for admins only,
 * and every page runs under a CSP whose scripts need this response's nonce.
 */
const TOKEN = "security-viewers-admin-token";
const ADMIN_PASSWORD = "security-viewers-admin-password";
const VIEWER_PASSWORD = "security-viewers-viewer-password";

describe("viewers and streams", () => {
  let app: RunningApp;
  let receiver: http.Server;
  let receiverUrl: string;
  let deadPort: number;
  const api = (path: string, init: RequestInit = {}) => appFetch(app, TOKEN, path, init);

  beforeAll(async () => {
    // a receiver that refuses everything with a body only admins should read
    receiver = http.createServer((req, res) => {
      req.resume();
      res.writeHead(500, { "content-type": "text/plain" }).end("internal receiver detail: db=10.9.8.7 user=ops");
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    deadPort = await freePort();
    app = await startApp({
      env: { BROKERWATCH_API_TOKEN: TOKEN, BROKERWATCH_ADMIN_PASSWORD: ADMIN_PASSWORD, BUNDLED_SYS_INTERVAL: "0.5" },
    });
    const user = await api("/api/users", {
      method: "POST",
      body: JSON.stringify({ username: "viewer", password: VIEWER_PASSWORD, role: "viewer" }),
    });
    expect(user.status).toBe(201);
    const broker = await api("/api/brokers", {
      method: "POST",
      body: JSON.stringify({
        name: "rabbit-q",
        url: `mqtt://127.0.0.1:${deadPort}/?auth=brokerquerysecret`,
        dialect: "rabbitmq",
        metricsUrl: `http://127.0.0.1:${deadPort}/metrics?token=metricsquerysecret`,
      }),
    });
    expect(broker.status, await broker.clone().text()).toBe(201);
    const hook = await api("/api/webhooks", { method: "POST", body: JSON.stringify({ name: "refusing", url: receiverUrl }) });
    expect(hook.status).toBe(201);
  }, 900_000);
  afterAll(async () => {
    await app?.stop();
    await new Promise((r) => receiver?.close(r));
  });

  it("caps open event streams per token at 20 with a clear 429, and a closed stream frees its slot", async () => {
    const created = await api("/api/tokens", { method: "POST", body: JSON.stringify({ name: "wallboard", role: "viewer" }) });
    const { token } = (await created.json()) as { token: string };
    const headers = { authorization: `Bearer ${token}` };
    const open: AbortController[] = [];
    try {
      for (let i = 0; i < 20; i++) {
        const abort = new AbortController();
        const path = i % 2 ? "/api/stream/overview" : "/api/stream/events?broker=bundled";
        const res = await fetch(`${app.url}${path}`, { headers, signal: abort.signal });
        expect(res.status, `stream ${i}`).toBe(200);
        open.push(abort);
      }
      const refused = await fetch(`${app.url}/api/stream/overview`, { headers });
      expect(refused.status).toBe(429);
      expect(refused.headers.get("retry-after")).toBe("5");
      const body = (await refused.json()) as { error: { message: string; maxStreams: number } };
      expect(body.error.message).toMatch(/too many open event streams for this credential: 20 of 20 \(BROKERWATCH_MAX_STREAMS\)/);

      // another credential is not affected
      const admin = await fetch(`${app.url}/api/stream/overview`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(admin.status).toBe(200);
      await admin.body?.cancel();

      open.pop()!.abort();
      await expect
        .poll(
          async () => {
            const again = await fetch(`${app.url}/api/stream/overview`, { headers });
            if (again.status === 200) open.push(new AbortController()), await again.body?.cancel();
            return again.status;
          },
          { timeout: 15_000, interval: 200 },
        )
        .toBe(200);
    } finally {
      for (const abort of open) abort.abort();
    }
  });

  it("shows a viewer broker URLs and metricsUrl without their query, everywhere; an admin sees them whole", async () => {
    const viewer = await loginCookie(app.url, "viewer", VIEWER_PASSWORD);
    const admin = await loginCookie(app.url, "admin", ADMIN_PASSWORD);
    // the scrape fails, and the overview's down reason quotes the metricsUrl
    await expect
      .poll(
        async () => {
          const res = await fetch(`${app.url}/api/stream/overview`, { headers: { cookie: admin } });
          const text = await readUntil(res, "event: snapshot", 10_000);
          return /metricsquerysecret/.test(text);
        },
        { timeout: 60_000, interval: 500 },
      )
      .toBe(true);

    const asAdmin = await (await fetch(`${app.url}/api/brokers`, { headers: { cookie: admin } })).text();
    expect(asAdmin).toContain("brokerquerysecret");
    const adminSettings = await (await fetch(`${app.url}/settings/brokers`, { headers: { cookie: admin } })).text();
    expect(adminSettings).toContain("metricsquerysecret");

    const places = ["/api/brokers", "/settings/brokers", "/settings", "/", "/brokers/rabbit-q", "/api/brokers/rabbit-q/gaps", "/brokers"];
    for (const place of places) {
      const res = await fetch(`${app.url}${place}`, { headers: { cookie: viewer } });
      expect(res.status, place).toBe(200);
      const text = await res.text();
      expect(text, place).not.toMatch(/brokerquerysecret|metricsquerysecret/);
    }
    const viewerList = (await (await fetch(`${app.url}/api/brokers`, { headers: { cookie: viewer } })).json()) as {
      brokers: { name: string; url: string }[];
    };
    expect(viewerList.brokers.find((b) => b.name === "rabbit-q")?.url).toBe(`mqtt://127.0.0.1:${deadPort}/?…`);
    const stream = await fetch(`${app.url}/api/stream/overview`, { headers: { cookie: viewer } });
    const snapshot = await readUntil(stream, "event: snapshot", 10_000);
    expect(snapshot).toContain(`http://127.0.0.1:${deadPort}/metrics?…`);
    expect(snapshot).not.toContain("metricsquerysecret");
  });

  it("shows the receiver's answer to admins only; a viewer sees the status code and a generic message", async () => {
    const hooks = (await (await api("/api/webhooks")).json()) as { webhooks: { id: number; name: string }[] };
    const id = hooks.webhooks.find((h) => h.name === "refusing")!.id;
    const test = await api(`/api/webhooks/${id}/test`, { method: "POST" });
    expect(((await test.json()) as { result: { error: string } }).result.error).toContain("internal receiver detail");

    // a real delivery: the bundled broker's rules are not needed, the outbox takes any notification
    const viewer = await loginCookie(app.url, "viewer", VIEWER_PASSWORD);
    const viewerTest = await fetch(`${app.url}/api/webhooks/${id}/test`, {
      method: "POST",
      headers: { cookie: viewer, origin: app.url },
    });
    expect(viewerTest.status).toBe(403);

    await expect
      .poll(
        async () => {
          const res = await api(`/api/webhooks/${id}/deliveries?limit=5`);
          const body = (await res.json()) as { attempts: { error: string | null }[] };
          return body.attempts.some((a) => a.error?.includes("internal receiver detail"));
        },
        { timeout: 120_000, interval: 1000 },
      )
      .toBe(true);
    for (const place of [`/api/webhooks/${id}/deliveries?limit=5`, "/alerts/webhooks"]) {
      const text = await (await fetch(`${app.url}${place}`, { headers: { cookie: viewer } })).text();
      expect(text, place).not.toContain("internal receiver detail");
      expect(text, place).toContain("HTTP 500 from the receiver (its answer is shown to admins only)");
    }
  }, 180_000);

  it("serves every page with a fresh script nonce and no 'unsafe-inline' for scripts; API answers run no script", async () => {
    const admin = await loginCookie(app.url, "admin", ADMIN_PASSWORD);
    const nonces = new Set<string>();
    for (const path of ["/login", "/", "/", "/settings", "/brokers/bundled"]) {
      const res = await fetch(`${app.url}${path}`, { headers: { cookie: admin } });
      const csp = res.headers.get("content-security-policy") ?? "";
      const scriptSrc = csp.split(";").map((d) => d.trim()).find((d) => d.startsWith("script-src")) ?? "";
      expect(scriptSrc, path).not.toContain("'unsafe-inline'");
      const nonce = /'nonce-([A-Za-z0-9+/=]+)'/.exec(scriptSrc)?.[1];
      expect(nonce, path).toBeTruthy();
      nonces.add(nonce!);
      const html = await res.text();
      const scripts = [...html.matchAll(/<script\b[^>]*>/g)].map((m) => m[0]);
      expect(scripts.length, path).toBeGreaterThan(0);
      for (const tag of scripts) expect(tag, path).toContain(`nonce="${nonce}"`);
    }
    expect(nonces.size).toBe(5);
    const apiCsp = (await api("/api/health")).headers.get("content-security-policy") ?? "";
    expect(apiCsp).toContain("script-src 'self'");
    expect(apiCsp).not.toContain("unsafe-inline");
  });

  it.skipIf(needs({ chromium: true }).length > 0)(
    "loads every page in Chromium with no CSP violation, and an injected inline handler does not run",
    async () => {
      const browser = await launchChromium();
      try {
        const page = await browser.newPage();
        const violations: string[] = [];
        page.on("console", (m) => {
          if (/Content Security Policy/i.test(m.text())) violations.push(`${new URL(page.url()).pathname}: ${m.text()}`);
        });
        await page.addInitScript(() =>
          document.addEventListener("securitypolicyviolation", (e) =>
            console.error(`Content Security Policy violation: ${e.violatedDirective} ${e.blockedURI}`),
          ),
        );
        await signIn(page, app.url, "admin", ADMIN_PASSWORD);
        await page.getByText("bundled").first().waitFor({ timeout: 15_000 });
        // the forms validate in the browser too (zod): open one
        await page.goto(`${app.url}/settings/brokers`);
        await page.waitForLoadState("networkidle").catch(() => undefined);
        const pages = [
          "/brokers",
          "/brokers/bundled",
          "/clients",
          "/alerts",
          "/alerts/rules",
          "/alerts/webhooks",
          "/settings",
          "/settings/brokers",
          "/settings/webhooks",
        ];
        for (const path of pages) {
          const res = await page.goto(`${app.url}${path}`);
          expect(res?.status(), path).toBe(200);
          await page.waitForLoadState("networkidle").catch(() => undefined);
        }
        await page.goto(`${app.url}/brokers/bundled`);
        await page.locator("canvas").first().waitFor({ timeout: 15_000 });
        expect(violations).toEqual([]);

        // markup injected into the page cannot run script: its inline handler is blocked and reported
        await page.evaluate(() => {
          const div = document.createElement("div");
          div.innerHTML = `<img src="/csp-probe-missing.png" onerror="window.__injected = 1">`;
          document.body.append(div);
        });
        await expect.poll(() => violations.join("\n"), { timeout: 10_000 }).toMatch(/script-src/);
        expect(await page.evaluate(() => (window as unknown as { __injected?: number }).__injected)).toBeUndefined();
      } finally {
        await browser.close();
      }
    },
    120_000,
  );
});

/** Read a response body until `marker` and one full event after it arrived, or `ms` passed. */
async function readUntil(res: Response, marker: string, ms: number): Promise<string> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const deadline = setTimeout(() => void reader.cancel(), ms);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      const at = text.indexOf(marker);
      if (at >= 0 && text.indexOf("\n\n", at) > 0) break;
    }
  } catch {
    // cancelled at the deadline
  } finally {
    clearTimeout(deadline);
    await reader.cancel().catch(() => {});
  }
  return text;
}
