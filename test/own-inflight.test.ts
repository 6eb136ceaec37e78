import { describe, expect, it } from "vitest";
import { OWN_ACK_RACE_MS, OwnMessages } from "@/lib/collector/own-inflight";

/** What a collector's connection may still have in flight: the input to Mosquitto's queued-count correction. */
describe("the messages the broker may still hold for brokerwatch's own session", () => {
  it("lists what is unacknowledged, and a value replaced by a later one on its topic as superseded", () => {
    const own = new OwnMessages();
    const first = own.received("$SYS/broker/clients/connected", true)!;
    own.received("$SYS/broker/log/N", true);
    own.received("$SYS/broker/clients/connected", true);
    expect(own.received("$SYS/broker/uptime", false)).toBeNull(); // QoS 0: never acknowledged, not held
    expect(own.snapshot(1000).unacknowledged).toEqual([
      { topic: "$SYS/broker/clients/connected", superseded: true },
      { topic: "$SYS/broker/log/N", superseded: false },
      { topic: "$SYS/broker/clients/connected", superseded: false },
    ]);
    expect(own.acknowledged(first, 1000)).toBe(true);
    expect(own.unacknowledgedCount).toBe(2);
  });

  it("keeps an acknowledged message for OWN_ACK_RACE_MS: the broker may have counted before reading the PUBACK", () => {
    const own = new OwnMessages();
    const key = own.received("$SYS/broker/log/N", true)!;
    own.acknowledged(key, 10_000);
    expect(own.snapshot(10_000 + OWN_ACK_RACE_MS).acknowledgedRecently).toEqual([
      { topic: "$SYS/broker/log/N", superseded: false },
    ]);
    expect(own.snapshot(10_001 + OWN_ACK_RACE_MS).acknowledgedRecently).toEqual([]);
  });

  it("forgets everything when the connection closes: the broker delivers it again, and a late PUBACK is not counted", () => {
    const own = new OwnMessages();
    const key = own.received("$SYS/broker/log/N", true)!;
    own.forget();
    expect(own.acknowledged(key, 1)).toBe(false);
    expect(own.snapshot(1)).toEqual({ unacknowledged: [], acknowledgedRecently: [] });
  });
});
