import mqtt from "mqtt";
import { afterAll, expect, it } from "vitest";
import { BrokerCollector, DEFAULT_TIMING, type StatusChange } from "@/lib/collector/collector";
import type { IngestWriter } from "@/lib/collector/writer";
import { SYS_AND_LOG_CONFIG, startMosquitto, type RunningMosquitto } from "../helpers/mosquitto";
import { waitFor } from "../helpers/ports";
import { describeIf, needs } from "../helpers/require";

/**
 * Issue 19 §3: when brokerwatch's own collector connection is taken over (another connection with
 * its ClientID), that is a name clash, not a broker outage: one clear error naming the clash, and
 * the broker is not marked down (nobody is paged).
 */
describeIf(needs({ mosquitto: true }), "the collector's own ClientID taken over", () => {
  let mosquitto: RunningMosquitto;
  let collector: BrokerCollector | null = null;
  afterAll(async () => {
    await collector?.stop();
    await mosquitto?.stop();
  });

  it("logs one ClientID-clash error and never reports the broker down", async () => {
    mosquitto = await startMosquitto([...SYS_AND_LOG_CONFIG]);
    const writer = { enqueue: (_: unknown, done?: () => void) => done?.(), on: () => {} } as unknown as IngestWriter;
    const logs: string[] = [];
    collector = new BrokerCollector(
      { name: "plant", url: mosquitto.url, dialect: "mosquitto", clientId: "brokerwatch-shared-id" },
      writer,
      { ...DEFAULT_TIMING, clashRetryMs: 3000 },
      (line) => logs.push(line),
    );
    const changes: StatusChange[] = [];
    collector.on("status", (c) => changes.push(c));
    collector.start();
    await waitFor("the broker up", () => collector!.status === "up", 30_000);

    // Another process connects with the same ClientID, as a second instance of the same name would.
    const impostor = await mqtt.connectAsync(mosquitto.url, {
      clientId: "brokerwatch-shared-id",
      protocolVersion: 5,
      clean: false,
      reconnectPeriod: 0,
    });
    await waitFor("the clash reported", () => collector!.clientIdClash, 30_000);
    const clashLines = logs.filter((l) => /ClientID clash/.test(l));
    expect(clashLines).toHaveLength(1);
    expect(clashLines[0]).toMatch(/"brokerwatch-shared-id".*name clash, not a broker outage/);
    // It took its session back once, at once (the broker was not down: a refused connect would have said so).
    await waitFor("the impostor's connection closed", () => !impostor.connected, 30_000);

    // The other holder takes it again: now known to be a clash, the broker's status becomes unknown
    // (not down), and the collector waits clashRetryMs instead of fighting.
    const again = await mqtt.connectAsync(mosquitto.url, {
      clientId: "brokerwatch-shared-id",
      protocolVersion: 5,
      clean: false,
      reconnectPeriod: 0,
    });
    await waitFor("the status unknown", () => collector!.status === "unknown", 30_000);
    expect(again.connected).toBe(true);
    await again.endAsync();
    await waitFor("watching again", () => collector!.status === "up", 30_000);
    expect(changes.map((c) => c.to)).not.toContain("down");
    expect(logs.filter((l) => /ClientID clash/.test(l))).toHaveLength(1);
  }, 120_000);
});
