import { mkdir } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import mqttPacket from "mqtt-packet";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { ROOT, startApp, type RunningApp } from "../helpers/app";
import { writeConfigFile } from "../helpers/fixtures";
import { launchChromium, signIn, screenshotPath } from "../helpers/browser";
import { passwordFile, PASSWORD_SYS_AND_LOG, startMosquitto, type RunningMosquitto } from "../helpers/mosquitto";
import { waitFor } from "../helpers/ports";
import { describeIf, needs } from "../helpers/require";

/**
 * The Clients pages against what a real Mosquitto logs: a device whose keepalive keeps running
 * out, and two devices from two addresses fighting over one ClientID. Provoked over raw sockets,
 * collected by the running service, and read in a browser the way an operator would.
 */
const TOKEN = "client-trace-test-token";
/** A ClientID with every character that breaks a careless URL, HTML or SQL LIKE. */
const SLEEPY = `sensor/7 "north" #1?x=%25&y ü🚀`;
const TWIN = "pump-7";
const KEEPALIVE_RUNS = 3;

type ApiEvent = {
  id: number;
  type: string;
  reason: string | null;
  address: string | null;
  port: number | null;
  keepalive: number | null;
};

interface Device {
  localPort: number;
  /** resolves when the broker closes the socket */
  closed: Promise<void>;
  end(): void;
}

/**
 * A raw MQTT 3.1.1 session from a chosen source address: Linux accepts any 127/8 address as the
 * source of a loopback connection, so two "devices" on one machine have two addresses.
 */
async function deviceSession(
  port: number,
  clientId: string,
  opts: { localAddress?: string; keepalive?: number } = {},
): Promise<Device> {
  const socket = net.connect({ port, host: "127.0.0.1", localAddress: opts.localAddress ?? "127.0.0.1" });
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  socket.on("error", () => {});
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const connack = new Promise<mqttPacket.Packet>((resolve) => parser.on("packet", resolve));
  socket.on("data", (d) => parser.parse(d));
  socket.write(
    mqttPacket.generate({
      cmd: "connect",
      protocolId: "MQTT",
      protocolVersion: 4,
      clean: true,
      clientId,
      keepalive: opts.keepalive ?? 60,
      username: "device",
      password: Buffer.from("dev-pw"),
    } as mqttPacket.IConnectPacket),
  );
  const ack = (await connack) as mqttPacket.IConnackPacket;
  if (ack.returnCode !== 0) throw new Error(`CONNACK ${ack.returnCode}`);
  return { localPort: socket.localPort!, closed, end: () => socket.destroy() };
}

