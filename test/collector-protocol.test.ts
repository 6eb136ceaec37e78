import net from "node:net";
import { Aedes } from "aedes";
import { afterEach, describe, expect, it } from "vitest";
import { BrokerCollector, DEFAULT_TIMING, refusesMqtt5 } from "@/lib/collector/collector";
import type { IngestWriter } from "@/lib/collector/writer";
import { quietCollector } from "./helpers/collector";
import { waitFor } from "./helpers/ports";
import { scriptedBroker } from "./helpers/raw-mqtt";

/**
 * The collector speaks MQTT 5 (for its Receive Maximum, README "Reliability and broker-side
 * limits") and falls back to 3.1.1 for a broker that refuses protocol level 5: plain Aedes 1.x
 * answers a level-5 CONNECT with "unacceptable protocol version".
 */
describe("the collector's MQTT protocol level", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("recognises a refusal of protocol level 5, and nothing else", () => {
    expect(refusesMqtt5({ code: 1, message: "Connection refused: Unacceptable protocol version" })).toBe(true);
    expect(refusesMqtt5({ code: 0x84, message: "Unsupported Protocol Version" })).toBe(true);
    expect(refusesMqtt5({ code: 5, message: "Connection refused: Not authorized" })).toBe(false);
    expect(refusesMqtt5({ code: "ECONNREFUSED", message: "connect ECONNREFUSED 127.0.0.1:1883" })).toBe(false);
  });

  it("falls back to 3.1.1 against a broker that refuses MQTT 5, and connects", async () => {
    const aedes = await Aedes.createBroker();
    const server = net.createServer(aedes.handle);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
    });
    const connected: string[] = [];
    aedes.on("client", (client) => connected.push(client.id));
    const port = (server.address() as net.AddressInfo).port;
    const writer = { enqueue: () => {}, on: () => {} } as unknown as IngestWriter;
    const lines: string[] = [];
    const collector = new BrokerCollector(
      { name: "old", url: `mqtt://127.0.0.1:${port}`, dialect: "mosquitto", clientId: "bw-protocol" },
      writer,
      { ...DEFAULT_TIMING, backoffBaseMs: 50 },
      (line) => lines.push(line),
    );
    cleanups.push(() => collector.stop());
    expect(collector.mqttProtocol).toBe(5);
    collector.start();
    await waitFor("the collector connected", () => connected.includes("bw-protocol"), 30_000);
    expect(collector.mqttProtocol).toBe(4);
    expect(lines.join("\n")).toContain("refuses MQTT 5; using 3.1.1");
  });

  it("speaks 3.1.1 to the bundled broker from the start", () => {
    const collector = quietCollector({
      name: "bundled",
      url: "mqtt://127.0.0.1:9",
      dialect: "bundled",
      clientId: "bw",
    });
    expect(collector.mqttProtocol).toBe(4);
  });

  /**
   * A broker that answers CONNECT and SUBSCRIBE but never PINGREQ, as one whose PINGRESP waits
   * behind a backlog of PUBLISHes; it publishes every 200 ms while `publishing` is true.
   */
  async function pinglessBroker() {
    const state = { connects: 0, pings: 0, publishing: true };
    const timers = new Map<unknown, NodeJS.Timeout>();
    const broker = await scriptedBroker(
      (packet, connection) => {
        if (packet.cmd === "connect") {
          state.connects++;
        } else if (packet.cmd === "subscribe") {
          const timer = setInterval(() => {
            if (state.publishing)
              connection.send({ cmd: "publish", topic: "$SYS/broker/uptime", payload: "5 seconds", qos: 0 });
          }, 200);
          timers.set(connection, timer);
        } else if (packet.cmd === "pingreq") {
          state.pings++; // never answered
        }
      },
      (connection) => clearInterval(timers.get(connection)),
    );
    cleanups.push(() => broker.close());
    return { state, url: broker.url };
  }

  it("keeps a connection that delivers packets but whose PINGRESP is late, and drops one that has gone quiet", async () => {
    const broker = await pinglessBroker();
    const writer = { enqueue: () => {}, on: () => {} } as unknown as IngestWriter;
    const collector = new BrokerCollector(
      { name: "late-pong", url: broker.url, dialect: "mosquitto", clientId: "bw-keepalive" },
      writer,
      { ...DEFAULT_TIMING, keepaliveSeconds: 1, backoffBaseMs: 50 },
      () => {},
    );
    cleanups.push(() => collector.stop());
    collector.start();
    await waitFor("connected", () => broker.state.connects === 1, 30_000);
    // keepalives without a PINGRESP: pings keep going out (each a keepalive apart), the connection stays
    await waitFor("three pings unanswered", () => broker.state.pings >= 3, 20_000);
    expect(broker.state.connects).toBe(1);
    // nothing read for more than a keepalive: now it is a dead connection, and the collector reconnects
    broker.state.publishing = false;
    await waitFor("reconnected after the keepalive timeout", () => broker.state.connects >= 2, 30_000);
  }, 30_000);
});
