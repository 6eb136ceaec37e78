import { afterAll, beforeAll, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { launchChromium } from "../helpers/browser";
import { startApp, type RunningApp } from "../helpers/app";
import { describeIf, needs } from "../helpers/require";

describeIf(needs({ chromium: true }), "overview in a browser", () => {
  let app: RunningApp;
  let browser: Browser;

  beforeAll(async () => {
    [app, browser] = await Promise.all([startApp(), launchChromium()]);
  });
  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  it("shows the bundled broker on the overview after signing in, with navigation to every section", async () => {
    const page = await browser.newPage();
    await page.goto(app.url);
    await page.waitForURL(/\/login/);
    await page.getByLabel("Password").fill(app.adminPassword!);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${app.url}/`);
    await expect.poll(() => page.locator('[data-broker="bundled"]').count()).toBe(1);
    for (const section of ["Overview", "Brokers", "Clients", "Alerts", "Settings"]) {
      expect(await page.getByRole("navigation").getByRole("link", { name: section }).count()).toBe(1);
    }
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Brokers", exact: true }).click();
    await page.waitForURL(`${app.url}/brokers`);
    expect(await page.locator('[data-broker="bundled"]').count()).toBe(1);
  });
});
