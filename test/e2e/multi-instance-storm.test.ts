import { expect, it } from "vitest";
import { runHaBenchmark } from "../../bench/ha";
import { describeIf, needs } from "../helpers/require";

/**
 * The incident this guards against: the instance that was watching (and leading) is SIGKILLed in
 * the middle of a connect storm. The survivor watched the same broker all along, so every ClientID
 * must still have exactly one `connected` and one `disconnected` stored: none lost with the dead
 * instance, none doubled because two instances watched. Real processes, real Mosquitto left at its
 * defaults (20 in flight and 1000 queued per client: bench/ha.ts).
 */
describeIf(needs({ mosquitto: true, postgres: true }), "an instance SIGKILLed mid-storm", () => {
  it("stores every ClientID's connect and disconnect exactly once, and the survivor takes over within 10 s", async () => {
    const result = await runHaBenchmark({ clients: 1000, broker: "defaults" });
    expect(result).toMatchObject({ expected: 1000, stored: 1000, missing: 0, duplicated: 0 });
    expect(result.takeoverSeconds).toBeLessThanOrEqual(10);
    expect(result.failoverSeconds).toBeLessThanOrEqual(10);
  }, 600_000);
});
