import { mkdir } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { ROOT, startApp, type RunningApp } from "../helpers/app";
import { launchChromium, signIn, screenshotPath } from "../helpers/browser";
import { startMosquitto, type RunningMosquitto } from "../helpers/mosquitto";
import { waitFor } from "../helpers/ports";
import { describeIf, needs } from "../helpers/require";

/**
 * The settings pages as an operator uses them: signing in and out, handing a colleague a
 * read-only account, minting an API token for a script and revoking it, and adding a real
 * Mosquitto after testing the connection.
 */
const ADMIN_PASSWORD = "settings-ui-admin-password";
const API_TOKEN = "settings-ui-bootstrap-token";
/** pages re-render after router.refresh(); a loaded machine (parallel builds) can take seconds */
const POLL = { timeout: 15_000, interval: 100 };

describeIf(needs({ chromium: true, mosquitto: true }), "settings in a browser", () => {
  let app: RunningApp;
  let browser: Browser;
  let mosquitto: RunningMosquitto;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    [app, browser, mosquitto] = await Promise.all([
      startApp({ env: { BROKERWATCH_ADMIN_PASSWORD: ADMIN_PASSWORD, BROKERWATCH_API_TOKEN: API_TOKEN } }),
      launchChromium(),
      startMosquitto(["allow_anonymous true", "sys_interval 1"]),
    ]);
    // startApp builds first, under a lock shared with every other test run in this tree
  }, 900_000);
  afterAll(async () => {
    await Promise.all(contexts.map((c) => c.close().catch(() => {})));
    await browser?.close();
    await app?.stop();
    await mosquitto?.stop();
  });

  async function newPage(): Promise<Page> {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 800 },
      colorScheme: "light",
      permissions: ["clipboard-read", "clipboard-write"],
    });
    contexts.push(context);
    return context.newPage();
  }

  const hasSession = async (page: Page) =>
    (await page.context().cookies(app.url)).some((c) => c.name === "bw_session" && c.value !== "");

  async function logOut(page: Page) {
    await page.getByRole("button", { name: "Log out" }).click();
    await page.waitForURL(/\/login/);
    expect(await hasSession(page)).toBe(false);
  }

  it("signs in, signs out, and turns a wrong password away without a session", async () => {
    const page = await newPage();
    await page.goto(`${app.url}/settings`);
    await page.waitForURL(/\/login\?next=%2Fsettings/);

    await page.getByLabel("Username").fill("admin");
    await page.getByLabel("Password").fill("not-the-password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect
      .poll(() => page.locator("form [role=alert]").textContent(), POLL)
      .toMatch(/wrong username or password/);
    expect(await hasSession(page)).toBe(false);
    expect(page.url()).toMatch(/\/login/);

    await page.getByLabel("Password").fill(ADMIN_PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${app.url}/settings`);
    expect(await hasSession(page)).toBe(true);
    expect(await page.getByTestId("signed-in-as").textContent()).toMatch(/admin · admin/);

    await logOut(page);
    await page.goto(`${app.url}/settings/users`);
    await page.waitForURL(/\/login/);
  });

  it("gives a colleague a viewer account that sees every setting and can change none", async () => {
    const page = await newPage();
    await signIn(page, app.url, "admin", ADMIN_PASSWORD, "/settings/users");
    const form = page.getByRole("form", { name: "Add a user" });
    await form.getByLabel("Username").fill("vera");
    await form.getByLabel("Password").fill("vera-password-1");
    await form.getByLabel("Role").selectOption("viewer");
    await form.getByRole("button", { name: "Add user" }).click();
    await expect.poll(() => page.locator('[data-user-row="vera"]').textContent(), POLL).toMatch(/vera.*viewer/);
    await logOut(page);

    await signIn(page, app.url, "vera", "vera-password-1", "/settings/brokers");
    expect(await page.getByTestId("signed-in-as").textContent()).toMatch(/vera · viewer/);
    const main = page.locator("main");
    for (const section of ["brokers", "webhooks", "rules", "tokens", "users"]) {
      await page.goto(`${app.url}/settings/${section}`);
      await page.getByTestId("read-only-note").waitFor();
      // what there is to see is there…
      if (section === "brokers") expect(await page.locator('[data-broker-row="bundled"]').count()).toBe(1);
      if (section === "users") expect(await page.locator('[data-user-row="admin"]').count()).toBe(1);
      if (section === "rules") expect(await page.locator('[data-rule-row="MQTT_Broker_Down"]').count()).toBe(1);
      // …and nothing to change it with
      expect(await main.locator("button:enabled").count(), section).toBe(0);
      expect(await main.locator("form").count(), section).toBe(0);
      expect(await main.locator("input:enabled, select:enabled, textarea:enabled").count(), section).toBe(0);
      expect(await main.getByRole("link", { name: "New rule" }).count(), section).toBe(0);
    }

    // The API refuses the viewer's session whatever the page shows.
    const res = await page.request.post(`${app.url}/api/tokens`, {
      data: { name: "sneaky", role: "admin" },
      headers: { origin: app.url },
    });
    expect(res.status()).toBe(403);
    expect((await res.json()).error.message).toMatch(/needs an admin/);
    const patch = await page.request.patch(`${app.url}/api/brokers/bundled`, {
      data: { enabled: false },
      headers: { origin: app.url },
    });
    expect(patch.status()).toBe(403);
  });

  it("creates an API token that works against the API until it is revoked in the UI", async () => {
    const page = await newPage();
    await signIn(page, app.url, "admin", ADMIN_PASSWORD, "/settings/tokens");
    const form = page.getByRole("form", { name: "Create an API token" });
    await form.getByLabel("Token name").fill("ci-script");
    await form.getByRole("button", { name: "Create token" }).click();

    const shown = page.getByTestId("new-token");
    await shown.waitFor();
    expect(await shown.textContent()).toMatch(/you won't see it again/);
    const token = await page.getByTestId("new-token-value").inputValue();
    expect(token).toMatch(/^bw_/);
    await shown.getByRole("button", { name: "Copy" }).click();
    await shown.getByRole("button", { name: "Copied" }).waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(token);

    const brokers = () => fetch(`${app.url}/api/brokers`, { headers: { authorization: `Bearer ${token}` } });
    expect((await brokers()).status).toBe(200);

    await shown.getByRole("button", { name: "Done" }).click();
    expect(await page.getByTestId("new-token").count()).toBe(0);
    const row = page.locator('[data-token-row="ci-script"]');
    await expect.poll(() => row.textContent(), POLL).toMatch(/active/);
    expect(await row.textContent()).toContain(token.slice(0, 10));
    await row.getByRole("button", { name: "Revoke" }).click();
    await row.getByRole("button", { name: "Revoke ci-script" }).click();
    await page.getByRole("status").filter({ hasText: 'Token "ci-script" revoked' }).waitFor();
    await expect.poll(() => row.textContent(), POLL).toMatch(/revoked/);

    const after = await brokers();
    expect(after.status).toBe(401);
  });

  it("adds a real Mosquitto after testing the connection, and it comes up", async () => {
    const page = await newPage();
    await signIn(page, app.url, "admin", ADMIN_PASSWORD, "/settings/brokers");
    await page.getByRole("button", { name: "Add broker" }).click();
    const form = page.getByRole("form", { name: "Add a broker" });
    await form.getByLabel("Name", { exact: true }).fill("plant-ui");
    await form.getByLabel("URL", { exact: true }).fill(mosquitto.url);

    await form.getByRole("button", { name: "Test connection" }).click();
    const report = form.getByTestId("connection-test-result");
    await report.waitFor({ timeout: 15_000 });
    expect(await report.getByTestId("test-connected").textContent()).toMatch(/Connected in \d+ ms/);
    expect(await report.getByTestId("test-version").textContent()).toMatch(/^2\.\d+\.\d+/);
    expect(await report.getByTestId("test-dialect").textContent()).toBe("mosquitto");
    expect(await report.getByTestId("test-sys").textContent()).toMatch(/^yes/);

    await mkdir(path.join(ROOT, "docs", "screenshots"), { recursive: true });
    await page.screenshot({ path: screenshotPath("settings.png") });

    await form.getByRole("button", { name: "Add broker" }).click();
    await page.getByRole("status").filter({ hasText: "Added plant-ui" }).waitFor();
    await page.locator('[data-broker-row="plant-ui"]').waitFor();

    const up = await waitFor(
      "plant-ui to be up in GET /api/brokers",
      async () => {
        const res = await fetch(`${app.url}/api/brokers`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
        const body = (await res.json()) as { brokers: { name: string; status: string; detectedDialect: string }[] };
        return body.brokers.find((b) => b.name === "plant-ui" && b.status === "up");
      },
      20_000,
    );
    expect(up.detectedDialect).toBe("mosquitto");

    await page.goto(`${app.url}/brokers`);
    await expect.poll(() => page.locator('[data-broker="plant-ui"]').textContent(), POLL).toMatch(/up/);
  });

  /** The requests a page sends to one API path, by method. */
  function apiRequests(page: Page, pathname: string): string[] {
    const seen: string[] = [];
    page.on("request", (req) => {
      if (new URL(req.url()).pathname === pathname) seen.push(req.method());
    });
    return seen;
  }

  /** An admin on /settings/<what>s with the "Add a <what>" form open, counting the requests to /api/<what>s. */
  async function openAddForm(what: "broker" | "webhook") {
    const page = await newPage();
    await signIn(page, app.url, "admin", ADMIN_PASSWORD, `/settings/${what}s`);
    const sent = apiRequests(page, `/api/${what}s`);
    await page.getByRole("button", { name: `Add ${what}` }).click();
    const form = page.getByRole("form", { name: `Add a ${what}` });
    const fill = async (name: string, url: string) => {
      await form.getByLabel("Name", { exact: true }).fill(name);
      await form.getByLabel("URL", { exact: true }).fill(url);
    };
    const submit = () => form.getByRole("button", { name: `Add ${what}` }).click();
    return { page, form, sent, fill, submit };
  }

  it("checks a broker form with the API's own rules before sending it, and points at the field the API refuses", async () => {
    const { page, form, sent, fill, submit } = await openAddForm("broker");
    const name = form.getByLabel("Name", { exact: true });
    await fill("plant a", "http://10.0.0.5");
    await submit();

    // refused in the browser, in the words the API uses, at each field
    const nameError = form.locator(`[id="${await name.getAttribute("id")}-error"]`);
    await expect.poll(() => nameError.textContent(), POLL).toMatch(/^name: /);
    expect(await name.getAttribute("aria-invalid")).toBe("true");
    expect(await form.locator("[role=alert]").allTextContents()).toEqual(
      expect.arrayContaining([expect.stringMatching(/^url: /)]),
    );
    expect(sent).toEqual([]);

    // valid as far as the browser can tell; the API finds the name taken and the form shows it there
    await fill("bundled", mosquitto.url);
    await submit();
    await expect.poll(() => nameError.textContent(), POLL).toMatch(/a broker named "bundled" already exists/);
    expect(sent).toEqual(["POST"]);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe(await name.getAttribute("id"));
  });

  it("refuses a webhook header line that is not Name: value, and a user name with a space, without a request", async () => {
    const { page, form: webhook, sent: webhookRequests, fill, submit } = await openAddForm("webhook");
    await fill("ops-hook", "http://127.0.0.1:9/hook");
    await webhook.getByLabel("Headers").fill("X-Team: ops\nno colon here");
    await submit();
    await expect
      .poll(() => webhook.locator("[role=alert]").textContent(), POLL)
      .toBe('headers: line 2 is not "Name: value"');
    expect(webhookRequests).toEqual([]);

    await page.goto(`${app.url}/settings/users`);
    const userRequests = apiRequests(page, "/api/users");
    const users = page.getByRole("form", { name: "Add a user" });
    await users.getByLabel("Username").fill("vera smith");
    await users.getByLabel("Password").fill("long-enough-password");
    await users.getByRole("button", { name: "Add user" }).click();
    await expect.poll(() => users.locator("[role=alert]").textContent(), POLL).toMatch(/^username: must be 1 to 64/);
    expect(await users.getByLabel("Username").getAttribute("aria-invalid")).toBe("true");
    expect(userRequests).toEqual([]);
  });

  it("mounts the rule editor on the rules tab for an admin", async () => {
    const page = await newPage();
    await signIn(page, app.url, "admin", ADMIN_PASSWORD, "/settings/rules");
    expect(await page.locator('[data-rule-row="MQTT_Broker_Down"]').count()).toBe(1);
    await page.getByRole("link", { name: "New rule" }).click();
    await page.waitForURL(/\/settings\/rules\?new/);
    await page.getByRole("heading", { name: "New alert rule" }).waitFor();
    expect(await page.locator("main form, main textarea, main input").count()).toBeGreaterThan(0);
  });
});
