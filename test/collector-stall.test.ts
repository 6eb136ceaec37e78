import { afterEach, describe, expect, it, vi } from "vitest";
import { quietCollector } from "./helpers/collector";

/**
 * A stall of brokerwatch's own process (GC, a saturated host) must not page "broker down": the
 * collector discounts the time its own timer ran late from the heartbeat's age.
 */
describe("heartbeat staleness", () => {
  afterEach(() => vi.useRealTimers());

  function collector() {
    const c = quietCollector({ name: "plant-a", url: "mqtt://127.0.0.1:9", dialect: "mosquitto", clientId: "t" });
    const internals = c as unknown as {
      connected: boolean;
      connectedAt: number;
      beat(node: string, at: number): void;
      tick(): void;
      lastTickAt: number;
      status: string;
    };
    return internals;
  }

  /** A connected collector, on a fake clock, that has seen the broker's heartbeat twice a second apart. */
  function beatingCollector() {
    vi.useFakeTimers({ now: 1_000_000 });
    const c = collector();
    c.connected = true;
    c.connectedAt = Date.now();
    c.lastTickAt = Date.now();
    c.beat("", Date.now());
    c.beat("", Date.now() + 1000);
    return c;
  }

  it("keeps a broker up when our own process stalled longer than the stale limit", () => {
    const c = beatingCollector();
    expect(c.status).toBe("up");
    // 8 s in which not even our 250 ms timer ran: the broker's heartbeat may be sitting in our socket
    vi.setSystemTime(Date.now() + 8000);
    c.tick();
    expect(c.status).toBe("up");
  });

  it("marks the broker down when its heartbeat stops while we keep running", () => {
    const c = beatingCollector();
    for (let i = 0; i < 40; i++) {
      vi.setSystemTime(Date.now() + 250);
      c.tick();
    }
    expect(c.status).toBe("down");
  });
});
