import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { launchChromium, signIn } from "../helpers/browser";
import { startApp, type RunningApp } from "../helpers/app";
import { waitFor } from "../helpers/ports";
import { describeIf, needs } from "../helpers/require";
import { startFleet, type Fleet } from "@/lib/simulator/fleet";
import { parseScenario } from "@/lib/simulator/scenario";

/**
 * Every page of the console with a simulated fleet on it, at a desktop and a phone viewport: axe-core
 * finds no serious or critical violation, and on the phone the page itself never scrolls sideways
 * (wide tables scroll inside their own box).
 */
const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

const VIEWPORTS = [
  { name: "desktop", width: 1440, height: 900 },
  { name: "phone", width: 390, height: 844 },
] as const;

const FLEET = `
connectRate: 200
groups:
  - { name: meters, clientId: "meter-{n:06}", start: 4200, count: 30, telemetry: { every: 1s } }
  - { name: flaky, clientId: gw-hamburg-07, behaviour: flapping, up: [1s, 2s], down: [300ms, 600ms] }
  - { name: twins, clientId: pump-7, behaviour: shared-client-id }
  - { name: sleepy, clientId: "sensor-{n:03}", behaviour: keepalive-timeout, keepalive: 1 }
`;

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[]; failureSummary?: string }[];
}

async function axe(page: Page): Promise<AxeViolation[]> {
  if (!(await page.evaluate(() => "axe" in window))) await page.addScriptTag({ content: AXE_SOURCE });
  return page.evaluate(async () => {
    const result = await (
      window as unknown as { axe: { run(ctx: Document, o: unknown): Promise<{ violations: AxeViolation[] }> } }
    ).axe.run(document, { resultTypes: ["violations"] });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => ({ target: n.target, failureSummary: n.failureSummary })),
    }));
  });
}

describeIf(needs({ chromium: true }), "every page: axe and a phone", () => {
  let app: RunningApp;
  let browser: Browser;
  let fleet: Fleet;
  const pages: string[] = [];

  beforeAll(async () => {
    [app, browser] = await Promise.all([startApp(), launchChromium()]);
    fleet = startFleet(parseScenario(FLEET), { url: app.mqttUrl! });
    const page = await browser.newPage();
    await signIn(page, app.url, "admin", app.adminPassword!);
    // wait for the fleet's history: a few disconnects (the flapping gateway, the twins, the sleepers)
    await waitFor(
      "the simulated fleet's first disconnects",
      async () => {
        const res = await page.request.get(`${app.url}/api/events?type=disconnected&limit=50`);
        return res.ok() && ((await res.json()) as { events: unknown[] }).events.length > 3;
      },
      90_000,
      500,
    );
    await page.close();
    pages.push(
      "/",
      "/brokers",
      "/brokers/bundled",
      "/clients",
      "/clients?q=meter",
      `/clients/${encodeURIComponent("pump-7")}`,
      "/incidents",
      "/alerts",
      "/alerts/history",
      "/alerts/rules",
      "/alerts/rules/new",
      "/alerts/silences",
      "/settings",
      "/settings/brokers",
      "/settings/webhooks",
      "/settings/rules",
      "/settings/tokens",
      "/settings/users",
      "/settings/instances",
    );
    // the first start of a worktree builds the app: minutes on a busy 2-core machine
  }, 900_000);
  afterAll(async () => {
    await fleet?.stop();
    await browser?.close();
    await app?.stop();
  });

  for (const viewport of VIEWPORTS) {
    it(`${viewport.name} ${viewport.width}×${viewport.height}: no serious or critical axe violation, no sideways page scroll`, async () => {
      const context = await browser.newContext({ viewport: { width: viewport.width, height: viewport.height } });
      const page = await context.newPage();
      const problems: string[] = [];
      const consoleErrors: string[] = [];
      page.on("console", (m) => m.type() === "error" && consoleErrors.push(`${page.url()}: ${m.text()}`));
      await page.goto(`${app.url}/login`);
      for (const v of await axe(page)) {
        if (v.impact === "serious" || v.impact === "critical") problems.push(`/login ${v.id}: ${v.help} ${JSON.stringify(v.nodes)}`);
      }
      await signIn(page, app.url, "admin", app.adminPassword!);
      for (const path of pages) {
        await page.goto(`${app.url}${path}`);
        await page.waitForLoadState("networkidle").catch(() => {});
        for (const v of await axe(page)) {
          if (v.impact === "serious" || v.impact === "critical") {
            problems.push(`${path} ${v.id} (${v.impact}): ${v.help} ${JSON.stringify(v.nodes)}`);
          }
        }
        const overflow = await page.evaluate(() => {
          const by = document.documentElement.scrollWidth - window.innerWidth;
          if (by <= 1) return null;
          // the outermost elements sticking out past the right edge, to say what to fix
          const culprits = [...document.querySelectorAll("body *")]
            .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1)
            .filter((el) => !el.parentElement || el.parentElement.getBoundingClientRect().right <= window.innerWidth + 1)
            .slice(0, 3)
            .map((el) => `${el.tagName.toLowerCase()}.${[...el.classList].slice(0, 4).join(".")}`);
          return { by, culprits };
        });
        if (overflow) problems.push(`${path}: the page scrolls sideways by ${overflow.by} px (${overflow.culprits.join(", ")})`);
      }
      await context.close();
      expect(problems).toEqual([]);
      expect(consoleErrors).toEqual([]);
      // twenty pages, axe on each: minutes on a busy 2-core machine
    }, 600_000);
  }
});
