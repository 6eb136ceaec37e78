import { EventEmitter } from "node:events";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import mqtt, { type MqttClient } from "mqtt";
import type { Browser, Page } from "playwright-core";
import { launchChromium, signIn, screenshotPath } from "../helpers/browser";
import { startApp, type RunningApp } from "../helpers/app";
import { writeConfigFile } from "../helpers/fixtures";
import { freePort } from "../helpers/ports";
import { describeIf, needs } from "../helpers/require";
import type { EventRow } from "@/db/ingest";
import type { IngestWriter } from "@/lib/collector/writer";
import { liveSource, onCommittedEvents, sseResponse } from "@/lib/live";

function connectClient(url: string, clientId: string): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, {
      clientId,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      username: "device",
      password: "device-password",
    });
    client.once("connect", () => resolve(client));
    client.once("error", reject);
  });
}

function endClient(client: MqttClient): Promise<void> {
  return new Promise((resolve) => client.end(false, {}, () => resolve()));
}

async function connections(page: Page, broker: string): Promise<number> {
  return Number(await page.locator(`[data-testid="connections-${broker}"]`).getAttribute("data-value"));
}

describeIf(needs({ chromium: true }), "live overview and broker page in a browser", () => {
  let app: RunningApp;
  let browser: Browser;
  let page: Page;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    // Besides the bundled broker, a two-node cluster: plant-a watches the bundled broker too (with a
    // small capacity, so the saturation bar shows), plant-b points at a port nobody listens on.
    // Only the service's own monitor and configured users may read the bundled broker's $SYS, so
    // plant-a logs in as one; the devices of this test log in as another.
    const [mqttPort, deadPort] = [await freePort(), await freePort()];
    const config = await writeConfigFile([
      "brokers:",
      "  - name: plant-a",
      `    url: mqtt://127.0.0.1:${mqttPort}`,
      "    dialect: bundled",
      "    username: watcher",
      "    password: watcher-password",
      "    cluster: plant",
      "    maxConnections: 4",
      "  - name: plant-b",
      `    url: mqtt://127.0.0.1:${deadPort}`,
      "    dialect: mosquitto",
      "    cluster: plant",
      "    maxConnections: 1000",
    ]);
    [app, browser] = await Promise.all([
      startApp({
        env: {
          MQTT_PORT: String(mqttPort),
          BROKERWATCH_CONFIG: config,
          BUNDLED_BROKER_USERS: "watcher:watcher-password,device:device-password",
        },
      }),
      launchChromium(),
    ]);
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.emulateMedia({ colorScheme: "light" });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => endClient(c).catch(() => {})));
    await browser?.close();
    await app?.stop();
  });

  it("updates the bundled broker's connection count as clients come and go, without reloading", async () => {
    await signIn(page, app.url, "admin", app.adminPassword!);
    const row = page.locator('[data-broker="bundled"]');
    await expect.poll(() => row.count()).toBe(1);
    // the server-rendered page is useful before the stream opens: status and a number are there
    await expect.poll(() => row.getAttribute("data-status"), { timeout: 15_000 }).toBe("up");
    // plant-a's collector is a client of the bundled broker too: wait for it, so the count is settled
    await expect
      .poll(() => page.locator('[data-broker="plant-a"]').getAttribute("data-status"), { timeout: 15_000 })
      .toBe("up");
    await expect
      .poll(() => page.locator('[data-broker="plant-b"]').getAttribute("data-status"), { timeout: 15_000 })
      .toBe("down");
    await expect
      .poll(() => page.getByTestId("status-plant-b").textContent(), { timeout: 15_000 })
      .toContain("ECONNREFUSED");
    expect(await page.locator('[data-cluster="plant"]').textContent()).toContain("1 / 2 nodes alive");
    await expect
      .poll(() => page.getByTestId("live-state").getAttribute("data-state"), { timeout: 15_000 })
      .toBe("live");

    // Anything that reloads or navigates the page loses this marker and counts a navigation.
    let navigations = 0;
    page.on("framenavigated", (frame) => {
      if (frame === page.mainFrame()) navigations++;
    });
    await page.evaluate(() => ((window as unknown as { bwMarker: string }).bwMarker = "still here"));

    await expect.poll(() => connections(page, "bundled"), { timeout: 15_000 }).toBeGreaterThanOrEqual(1);
    const before = await connections(page, "bundled");

    const client = await connectClient(app.mqttUrl!, "overview-live-test");
    clients.push(client);
    await expect.poll(() => connections(page, "bundled"), { timeout: 15_000 }).toBe(before + 1);
    // the same broker seen as plant-a, against its capacity of 4
    await expect.poll(() => connections(page, "plant-a"), { timeout: 15_000 }).toBe(before + 1);
    expect(await page.getByTestId("saturation-plant-a").getAttribute("aria-valuemax")).toBe("4");
    expect(await page.getByTestId("saturation-bundled").count()).toBe(0); // no capacity configured, no bar

    // some traffic, so the rates and charts have something to show
    for (let i = 0; i < 20; i++) client.publish("plant/line-1/temperature", String(20 + i), { qos: 1 });
    await expect
      .poll(async () => Number((await page.getByTestId("in-bundled").textContent()) ?? "0"), { timeout: 15_000 })
      .toBeGreaterThan(0);

    await endClient(client);
    clients.splice(clients.indexOf(client), 1);
    await expect.poll(() => connections(page, "bundled"), { timeout: 15_000 }).toBe(before);

    expect(await page.evaluate(() => (window as unknown as { bwMarker?: string }).bwMarker)).toBe("still here");
    expect(navigations).toBe(0);
  });

  it("opens the broker page from the overview: charts, live connection events, top disconnects", async () => {
    await page.locator('[data-broker="bundled"]').getByRole("link", { name: "bundled", exact: true }).click();
    await page.waitForURL(`${app.url}/brokers/bundled`);
    await expect
      .poll(() => page.locator('[data-testid="charts"] canvas').count(), { timeout: 15_000 })
      .toBeGreaterThanOrEqual(4);
    expect(await page.getByTestId("broker-url").textContent()).toBe(app.mqttUrl);

    // the earlier client's connect and disconnect are in the stream's backlog
    const events = page.getByTestId("live-events");
    await expect
      .poll(() => events.locator('tr[data-client-id="overview-live-test"]').count(), { timeout: 15_000 })
      .toBe(2);

    // and new ones arrive live; a ClientID full of markup is shown as text, never run
    await page.evaluate(() => ((window as unknown as { bwMarker: string }).bwMarker = "broker page"));
    await expect
      .poll(() => page.getByTestId("live-state").first().getAttribute("data-state"), { timeout: 15_000 })
      .toBe("live");
    const hostileId = `<img src=x onerror="window.pwned=1"> "quoted" 🚀`;
    const hostile = await connectClient(app.mqttUrl!, hostileId);
    const hostileRows = events.locator("tr").filter({ has: page.getByText(hostileId, { exact: true }) });
    await expect.poll(() => hostileRows.count(), { timeout: 15_000 }).toBe(1);
    expect(await hostileRows.first().getAttribute("data-event-type")).toBe("connected");
    await endClient(hostile);
    await expect.poll(() => hostileRows.count(), { timeout: 15_000 }).toBe(2);
    // newest on top: the disconnect is the first row
    expect(await events.locator("tbody tr").first().getAttribute("data-event-type")).toBe("disconnected");
    expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
    expect(await page.evaluate(() => (window as unknown as { bwMarker?: string }).bwMarker)).toBe("broker page");

    // the disconnect lists are read when the page loads: both clients disconnected normally
    await page.goto(`${app.url}/brokers/bundled?range=15m`);
    const topClients = page.getByTestId("top-clients").locator('[data-window="hour"]');
    await expect.poll(() => topClients.getByText("overview-live-test", { exact: true }).count()).toBe(1);
    await expect.poll(() => topClients.getByText(hostileId, { exact: true }).count()).toBe(1);
    expect(await page.getByTestId("top-reasons").locator('[data-window="hour"] [data-reason="normal"]').count()).toBe(
      1,
    );
    const clientLink = topClients.getByRole("link", { name: hostileId, exact: true });
    expect(await clientLink.getAttribute("href")).toBe(`/clients/${encodeURIComponent(hostileId)}`);

    await expect
      .poll(() => page.locator('[data-testid="charts"] canvas').count(), { timeout: 15_000 })
      .toBeGreaterThanOrEqual(4);
    // a little traffic for the charts, picked up by their refresh
    const publisher = await connectClient(app.mqttUrl!, "line-1-gateway");
    clients.push(publisher);
    for (let i = 0; i < 8; i++) {
      for (let j = 0; j < 10 * (i + 1); j++) publisher.publish("plant/line-1/temperature", String(j), { qos: 1 });
      await page.waitForTimeout(700);
    }
    await page.waitForTimeout(6000);
    await page.screenshot({ path: screenshotPath("broker.png"), fullPage: true });
  });

  it("switches the chart range from raw samples to rollups, keeping it in the URL", async () => {
    await page.getByRole("group", { name: "Time range" }).getByRole("button", { name: "24h" }).click();
    await expect.poll(() => page.url()).toContain("range=24h");
    await expect
      .poll(() => page.getByRole("heading", { name: /Metrics/ }).textContent(), { timeout: 15_000 })
      .toContain("1-minute averages");
    expect(await page.locator('[data-range="24h"]').getAttribute("aria-pressed")).toBe("true");
    expect(await page.locator('[data-testid="charts"] canvas').count()).toBeGreaterThanOrEqual(4);

    // a reload keeps the range
    await page.reload();
    expect(await page.locator('[data-range="24h"]').getAttribute("aria-pressed")).toBe("true");
  });

  it("answers 404 with the not-found page for a broker that does not exist", async () => {
    const response = await page.goto(`${app.url}/brokers/${encodeURIComponent("no such broker")}`);
    expect(response?.status()).toBe(404);
    expect(await page.getByRole("heading", { name: "Broker not found" }).count()).toBe(1);
    const res = await page.request.get(`${app.url}/api/brokers/${encodeURIComponent("no such broker")}/series`);
    expect(res.status()).toBe(404);
  });

  it("shows why the dead node is down: its firing alert, counted on its row and linking to /alerts", async () => {
    await page.goto(app.url);
    // MQTT_Broker_Down fires after 30 s of mqtt_broker_up == 0 (a built-in rule)
    await expect
      .poll(() => page.getByTestId("alerts-plant-b").textContent(), { timeout: 60_000, interval: 1000 })
      .toContain("1 firing");
    expect(await page.getByTestId("alerts-plant-b").getByRole("link").getAttribute("href")).toBe("/alerts");
    expect(await page.getByTestId("firing-alerts").textContent()).toContain("MQTT_Broker_Down");
    expect(await page.getByTestId("alerts-bundled").textContent()).toBe("0");
    // steady traffic while the picture is taken, so the overview's rates are not all zero
    const client = await connectClient(app.mqttUrl!, "line-2-gateway");
    clients.push(client);
    let n = 0;
    const traffic = setInterval(() => {
      for (let i = 0; i < 8; i++) client.publish("plant/line-2/pressure", String(n++), { qos: 1 });
    }, 100);
    try {
      await expect
        .poll(async () => Number((await page.getByTestId("in-bundled").textContent()) ?? "0"), { timeout: 15_000 })
        .toBeGreaterThan(0);
      await page.waitForTimeout(2500); // a steady rate, and the saturation bars' transition done
      await page.screenshot({ path: screenshotPath("overview.png"), fullPage: true });
    } finally {
      clearInterval(traffic);
    }
  });

  it("refuses the streams without credentials", async () => {
    for (const path of ["/api/stream/overview", "/api/stream/events?broker=bundled"]) {
      const res = await fetch(`${app.url}${path}`);
      expect(res.status).toBe(401);
    }
  });
});

