import mqtt, { type MqttClient } from "mqtt";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startApp, type RunningApp } from "../helpers/app";
import { launchChromium, screenshotPath, signIn } from "../helpers/browser";
import { writeConfigFile } from "../helpers/fixtures";
import { startMosquitto, type RunningMosquitto } from "../helpers/mosquitto";
import { waitFor } from "../helpers/ports";
import { describeIf, needs } from "../helpers/require";

/**
 * The incident as an operator finds it: a Mosquitto without persistence is SIGKILLed and restarted;
 * the broker page lists the incident, and its page shows the timeline, the cost, the finding that
 * persistence is off and the client that never came back, linked to its trace page.
 */
const TOKEN = "test-token-incidents-ui";

function connect(url: string, clientId: string, opts: mqtt.IClientOptions = {}): Promise<MqttClient> {
  const client = mqtt.connect(url, { clientId, clean: false, reconnectPeriod: 0, ...opts });
  client.on("error", () => {});
  return new Promise((resolve, reject) => {
    client.once("connect", () => resolve(client));
    setTimeout(() => reject(new Error(`${clientId} did not connect`)), 10_000);
  });
}

describeIf(needs({ mosquitto: true, chromium: true }), "broker incidents in the browser", () => {
  let plant: RunningMosquitto;
  let app: RunningApp;
  let browser: Browser;
  const clients: MqttClient[] = [];

  async function metric(name: string): Promise<number | undefined> {
    const res = await fetch(`${app.url}/api/brokers`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const { brokers } = (await res.json()) as { brokers: { name: string; metrics: Record<string, number> }[] };
    return brokers.find((b) => b.name === "plant-a")?.metrics[name];
  }

  beforeAll(async () => {
    plant = await startMosquitto(["allow_anonymous true", "sys_interval 1", "log_dest topic", "log_type all", "connection_messages true"]);
    const config = await writeConfigFile(["brokers:", "  - name: plant-a", `    url: ${plant.url}`, "    dialect: mosquitto", "    maxConnections: 100"]);
    [app, browser] = await Promise.all([
      startApp({ env: { BROKERWATCH_CONFIG: config, BROKERWATCH_API_TOKEN: TOKEN, BUNDLED_BROKER: "off" } }),
      launchChromium(),
    ]);
    await waitFor("plant-a up", async () => (await metric("mqtt_broker_up")) === 1, 30_000, 300);
  }, 600_000);

  afterAll(async () => {
    for (const c of clients) c.end(true);
    await browser?.close();
    await app?.stop();
    await plant?.stop();
  });

  it("shows a SIGKILLed broker's incident on the broker page and on its own page", async () => {
    // a valve controller that stays connected and never returns, and one offline with 3 commands queued
    const gone = await connect(plant.url, "valve-gone");
    await gone.subscribeAsync("plant/cmd/#", { qos: 1 });
    clients.push(gone);
    const offline = await connect(plant.url, "valve-7");
    await offline.subscribeAsync("plant/cmd/#", { qos: 1 });
    await offline.endAsync();
    const publisher = await connect(plant.url, "scada", { clean: true });
    for (let i = 0; i < 3; i++) await publisher.publishAsync("plant/cmd/valve-7", `close ${i}`, { qos: 1 });
    await publisher.endAsync();
    let previous: number | undefined;
    await waitFor("3 queued messages seen twice", async () => {
      const now = await metric("mqtt_queued_messages");
      const settled = now === 3 && previous === 3;
      previous = now;
      return settled;
    }, 20_000, 1000);

    const exited = new Promise((resolve) => plant.process.once("exit", resolve));
    plant.signal("SIGKILL");
    await exited;
    await waitFor("plant-a down", async () => (await metric("mqtt_broker_up")) === 0, 15_000, 200);
    await plant.restart();
    await waitFor("plant-a up again", async () => (await metric("mqtt_broker_up")) === 1, 30_000, 300);
    await new Promise((r) => setTimeout(r, 5000));

    const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
    await signIn(page, app.url, "admin", app.adminPassword!, "/brokers/plant-a");
    const link = page.getByTestId("incident-list").getByRole("link").first();
    await expect.poll(() => link.count(), { timeout: 15_000 }).toBe(1);
    await link.click();
    await page.waitForURL(/\/incidents\/\d+$/);
    await expect.poll(() => page.locator('[data-finding="persistence_off"]').count(), { timeout: 15_000 }).toBe(1);
    expect(await page.getByTestId("incident-timeline").innerText()).toMatch(/detected by\s+connection lost/);
    const neverBack = page.getByTestId("clients-never-back").getByRole("link", { name: "valve-gone" });
    expect(await neverBack.getAttribute("href")).toBe("/clients/valve-gone");
    await expect.poll(() => page.locator("[data-testid=incident-charts] canvas").count(), { timeout: 15_000 }).toBeGreaterThan(0);
    await page.screenshot({ path: screenshotPath("incident.png"), fullPage: true });
    await page.close();
  }, 120_000);
});
