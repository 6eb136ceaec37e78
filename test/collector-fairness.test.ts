import { afterEach, describe, expect, it } from "vitest";
import { BrokerCollector, DEFAULT_TIMING } from "@/lib/collector/collector";
import type { IngestWriter } from "@/lib/collector/writer";
import { waitFor } from "./helpers/ports";
import { scriptedBroker } from "./helpers/raw-mqtt";

/**
 * A flood of log lines must not hold the event loop: Node reads a busy socket in up to 32 chunks
 * of 64 KB per turn and mqtt.js handles each at once, so without a pause the writer's round trips
 * to Postgres waited a quarter of a second per turn at 50,000 events/s, and its throughput fell
 * to a tenth (README, "Ingest throughput"). The collector gives the loop a turn every few hundred
 * messages (lib/collector/collector.ts, readBurst).
 */
describe("the collector under a flood", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** A broker that answers CONNECT and SUBSCRIBE, then writes `count` Mosquitto log lines at once. */
  async function floodingBroker(count: number) {
    const broker = await scriptedBroker((packet, connection) => {
      if (packet.cmd !== "subscribe") return;
      const epoch = Math.floor(Date.now() / 1000);
      const flood: Buffer[] = [];
      for (let i = 0; i < count; i++) {
        const line = `${epoch}: New client connected from 10.0.0.1:${1024 + (i % 60000)} as flood-${i} (p2, c1, k60).`;
        flood.push(connection.packet({ cmd: "publish", topic: "$SYS/broker/log/N", payload: line, qos: 0 }));
      }
      connection.socket.write(Buffer.concat(flood));
    });
    cleanups.push(() => broker.close());
    return broker.url;
  }

  it("handles a few hundred messages per turn of the event loop, not everything the socket holds", async () => {
    const COUNT = 60_000;
    const url = await floodingBroker(COUNT);
    let events = 0;
    const writer = {
      enqueue: (rows: { events?: unknown[] }) => {
        events += rows.events?.length ?? 0;
      },
      on: () => {},
    } as unknown as IngestWriter;
    const collector = new BrokerCollector(
      { name: "flood", url, dialect: "mosquitto", clientId: "bw-flood" },
      writer,
      { ...DEFAULT_TIMING, backoffBaseMs: 50 },
      () => {},
    );
    cleanups.push(() => collector.stop());
    // messages handled between two turns of the loop (its check phase)
    let most = 0;
    let last = 0;
    let turning = true;
    const turn = () => {
      const now = collector.counters.messages;
      most = Math.max(most, now - last);
      last = now;
      if (turning) setImmediate(turn);
    };
    setImmediate(turn);
    cleanups.push(async () => {
      turning = false;
    });
    collector.start();
    // the deadline only bounds a failure: on a busy 2-core machine the flood can take a minute
    await waitFor("every line of the flood handled", () => events === COUNT, 150_000);
    turning = false;
    // a turn may finish the chunk in hand and what mqtt.js had already buffered: a few thousand at
    // most, where without the pause one turn took tens of thousands
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThan(4_000);
  }, 180_000);
});
