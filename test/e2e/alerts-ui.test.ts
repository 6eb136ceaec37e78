import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { migrateDatabase, openDatabase } from "@/db/client";
import { createUser } from "@/lib/auth/users";
import { ROOT, startApp, type RunningApp } from "../helpers/app";
import { launchChromium, signIn, screenshotPath } from "../helpers/browser";
import { describeIf, needs } from "../helpers/require";

const RULE = "Bundled_Crowded";
const VIEWER = { username: "oncall-viewer", password: "viewer-password-for-alerts-ui" };

/**
 * The viewer is created in the embedded database before the app opens it (PGlite allows one
 * process at a time, and there is no users API yet), so this file always runs on PGlite.
 */
async function dataDirWithViewer(): Promise<string> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "bw-alerts-ui-"));
  const database = await openDatabase({ dataDir });
  await migrateDatabase(database);
  await createUser(database.db, VIEWER.username, VIEWER.password, "viewer");
  await database.close();
  return dataDir;
}

/** A webhook receiver that is down for its first request (503) and fine afterwards. */
async function flakyReceiver(): Promise<{ url: string; statuses: number[]; close(): Promise<void> }> {
  const statuses: number[] = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const status = statuses.length === 0 ? 503 : 200;
      statuses.push(status);
      res.writeHead(status).end(status === 503 ? "Service Unavailable" : "ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    statuses,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describeIf(needs({ chromium: true }), "alerts in a browser", () => {
  let receiver: Awaited<ReturnType<typeof flakyReceiver>>;
  let app: RunningApp;
  let browser: Browser;
  let admin: BrowserContext;
  let page: Page;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    const dataDir = await dataDirWithViewer();
    receiver = await flakyReceiver();
    const config = path.join(dataDir, "brokerwatch.yaml");
    await writeFile(config, `webhooks:\n  - name: ops-oncall\n    url: ${receiver.url}\n`);
    [app, browser] = await Promise.all([
      startApp({ dataDir, database: "pglite", env: { BROKERWATCH_CONFIG: config } }),
      launchChromium(),
    ]);
    admin = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: "light" });
    page = await admin.newPage();
    await signIn(page, app.url, "admin", app.adminPassword!, "/alerts");
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync().catch(() => {})));
    await browser?.close();
    await app?.stop();
    await receiver?.close();
  });

  const alertCard = (p: Page) => p.locator(`[data-alert="${RULE}"]`);

  it("shows the empty state with the number of rules evaluated", async () => {
    await expect.poll(() => page.getByText("No alerts firing.").count()).toBe(1);
    expect(await page.getByText(/brokerwatch evaluates 6 rules every second/).count()).toBe(1);
  });

  it("creates a rule in the editor, whose preview shows the current value before saving", async () => {
    await page.goto(`${app.url}/alerts/rules/new`);
    await page.getByLabel("Name").fill(RULE);
    await page.getByLabel("Expression").fill('mqtt_connections_current{broker="bundled"} >= 2');
    await page.getByLabel("For", { exact: true }).fill("0s");
    await page.getByLabel("Severity").selectOption("warning");
    await page.getByLabel("Summary").fill("{{ $labels.broker }} has {{ $value }} clients connected");
    await page.getByLabel("Description").fill("More than one client on the bundled broker: a load test is running.");
    await page.getByLabel("Description").fill("More than one client on the bundled broker: a load test is running.");

    // No client is connected yet: the condition is false, and the preview says what the value is.
    const preview = page.getByTestId("rule-preview");
    await expect.poll(() => preview.getAttribute("data-preview"), { timeout: 15_000 }).toBe("result");
    expect(await preview.getByText("Would not alert now").count()).toBe(1);
    expect(await preview.getByText("Current value of the left side of >=").count()).toBe(1);
    const current = await preview.getByTestId("preview-value").first().textContent();
    expect(Number(current)).toBeLessThan(2);

    // A syntax error points at its position, live.
    await page.getByLabel("Expression").fill('mqtt_connections_current{broker="bundled"} >=');
    await expect.poll(() => preview.getAttribute("data-preview")).toBe("invalid");
    expect(await preview.locator("mark").count()).toBe(1);
    await page.getByLabel("Expression").fill('mqtt_connections_current{broker="bundled"} >= 2');
    await expect.poll(() => preview.getAttribute("data-preview")).toBe("result");

    await page.getByRole("button", { name: "Create rule" }).click();
    await page.waitForURL(`${app.url}/alerts/rules`);
    const row = page.locator(`[data-rule="${RULE}"]`);
    await expect.poll(() => row.count()).toBe(1);
    expect(await row.getByText("created in the UI").count()).toBe(1);
    expect(await page.locator('[data-rule="MQTT_Broker_Down"]').getByText("built-in").count()).toBe(1);
  });

  it("shows the alert firing on /alerts without a reload once two clients connect", async () => {
    await page.goto(`${app.url}/alerts`);
    expect(await alertCard(page).count()).toBe(0);
    for (const id of ["alerts-ui-1", "alerts-ui-2"]) {
      clients.push(await mqtt.connectAsync(app.mqttUrl!, { clientId: id, reconnectPeriod: 0 }));
    }
    // The page refreshes itself: no goto or reload from here on.
    await expect
      .poll(() => page.locator(`[data-alert="${RULE}"][data-state="firing"]`).count(), { timeout: 45_000 })
      .toBe(1);
    const card = alertCard(page);
    expect(await card.getByText(/bundled has \d+ clients connected/).count()).toBe(1);
    expect(await card.getByText("broker=").count()).toBe(1);
    // the value with its unit, read from the rule's metric
    const value = (await card.getByTestId("alert-value").textContent())!;
    expect(value).toMatch(/^\d+ connections$/);
    expect(Number.parseFloat(value)).toBeGreaterThanOrEqual(2);
    // the broker label leads to the broker's page
    expect(await card.getByRole("link", { name: "bundled", exact: true }).getAttribute("href")).toBe("/brokers/bundled");
    expect(await card.locator("time").first().getAttribute("title")).toMatch(/UTC$/);

    await mkdir(path.join(ROOT, "docs", "screenshots"), { recursive: true });
    await page.mouse.move(0, 0);
    await page.screenshot({ path: screenshotPath("alerts.png") });
  });

  it("silences the alert from its card, with matchers pre-filled from alertname and broker", async () => {
    const card = alertCard(page);
    await card.getByRole("button", { name: "Silence" }).click();
    const form = card.getByRole("form", { name: "Silence this alert" });
    expect(await form.getByRole("checkbox", { name: `alertname="${RULE}"` }).isChecked()).toBe(true);
    expect(await form.getByRole("checkbox", { name: 'broker="bundled"' }).isChecked()).toBe(true);
    expect(await form.getByRole("checkbox", { name: 'severity="warning"' }).isChecked()).toBe(false);
    await form.getByRole("radio", { name: "4 hours" }).click();
    await form.getByLabel("Comment").fill("load test in progress");
    await form.getByRole("button", { name: "Create silence" }).click();
    await expect.poll(() => card.getByText(/silenced until/).count()).toBe(1);

    await page.goto(`${app.url}/alerts/silences`);
    const row = page.locator('[data-status="active"]', { hasText: `alertname="${RULE}"` });
    expect(await row.count()).toBe(1);
    expect(await row.getByText('broker="bundled"').count()).toBe(1);
    expect(await row.getByText("load test in progress").count()).toBe(1);
    expect(await row.getByText("Mutes 1 active alert now").count()).toBe(1);
  });

  it("a viewer sees the firing alert and the silence but no Silence or Expire button", async () => {
    const context = await browser.newContext();
    try {
      const viewer = await context.newPage();
      await signIn(viewer, app.url, VIEWER.username, VIEWER.password, "/alerts");
      // The login form navigates client-side: the URL changes before the page has rendered.
      await expect.poll(() => viewer.locator(`[data-alert="${RULE}"][data-state="firing"]`).count()).toBe(1);
      expect(await viewer.getByRole("button", { name: "Silence" }).count()).toBe(0);
      await viewer.goto(`${app.url}/alerts/silences`);
      expect(await viewer.locator('[data-status="active"]').count()).toBe(1);
      expect(await viewer.getByRole("button", { name: "Expire" }).count()).toBe(0);
      await viewer.goto(`${app.url}/alerts/rules`);
      expect(await viewer.getByRole("link", { name: "New rule" }).count()).toBe(0);
      expect(await viewer.getByRole("link", { name: "Edit" }).count()).toBe(0);
      await viewer.goto(`${app.url}/alerts/rules/new`);
      await viewer.waitForURL(/\/alerts\/rules\?denied=1$/);
    } finally {
      await context.close();
    }
  });

  it("expires the silence, which moves to the expired list", async () => {
    await page.getByRole("button", { name: "Expire" }).click();
    await expect.poll(() => page.locator('[data-status="active"]').count()).toBe(0);
    expect(await page.locator('[data-status="expired"]', { hasText: `alertname="${RULE}"` }).count()).toBe(1);
  });

  it("resolves into history with its duration once the clients disconnect", async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync()));
    await page.goto(`${app.url}/alerts/history`);
    const rows = page.locator(`[data-history="${RULE}"]`);
    const resolved = page.locator(`[data-history="${RULE}"][data-state="resolved"]`);
    // A loaded machine can make the bundled broker's heartbeat look stale, which ends and restarts
    // the episode: wait for "nothing still firing, something resolved" rather than one exact row.
    await expect
      .poll(async () => (await rows.count()) > 0 && (await rows.count()) === (await resolved.count()), {
        timeout: 90_000,
      })
      .toBe(true);
    const row = resolved.first();
    expect(await row.locator("time").count()).toBe(2);
    expect(await row.getByText(/^\d+(\.\d)? (s|min)$/).count()).toBe(1);
  }, 120_000);

  it("shows each notification's retries in the webhook's delivery log", async () => {
    await page.goto(`${app.url}/alerts/webhooks`);
    const log = page.locator('[data-webhook="ops-oncall"]');
    // firing (503, then 200 on the retry) and resolved (200 at once); the page refreshes itself
    const delivered = log.locator('[data-state="delivered"]');
    await expect.poll(() => delivered.count(), { timeout: 30_000 }).toBeGreaterThanOrEqual(2);
    expect(receiver.statuses.slice(0, 2)).toEqual([503, 200]);
    // newest first: the oldest firing notification is the one the receiver refused once
    const firstFiring = delivered.filter({ hasText: "firing" }).last();
    expect(await firstFiring.locator("[data-attempts]").textContent()).toBe("2");
    expect(await delivered.filter({ hasText: "resolved" }).count()).toBeGreaterThanOrEqual(1);
    await log.getByText(/HTTP attempts/).click();
    expect(await log.getByText("HTTP 503", { exact: true }).count()).toBe(1);
  });
});
