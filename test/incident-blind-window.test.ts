import { describe, expect, it } from "vitest";
import { incidentCost, type IncidentEvent, type IncidentInput } from "@/lib/incidents/findings";

/**
 * Issue 19 §6: a Mosquitto without persistence restarted with 10 clients online; they reconnect
 * three at once and the rest over 0.3–3 s, and brokerwatch subscribed again only 1.5 s after the
 * broker was back. The incident said 5 "never came back" — all 10 were connected. Clients not
 * seen back are split: affirmed absent (the broker's count leaves no room for them, or brokerwatch
 * watched from the moment the broker was back) or unknown, with the blind window's length.
 */
const downAt = new Date("2026-03-01T10:00:00Z");
const brokerBack = new Date(downAt.getTime() + 3000);
const upAt = new Date(brokerBack.getTime() + 1500);
const clients = Array.from({ length: 10 }, (_, i) => `dev-${i}`);
let id = 0;
const connect = (clientId: string, at: Date): IncidentEvent => ({ id: ++id, ts: at, clientId, type: "connected", reason: null, address: null });

function input(opts: { count?: number | null; restarted?: boolean }): IncidentInput {
  const after = (ms: number) => new Date(upAt.getTime() + ms);
  return {
    timeline: { broker: "plant", kind: "restart", detectedBy: "connection_lost", lastGoodAt: downAt, downAt, upAt },
    series: {
      mqtt_broker_uptime_seconds: [
        { ts: new Date(downAt.getTime() - 1000), value: 5000 },
        // the new process's first uptime, read once watched again: it started 1.5 s before
        { ts: upAt, value: opts.restarted === false ? 5004.5 : 1.5 },
      ],
      ...(opts.count == null
        ? {}
        : {
            mqtt_connections_current: [
              { ts: new Date(downAt.getTime() - 1000), value: 11 },
              { ts: after(2000), value: opts.count },
            ],
          }),
    },
    // the 5 that reconnected after brokerwatch was back are seen; the first 5 were not
    events: clients.slice(5).map((c, i) => connect(c, after(100 + i * 200))),
    connectedAtDown: clients,
    logLines: [],
    earlierRestarts: [],
  };
}

describe("incident clients after a blind window", () => {
  it("counts clients the broker's count proves back, and lists none as never back", () => {
    // 10 clients and brokerwatch's own connection
    const cost = incidentCost(input({ count: 11 }), new Date(upAt.getTime() + 120_000));
    expect(cost.blindSeconds).toBe(1.5);
    expect(cost.clientsBack1m).toBe(10);
    expect(cost.clientsNeverBack).toEqual([]);
    expect(cost.clientsUnknown).toEqual([]);
  });

  it("says unknown, not never back, when nothing proves either", () => {
    const cost = incidentCost(input({ count: null }), new Date(upAt.getTime() + 120_000));
    expect(cost.clientsBack1m).toBe(5);
    expect(cost.clientsNeverBack).toEqual([]);
    expect(cost.clientsUnknown).toEqual(clients.slice(0, 5));
    expect(cost.blindSeconds).toBe(1.5);
  });

  it("affirms never back when the broker's count leaves no room for unseen clients", () => {
    const cost = incidentCost(input({ count: 6 }), new Date(upAt.getTime() + 120_000));
    expect(cost.clientsBack1m).toBe(5);
    expect(cost.clientsNeverBack).toEqual(clients.slice(0, 5));
    expect(cost.clientsUnknown).toEqual([]);
  });

  it("partly proven: the count shows some unseen ones back, so the rest are unknown, not absent", () => {
    const cost = incidentCost(input({ count: 8 }), new Date(upAt.getTime() + 120_000));
    expect(cost.clientsBack1m).toBe(7);
    expect(cost.clientsNeverBack).toEqual([]);
    expect(cost.clientsUnknown).toEqual(clients.slice(0, 5));
  });
});
