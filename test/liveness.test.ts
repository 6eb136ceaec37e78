import { describe, expect, it } from "vitest";
import { Liveness } from "@/lib/collector/liveness";

/** The one liveness machine of the polled and pushed sources, on a fake clock (times in ms). */
describe("liveness", () => {
  const poll = { name: "monitor", staleAfterMs: 3000 };
  const conn = { name: "system account", staleAfterMs: null };

  it("keeps the status while the first poll is on its way, then goes up on its heartbeat", () => {
    const l = new Liveness([poll], 0, 5000);
    expect(l.evaluate(1000)).toMatchObject({ status: "unknown", changed: false });
    l.beat("monitor", 1500);
    expect(l.evaluate(1500)).toMatchObject({ status: "up", from: "unknown", changed: true });
    expect(l.evaluate(2000)).toMatchObject({ status: "up", changed: false });
  });

  it("goes down when a poll's heartbeat is older than staleAfterMs, saying for how long", () => {
    const l = new Liveness([poll], 0, 1000);
    l.beat("monitor", 100);
    l.evaluate(100);
    expect(l.evaluate(3100).status).toBe("up");
    const v = l.evaluate(3101 + 2000);
    expect(v).toMatchObject({ status: "down", changed: true, from: "up" });
    expect(v.why).toContain("monitor: no answer for 5 s");
    l.beat("monitor", 6000);
    expect(l.evaluate(6000)).toMatchObject({ status: "up", changed: true, from: "down" });
  });

  it("one failed poll within the staleness window does not make the broker down", () => {
    const l = new Liveness([poll], 0, 1000);
    l.beat("monitor", 0);
    l.evaluate(0);
    l.failed("monitor", "monitor: connection refused");
    expect(l.evaluate(2000).status).toBe("up");
    expect(l.evaluate(3500)).toMatchObject({ status: "down", why: "monitor: connection refused" });
  });

  it("a failure before the first heartbeat ends the start grace at once", () => {
    const l = new Liveness([poll], 0, 60_000);
    l.failed("monitor", "monitor: ECONNREFUSED");
    expect(l.evaluate(10)).toMatchObject({ status: "down", changed: true, why: "monitor: ECONNREFUSED" });
  });

  it("with a connection source, up needs both: fresh polls and the connection open", () => {
    const l = new Liveness([poll, conn], 0, 1000);
    l.beat("monitor", 10);
    expect(l.evaluate(20).status).toBe("unknown");
    l.connected("system account");
    expect(l.evaluate(30).status).toBe("up");
    l.failed("system account", "system account: connection lost");
    expect(l.evaluate(40)).toMatchObject({ status: "down", why: "system account: connection lost" });
    l.connected("system account");
    expect(l.evaluate(50).status).toBe("up");
  });

  it("with no source configured the broker is unknown, never up", () => {
    expect(new Liveness([], 0, 1000).evaluate(5000).status).toBe("unknown");
  });
});
