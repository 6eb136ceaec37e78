import { afterAll, beforeAll, describe, expect, it } from "vitest";
import mqtt from "mqtt";
import type { eventJson } from "../../lib/api/events";
import { appJson, startApp, type RunningApp } from "../helpers/app";
import { waitFor } from "../helpers/ports";
import { rawConnect, rawSession, connectPacket, type RawClient } from "../helpers/raw-mqtt";

/**
 * The bundled broker end to end, as an operator meets it after `npm start`: devices connect to
 * the printed broker URL and misbehave for real; what happened must come out of the HTTP API
 * with the right reason, having gone through the broker's `$SYS` events, the collector, the
 * write queue and the database.
 */
const TOKEN = "bundled-e2e-token";
const DEVICE = { username: "device", password: "dev-pw" };

/** An event as GET /api/events returns it. */
type ApiEvent = ReturnType<typeof eventJson>;

describe("bundled broker end to end", () => {
  let app: RunningApp;
  let mqttPort: number;

  const api = <T>(pathAndQuery: string) => appJson<T>(app, TOKEN, pathAndQuery);

  async function clientEvents(clientId: string): Promise<ApiEvent[]> {
    const body = await api<{ events: ApiEvent[] }>(
      `/api/clients/${encodeURIComponent(clientId)}/events?broker=bundled`,
    );
    return body.events;
  }

  /** The event of `clientId` matching `match`, once the API has it. */
  function eventually(clientId: string, what: string, match: (e: ApiEvent) => boolean): Promise<ApiEvent> {
    return waitFor(`${what} of ${clientId}`, async () => (await clientEvents(clientId)).find(match), 15_000, 100);
  }

  function disconnectOf(clientId: string, client: RawClient): Promise<ApiEvent> {
    return eventually(
      clientId,
      `the disconnect of port ${client.localPort}`,
      (e) => e.type === "disconnected" && e.port === client.localPort,
    );
  }

  beforeAll(async () => {
    app = await startApp({
      env: { BROKERWATCH_API_TOKEN: TOKEN, BUNDLED_BROKER_USERS: `${DEVICE.username}:${DEVICE.password}` },
    });
    mqttPort = Number(new URL(app.mqttUrl!).port);
  });
  afterAll(async () => {
    await app?.stop();
  });

  it("records a clean DISCONNECT as normal, with the session's address, port, keepalive and duration", async () => {
    const client = await rawSession(mqttPort, { clientId: "e2e-clean", keepalive: 30, clean: true, ...DEVICE });
    await new Promise((r) => setTimeout(r, 300));
    client.send({ cmd: "disconnect" });
    await client.closed;

    const disconnected = await disconnectOf("e2e-clean", client);
    const connected = await eventually("e2e-clean", "connected", (e) => e.type === "connected");
    const session = {
      broker: "bundled",
      clientId: "e2e-clean",
      address: "127.0.0.1",
      port: client.localPort,
      username: "device",
      protocolVersion: 4,
      cleanStart: true,
      keepalive: 30,
    };
    expect(connected).toMatchObject({ ...session, reason: null });
    expect(disconnected).toMatchObject({ ...session, reason: "normal" });
    expect(disconnected.sessionSeconds).toBeGreaterThanOrEqual(0.2);
    expect(disconnected.sessionSeconds).toBeLessThan(30);
    expect(disconnected.ts >= connected.ts).toBe(true);
    expect(JSON.parse(disconnected.raw)).toMatchObject({ clientid: "e2e-clean" });
  });

  it("records a device whose socket drops without DISCONNECT (power cut, NAT timeout) as tcp_closed", async () => {
    const client = await rawSession(mqttPort, { clientId: "e2e-dropped", ...DEVICE });
    client.destroy();
    expect(await disconnectOf("e2e-dropped", client)).toMatchObject({ reason: "tcp_closed" });
  });

  it("records a device that stops pinging with keepalive 1 s as keepalive_timeout within 1.5 keepalives", async () => {
    const client = await rawSession(mqttPort, { clientId: "e2e-silent", keepalive: 1, ...DEVICE });
    const started = Date.now();
    await client.closed; // the broker gives up on it
    expect(Date.now() - started).toBeLessThan(3000);
    expect(await disconnectOf("e2e-silent", client)).toMatchObject({ reason: "keepalive_timeout", keepalive: 1 });
  });

  for (const [clean, reason] of [
    [false, "takenover"],
    [true, "discarded"],
  ] as const) {
    it(`records a reconnect of the same ClientID with clean start ${clean ? 1 : 0} as ${reason} on the old session`, async () => {
      const clientId = `e2e-${reason}`;
      const first = await rawSession(mqttPort, { clientId, clean: false, ...DEVICE });
      const second = await rawSession(mqttPort, { clientId, clean, ...DEVICE });
      await first.closed;
      try {
        expect(await disconnectOf(clientId, first)).toMatchObject({ reason, cleanStart: false });
        // the new session is live and was recorded as such
        await eventually(clientId, "the second connect", (e) => e.type === "connected" && e.port === second.localPort);
        const events = await clientEvents(clientId);
        expect(events.filter((e) => e.port === second.localPort).map((e) => e.type)).toEqual(["connected"]);
      } finally {
        second.send({ cmd: "disconnect" });
        second.destroy();
      }
    });
  }

  it("records an MQTT 5 client as protocolVersion 5, on connect and on disconnect", async () => {
    const client = await mqtt.connectAsync(app.mqttUrl!, {
      clientId: "e2e-mqtt5",
      protocolVersion: 5,
      reconnectPeriod: 0,
      ...DEVICE,
    });
    await client.endAsync();
    const disconnected = await eventually("e2e-mqtt5", "disconnected", (e) => e.type === "disconnected");
    const connected = await eventually("e2e-mqtt5", "connected", (e) => e.type === "connected");
    expect(connected.protocolVersion).toBe(5);
    expect(disconnected).toMatchObject({ protocolVersion: 5, reason: "normal" });
  });

  it("records an MQTT 3.1 client (MQIsdp) as protocolVersion 3", async () => {
    const client = await rawSession(mqttPort, { clientId: "e2e-mqtt31", protocolVersion: 3, ...DEVICE });
    client.send({ cmd: "disconnect" });
    await client.closed;
    expect(await disconnectOf("e2e-mqtt31", client)).toMatchObject({ protocolVersion: 3, reason: "normal" });
  });

  it("records a wrong password as connect_failed not_authorized, with no connected event before it", async () => {
    const client = await rawConnect(mqttPort);
    client.send(connectPacket({ clientId: "e2e-wrong-pw", username: "device", password: "guess" }));
    const connack = await client.waitFor("connack");
    expect(connack).toMatchObject({ returnCode: 4 });
    const failed = await waitFor(
      "connect_failed of e2e-wrong-pw",
      async () =>
        (await api<{ events: ApiEvent[] }>("/api/events?type=connect_failed&broker=bundled")).events.find(
          (e) => e.port === client.localPort,
        ),
      15_000,
      100,
    );
    client.destroy();
    expect(failed).toMatchObject({ reason: "not_authorized", username: "device" });
    expect((await clientEvents("e2e-wrong-pw")).filter((e) => e.type === "connected")).toEqual([]);
  });

  it("lists the bundled broker as up with its metrics, counting a device that holds a connection", async () => {
    const holder = await rawSession(mqttPort, { clientId: "e2e-holder", ...DEVICE });
    try {
      type Broker = { name: string; status: string; dialect: string; metrics: Record<string, number> };
      const bundled = await waitFor(
        "the bundled broker up with two connections (the collector and the holder)",
        async () => {
          const { brokers } = await api<{ brokers: Broker[] }>("/api/brokers");
          const b = brokers.find((x) => x.name === "bundled");
          return b && b.status === "up" && b.metrics.mqtt_connections_current >= 2 ? b : null;
        },
        15_000,
        200,
      );
      expect(bundled.dialect).toBe("bundled");
      expect(bundled.metrics).toMatchObject({ mqtt_broker_up: 1 });
      expect(bundled.metrics.mqtt_broker_uptime_seconds).toBeGreaterThan(0);
      for (const metric of ["mqtt_sessions", "mqtt_subscriptions", "mqtt_messages_received_per_second"]) {
        expect(typeof bundled.metrics[metric], metric).toBe("number");
      }
    } finally {
      holder.destroy();
    }
  });
});
