import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type RunningApp } from "../helpers/app";
import { writeConfigFile } from "../helpers/fixtures";
import { waitFor } from "../helpers/ports";
import { loginCookie } from "../helpers/session";

/**
 * Log shipping (POST /api/brokers/{name}/log) through the running service: HiveMQ event.log and
 * Mosquitto log lines become events, a re-sent batch stores nothing twice, bounds answer 413, and
 * a token of scope ingest may ship lines and do nothing else. Also HiveMQ's Prometheus extension,
 * served from a fixture by a tiny HTTP server here, scraped end to end into GET /api/brokers.
 */
const ADMIN = "test-token-log-shipping";
const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), "utf8");

type Counts = { stored: number; duplicate: number; unparsed: number };

describe("log shipping and HiveMQ scraping", () => {
  let app: RunningApp;
  let metrics: http.Server;
  let ingestToken: string;
  let viewerToken: string;

  async function call(method: string, path: string, token: string, body?: string, type = "text/plain") {
    const res = await fetch(`${app.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { "content-type": type } : {}) },
      body,
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  }

  const ship = (broker: string, body: string, token = ingestToken) => call("POST", `/api/brokers/${broker}/log`, token, body);

  beforeAll(async () => {
    metrics = http.createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
      res.end(fixture("hivemq-4/metrics-1.txt"));
    });
    await new Promise<void>((resolve) => metrics.listen(0, "127.0.0.1", resolve));
    const port = (metrics.address() as AddressInfo).port;
    const config = await writeConfigFile([
      "brokers:",
      "  - name: hive",
      "    url: mqtt://127.0.0.1:1",
      "    dialect: hivemq",
      `    metricsUrl: http://127.0.0.1:${port}/metrics`,
      "    maxConnections: 2000",
      "  - name: mosq",
      "    url: mqtt://127.0.0.1:1",
      "    dialect: mosquitto",
      "    maxConnections: 100",
    ]);
    app = await startApp({ env: { BROKERWATCH_CONFIG: config, BROKERWATCH_API_TOKEN: ADMIN, BUNDLED_BROKER: "off" } });
    const created = await call("POST", "/api/tokens", ADMIN, JSON.stringify({ name: "vector", scope: "ingest" }), "application/json");
    expect(created.status).toBe(201);
    expect(created.json.scope).toBe("ingest");
    ingestToken = created.json.token as string;
    const viewer = await call("POST", "/api/tokens", ADMIN, JSON.stringify({ name: "grafana" }), "application/json");
    viewerToken = viewer.json.token as string;
  }, 600_000);

  afterAll(async () => {
    await app?.stop();
    await new Promise((resolve) => metrics?.close(resolve));
  });

  it("turns shipped HiveMQ event.log lines into events and answers the counts", async () => {
    const res = await ship("hive", fixture("hivemq-4/event.log"));
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ stored: 14, duplicate: 0, unparsed: 1 } satisfies Counts);
    const events = await call("GET", "/api/events?broker=hive&type=disconnected&limit=100", ADMIN);
    const reasons = (events.json.events as { clientId: string; reason: string }[]).map((e) => `${e.clientId}:${e.reason}`);
    expect(reasons).toEqual(
      expect.arrayContaining(["sensor-1:normal", "sensor-2:keepalive_timeout", "sensor-3:takenover", "sensor-3:tcp_closed"]),
    );
  });

  it("stores nothing twice when the same batch is sent again", async () => {
    const again = await ship("hive", fixture("hivemq-4/event.log"));
    expect(again.json).toEqual({ stored: 0, duplicate: 14, unparsed: 1 } satisfies Counts);
    const events = await call("GET", "/api/events?broker=hive&limit=100", ADMIN);
    expect((events.json.events as unknown[]).length).toBe(14);
  });

  it("reads shipped Mosquitto log lines with the Mosquitto dialect", async () => {
    const lines = [
      "1795346750: New client connected from 127.0.0.1:40684 as shipped-1 (p5, c1, k60, u'ops').",
      "1795346751: Client shipped-1 disconnected.",
    ].join("\n");
    expect((await ship("mosq", lines)).json).toEqual({ stored: 2, duplicate: 0, unparsed: 0 } satisfies Counts);
    const history = await call("GET", "/api/clients/shipped-1/events?broker=mosq", ADMIN);
    expect((history.json.events as { type: string; reason: string | null }[]).map((e) => [e.type, e.reason])).toEqual([
      ["disconnected", "normal"],
      ["connected", null],
    ]);
  });

  it("reads Fluent Bit / Vector records (application/x-ndjson) by their log or message key", async () => {
    const body = [
      JSON.stringify({ date: 1795346752.1, log: "1795346752: New client connected from 127.0.0.1:40700 as shipped-2 (p5, c1, k60, u'ops')." }),
      JSON.stringify({ message: "1795346753: Client shipped-2 disconnected." }),
    ].join("\n");
    const res = await call("POST", "/api/brokers/mosq/log", ingestToken, body, "application/x-ndjson");
    expect(res.json).toEqual({ stored: 2, duplicate: 0, unparsed: 0 } satisfies Counts);
  });

  it("refuses more than 10,000 lines or 1 MiB with 413, and another content type with 415", async () => {
    const many = Array.from({ length: 10_001 }, (_, i) => `line ${i}`).join("\n");
    const tooMany = await ship("hive", many);
    expect(tooMany.status).toBe(413);
    expect((tooMany.json.error as { message: string }).message).toMatch(/10000 lines/);
    const big = await ship("hive", "x".repeat(1024 * 1024 + 1));
    expect(big.status).toBe(413);
    expect((big.json.error as { message: string }).message).toMatch(/1 MiB/);
    const json = await call("POST", "/api/brokers/hive/log", ingestToken, "{}", "application/json");
    expect(json.status).toBe(415);
    expect((await ship("nope", "x")).status).toBe(404);
  });

  it("lets an ingest token ship lines and nothing else; a viewer token may not ship", async () => {
    const read = await call("GET", "/api/brokers", ingestToken);
    expect(read.status).toBe(403);
    expect((read.json.error as { message: string }).message).toMatch(/scope ingest/);
    expect((await call("GET", "/api/events", ingestToken)).status).toBe(403);
    expect((await ship("hive", "x", viewerToken)).status).toBe(403);
    expect((await ship("hive", "x", ADMIN)).status).toBe(200);
  });

  it("scrapes HiveMQ's Prometheus endpoint into the broker's metrics and marks it up", async () => {
    const hive = await waitFor(
      "hive scraped",
      async () => {
        const brokers = (await call("GET", "/api/brokers", ADMIN)).json.brokers as {
          name: string;
          status: string;
          metrics: Record<string, number>;
          capacity: Record<string, unknown>;
        }[];
        const b = brokers.find((x) => x.name === "hive");
        return b?.status === "up" && b.metrics.mqtt_connections_current !== undefined ? b : null;
      },
      20_000,
      250,
    );
    expect(hive.metrics).toMatchObject({ mqtt_connections_current: 1523, mqtt_sessions: 2040, mqtt_subscriptions: 4512 });
  });

  it("answers each broker's capacity in GET /api/brokers: headroom against maxConnections, and the basis", async () => {
    const hive = await waitFor(
      "hive capacity",
      async () => {
        const brokers = (await call("GET", "/api/brokers", ADMIN)).json.brokers as { name: string; capacity: Record<string, unknown> }[];
        const b = brokers.find((x) => x.name === "hive");
        // a trend needs two scrapes in different seconds (samples are stored once per second)
        return b && b.capacity.headroomRatio !== null && /least-squares/.test(String(b.capacity.basis)) ? b : null;
      },
      20_000,
      250,
    );
    expect(hive.capacity).toMatchObject({ connectionsMax: 2000, messagesPerSecondCeiling: null });
    expect(hive.capacity.headroomRatio as number).toBeCloseTo(1 - 1523 / 2000, 6);
    // the fixture serves the same count every scrape: not growing, so no saturation time
    expect(hive.capacity.saturationAt).toBeNull();
    expect(hive.capacity.basis).toMatch(/least-squares line/);
  });

  it("shows the headroom panel on the broker page, with the single-thread basis for Mosquitto", async () => {
    const cookie = await loginCookie(app.url, "admin", app.adminPassword!);
    const res = await fetch(`${app.url}/brokers/mosq`, { headers: { cookie } });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain("Capacity headroom");
    expect(html).toContain("Time to saturation");
    expect(html).toContain("Mosquitto runs on one thread");
  });
});