describeIf(needs({ chromium: true, mosquitto: true }), "client trace in a browser, from a real Mosquitto", () => {
  let broker: RunningMosquitto;
  let app: RunningApp;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let twinStillConnected: Device | undefined;

  async function events(clientId: string): Promise<ApiEvent[]> {
    const res = await fetch(`${app.url}/api/clients/${encodeURIComponent(clientId)}/events?limit=100`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    if (!res.ok) throw new Error(`${res.status} ${await res.text()}`);
    return ((await res.json()) as { events: ApiEvent[] }).events;
  }

  function withReason(list: ApiEvent[], reason: string) {
    return list.filter((e) => e.type === "disconnected" && e.reason === reason);
  }

  beforeAll(async () => {
    broker = await startMosquitto(PASSWORD_SYS_AND_LOG, {
      "pw.txt": await passwordFile({ monitor: "mon-pw", device: "dev-pw" }),
    });
    const config = await writeConfigFile([
      "brokers:",
      "  - name: plant-a",
      `    url: ${broker.url}`,
      "    dialect: mosquitto",
      "    username: monitor",
      "    password: ${MONITOR_PASSWORD}",
    ]);
    [app, browser] = await Promise.all([
      startApp({
        env: {
          BROKERWATCH_CONFIG: config,
          BROKERWATCH_API_TOKEN: TOKEN,
          MONITOR_PASSWORD: "mon-pw",
          BUNDLED_BROKER: "off",
        },
      }),
      launchChromium(),
    ]);
    await waitFor(
      "plant-a up",
      async () => {
        const res = await fetch(`${app.url}/api/brokers`, { headers: { authorization: `Bearer ${TOKEN}` } });
        const { brokers } = (await res.json()) as { brokers: { name: string; status: string }[] };
        return brokers.some((b) => b.name === "plant-a" && b.status === "up");
      },
      30_000,
      200,
    );

    // A device that connects with keepalive 1 and never pings: Mosquitto closes it after 1.5 s,
    // three times over ("has exceeded timeout, disconnecting").
    for (let i = 0; i < KEEPALIVE_RUNS; i++) {
      const sleepy = await deviceSession(broker.port, SLEEPY, { keepalive: 1 });
      await sleepy.closed;
    }

    // Two devices, 127.0.0.1 and 127.0.0.2, with one ClientID and clean start 1: each connect
    // discards the other's session ("already connected, closing old connection").
    let previous: Device | undefined;
    for (const from of ["127.0.0.1", "127.0.0.2", "127.0.0.1", "127.0.0.2"]) {
      const device = await deviceSession(broker.port, TWIN, { localAddress: from });
      if (previous) await previous.closed;
      previous = device;
    }
    twinStillConnected = previous;

    await waitFor(
      "the events collected",
      async () =>
        withReason(await events(SLEEPY), "keepalive_timeout").length === KEEPALIVE_RUNS &&
        withReason(await events(TWIN), "discarded").length === 3 &&
        (await events(TWIN)).filter((e) => e.type === "connected").length === 4,
      20_000,
      200,
    );

    context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: "light" });
    page = await context.newPage();
    await signIn(page, app.url, "admin", app.adminPassword!);
    // the first start may wait for a build of the web app (under a lock shared with other test files)
  }, 900_000);

  afterAll(async () => {
    twinStillConnected?.end();
    await context?.close();
    await browser?.close();
    await app?.stop();
    await broker?.stop();
  });

  /** The timeline row holding the anchor the URL's hash points at. */
  async function targetRow() {
    return page.evaluate(() => {
      const row = document.querySelector(":target")?.closest("tr");
      return row ? { ...row.dataset, text: row.textContent } : null;
    });
  }

  it("diagnoses the keepalive run of a hostile ClientID, k shown, evidence linking to each timeout", async () => {
    const timeouts = withReason(await events(SLEEPY), "keepalive_timeout");
    await page.goto(`${app.url}/clients/${encodeURIComponent(SLEEPY)}`);
    expect(await page.getByTestId("client-id").textContent()).toBe(SLEEPY);
    expect(await page.title()).toContain(SLEEPY);

    const finding = page.locator('[data-finding="keepalive-timeouts"]');
    await finding.waitFor();
    expect(await finding.textContent()).toContain("k = 1 s");
    expect(await finding.textContent()).toMatch(/Raise the keepalive from 1 s/);
    const evidence = await finding
      .locator("[data-evidence]")
      .evaluateAll((links) =>
        links.map((a) => ({ id: Number(a.getAttribute("data-evidence")), href: a.getAttribute("href") })),
      );
    expect(evidence.map((e) => e.id).sort()).toEqual(timeouts.map((e) => e.id).sort());
    expect(evidence.every((e) => e.href === `#event-${e.id}`)).toBe(true);

    // following a link lands on the disconnect it names
    await finding.locator(`[data-evidence="${timeouts[0].id}"]`).click();
    expect(new URL(page.url()).hash).toBe(`#event-${timeouts[0].id}`);
    const row = await targetRow();
    expect(row).toMatchObject({ endEvent: String(timeouts[0].id) });
    expect(row!.text).toContain("keepalive_timeout");

    // three sessions of about 1.5 s, each from 127.0.0.1 with k = 1 s
    const sessions = page.locator("[data-session]");
    expect(await sessions.count()).toBe(KEEPALIVE_RUNS);
    for (const text of await sessions.allTextContents()) {
      expect(text).toContain("keepalive_timeout");
      expect(text).toContain("127.0.0.1:");
      expect(text).toContain("MQTT 3.1.1");
    }
    const breakdown = page.getByTestId("reason-breakdown");
    expect(await breakdown.locator('[data-reason="keepalive_timeout"] [data-count]').textContent()).toBe(
      String(KEEPALIVE_RUNS),
    );
  });

  it("diagnoses two devices sharing a ClientID from the takeovers between 127.0.0.1 and 127.0.0.2", async () => {
    const history = await events(TWIN);
    const discarded = withReason(history, "discarded");
    const connects = history.filter((e) => e.type === "connected");
    // the old session's address and port, from its connect line (Mosquitto 2.0 logs neither on takeover)
    expect(discarded.map((e) => e.address).reverse()).toEqual(["127.0.0.1", "127.0.0.2", "127.0.0.1"]);

    await page.goto(`${app.url}/clients/${TWIN}`);
    const finding = page.locator('[data-finding="shared-client-id"]');
    await finding.waitFor();
    const text = await finding.textContent();
    expect(text).toContain("Two devices share this ClientID");
    expect(text).toContain("127.0.0.1 and 127.0.0.2");
    expect(text).toContain("critical");
    expect(text).toMatch(/own ClientID.*serial number/);
    // evidence: each discard, and the connect (from the other address) that caused it
    const evidence = (await finding
      .locator("[data-evidence]")
      .evaluateAll((links) => links.map((a) => Number(a.getAttribute("data-evidence"))))) as number[];
    const replacing = connects.filter((c) => c.id !== Math.min(...connects.map((x) => x.id)));
    expect(evidence.sort()).toEqual([...discarded, ...replacing].map((e) => e.id).sort());

    const discard = discarded.at(-1)!; // the oldest: 127.0.0.1's first session
    await finding.locator(`[data-evidence="${discard.id}"]`).click();
    expect(await targetRow()).toMatchObject({ endEvent: String(discard.id) });
    expect((await targetRow())!.text).toContain(`127.0.0.1:${discard.port}`);

    // the timeline: four sessions, alternating addresses, the last still connected
    const sessions = page.locator("[data-session]");
    expect(await sessions.count()).toBe(4);
    const rows = await sessions.allTextContents();
    expect(rows[0]).toContain("connected now");
    expect(rows[0]).toContain("127.0.0.2:");
    expect(rows.slice(1).every((r) => r.includes("discarded"))).toBe(true);
    expect(rows.map((r) => /127\.0\.0\.(\d)/.exec(r)![1])).toEqual(["2", "1", "2", "1"]);

    await mkdir(path.join(ROOT, "docs/screenshots"), { recursive: true });
    await page.goto(`${app.url}/clients/${TWIN}`);
    await finding.waitFor();
    await page.screenshot({ path: screenshotPath("client-trace.png") });
  });

  it("finds a client by ClientID prefix on /clients and opens its trace page with a click", async () => {
    await page.goto(`${app.url}/clients`);
    await page.getByLabel("ClientID starts with").fill(`sensor/7 "no`);
    await page.getByRole("button", { name: "Search" }).click();
    await page.waitForURL(/\/clients\?q=/);
    expect(new URL(page.url()).searchParams.get("q")).toBe(`sensor/7 "no`);
    const results = page.getByTestId("client-search-results");
    const links = results.getByRole("link");
    await links.first().waitFor(); // the results stream in behind the page's loading state
    expect(await links.allTextContents()).toEqual([SLEEPY]);
    expect(await results.textContent()).toContain("keepalive_timeout");
    expect(await results.locator("tbody td").last().textContent()).toBe(String(2 * KEEPALIVE_RUNS));

    // a LIKE wildcard typed into the box matches itself only
    await page.goto(`${app.url}/clients?q=${encodeURIComponent("%")}`);
    // the page streams in behind its loading state: wait for the answer, don't read the placeholder
    await page.getByText("No ClientID starts with").first().waitFor();

    await page.goto(`${app.url}/clients?q=${encodeURIComponent("sens")}`);
    await page.getByTestId("client-search-results").getByRole("link").click();
    await page.waitForURL(`${app.url}/clients/${encodeURIComponent(SLEEPY)}`);
    expect(await page.getByTestId("client-id").textContent()).toBe(SLEEPY);
  });

  it("filters the recent disconnects by reason in the URL and exports the same rows as CSV", async () => {
    await page.goto(`${app.url}/clients?q=${encodeURIComponent("pump")}`);
    await page.getByLabel("Reason").selectOption("keepalive_timeout");
    await page.getByRole("button", { name: "Apply" }).click();
    await page.waitForURL(/reason=keepalive_timeout/);
    const url = new URL(page.url());
    expect(url.searchParams.get("q")).toBe("pump");
    const rows = page.getByTestId("disconnects").locator("tbody tr");
    expect(await rows.count()).toBe(KEEPALIVE_RUNS);
    for (const text of await rows.allTextContents()) expect(text).toContain("keepalive_timeout");

    const csv = page.getByTestId("disconnects-csv");
    expect(await csv.getAttribute("href")).toBe(
      "/api/events?format=csv&type=disconnected&reason=keepalive_timeout&from=24h",
    );
    // the session cookie is enough: a plain link downloads it
    const res = await page.request.get(`${app.url}${await csv.getAttribute("href")}`);
    expect(res.status()).toBe(200);
    const lines = (await res.text()).trim().split("\n");
    expect(lines).toHaveLength(1 + KEEPALIVE_RUNS);
    expect(lines.slice(1).every((l) => l.includes("keepalive_timeout"))).toBe(true);

    // the view everyone shares: a search with its results above, all disconnects below
    await page.goto(`${app.url}/clients?q=${encodeURIComponent("pu")}`);
    await page.getByTestId("disconnects").waitFor();
    await page.screenshot({ path: screenshotPath("clients.png") });
  });

  it("shows ClientIDs with / % # ? quotes and unicode as themselves, and the empty state when none match", async () => {
    for (const id of ["Pump-7", "a/b", "100%", "%25", "x#y?z=1&w", `"'<b>x</b>`, "ünï 🚀", " padded "]) {
      const res = await page.goto(`${app.url}/clients/${encodeURIComponent(id)}`);
      expect(res!.status(), id).toBe(200);
      expect(await page.getByTestId("client-id").textContent(), id).toBe(id);
      expect(await page.getByTestId("no-events").textContent(), id).toBe(
        "No events for this ClientID in the last 7 days — check the spelling; ClientIDs are case-sensitive.",
      );
    }
    // the window selector keeps the id and changes only the window
    await page.goto(`${app.url}/clients/${encodeURIComponent("a/b#?")}`);
    await page.getByTestId("window-selector").getByRole("link", { name: "30 d" }).click();
    await page.waitForURL(`${app.url}/clients/${encodeURIComponent("a/b#?")}?window=30d`);
    expect(await page.getByTestId("no-events").textContent()).toContain("in the last 30 days");
    expect(await page.getByTestId("client-id").textContent()).toBe("a/b#?");
  });
});