describe("the live-stream helpers", () => {
  async function readUntil(reader: ReadableStreamDefaultReader<Uint8Array>, text: string): Promise<string> {
    const decoder = new TextDecoder();
    let out = "";
    while (!out.includes(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      out += decoder.decode(value);
    }
    return out;
  }

  it("streams events as text/event-stream and cleans up when the client goes away", async () => {
    const abort = new AbortController();
    const cleanup = vi.fn();
    let send: ((n: number) => void) | undefined;
    const res = sseResponse(new Request("http://x/stream", { signal: abort.signal }), (channel) => {
      channel.send("snapshot", { n: 0 });
      send = (n) => channel.send("snapshot", { n });
      return cleanup;
    });
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const reader = res.body!.getReader();
    const first = await readUntil(reader, '{"n":0}');
    expect(first).toContain("retry: 2000\n\n");
    expect(first).toContain('event: snapshot\ndata: {"n":0}\n\n');
    send!(1);
    expect(await readUntil(reader, '{"n":1}')).toContain('data: {"n":1}');

    abort.abort();
    expect(cleanup).toHaveBeenCalledTimes(1);
    expect((await reader.read()).done).toBe(true);
    send!(2); // a late update after the client left is dropped, not thrown
    expect(cleanup).toHaveBeenCalledTimes(1);
  });

  it("sends comment heartbeats, and cleans up when the reader cancels", async () => {
    const cleanup = vi.fn();
    const res = sseResponse(new Request("http://x/stream"), () => cleanup, { heartbeatMs: 20 });
    const reader = res.body!.getReader();
    expect(await readUntil(reader, ": heartbeat")).toContain(": heartbeat\n\n");
    await reader.cancel();
    expect(cleanup).toHaveBeenCalledTimes(1);
  });

  it("drops a client that stopped reading instead of queueing without bound", async () => {
    const cleanup = vi.fn();
    const res = sseResponse(
      new Request("http://x/stream"),
      (channel) => {
        for (let i = 0; i < 100; i++) channel.send("snapshot", "x".repeat(1000));
        return cleanup;
      },
      { maxQueuedBytes: 10_000 },
    );
    await new Promise((r) => setTimeout(r, 10));
    expect(cleanup).toHaveBeenCalledTimes(1);
    void res.body!.cancel();
  });

  it("computes a shared value once per interval for every listener, and stops when the last one leaves", async () => {
    let produced = 0;
    const source = liveSource(async () => ++produced, 30);
    const a: number[] = [];
    const b: number[] = [];
    const stopA = source.subscribe((v) => a.push(v));
    const stopB = source.subscribe((v) => b.push(v));
    await new Promise((r) => setTimeout(r, 100));
    stopA();
    stopB();
    const after = produced;
    await new Promise((r) => setTimeout(r, 100));
    expect(produced).toBe(after);
    // both saw the same values: one computation, fanned out
    expect(a.length).toBeGreaterThanOrEqual(2);
    expect(b.slice(-2)).toEqual(a.slice(-2));
    expect(produced).toBeLessThanOrEqual(a.length + 1);
  });

  it("fans committed events out to every stream through one writer listener", () => {
    const writer = new EventEmitter() as unknown as IngestWriter;
    const seen: string[][] = [[], []];
    const stops = [0, 1].map((i) =>
      onCommittedEvents(writer, (events) => seen[i].push(...events.map((e) => e.broker))),
    );
    expect((writer as unknown as EventEmitter).listenerCount("written")).toBe(1);
    writer.emit("written", { events: [{ broker: "plant-a" } as EventRow] });
    stops[0]();
    writer.emit("written", { events: [{ broker: "plant-b" } as EventRow] });
    expect(seen).toEqual([["plant-a"], ["plant-a", "plant-b"]]);
    stops[1]();
    // the last stream gone, nothing listens: a writer in the ingest thread stops sending batches over
    expect((writer as unknown as EventEmitter).listenerCount("written")).toBe(0);
    const again = onCommittedEvents(writer, (events) => seen[0].push(...events.map((e) => e.broker)));
    writer.emit("written", { events: [{ broker: "plant-c" } as EventRow] });
    expect(seen[0]).toEqual(["plant-a", "plant-c"]);
    again();
  });
});
