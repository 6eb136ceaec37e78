import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { searchClients } from "@/db/clients";
import { insertEvents, type EventRow } from "@/db/ingest";
import { clientState } from "@/lib/clients";
import { freshDatabase, type TestDatabase } from "./helpers/db";

/**
 * The client search says whether each client is online now, from its newest connect or disconnect
 * (not from its newest event of any kind), and "unknown" while its broker is not watched.
 */
const T0 = Date.parse("2026-12-07T20:00:00Z");
const at = (minutes: number) => new Date(T0 + minutes * 60_000);

function event(clientId: string, minutes: number, type: EventRow["type"], reason: EventRow["reason"] = null): EventRow {
  return {
    ts: at(minutes),
    receivedAt: at(minutes),
    broker: "plant-a",
    node: null,
    clientId,
    type,
    reason,
    address: "10.0.0.5",
    port: 40000 + minutes,
    username: null,
    protocolVersion: 4,
    cleanStart: true,
    keepalive: 60,
    sessionSeconds: null,
    raw: `${type} ${clientId} ${minutes}`,
  };
}

describe("client state in search", () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await freshDatabase();
    await insertEvents(t.database, [
      // online for hours: its newest event is a dropped-message event, not a disconnect
      event("meter-000421", 0, "connected"),
      event("meter-000421", 170, "messages_dropped"),
      event("meter-000422", 0, "connected"),
      event("meter-000422", 100, "disconnected", "keepalive_timeout"),
      event("meter-000422", 110, "connect_failed", "not_authorized"),
    ]);
  });
  afterAll(async () => {
    await t?.drop();
  });

  it("reads the newest connect or disconnect of each match", async () => {
    const { clients } = await searchClients(t.database.db, "meter-");
    const byId = new Map(clients.map((c) => [c.clientId, c]));
    expect(byId.get("meter-000421")!.lastType).toBe("messages_dropped");
    expect(byId.get("meter-000421")!.lastSession).toEqual({ type: "connected", ts: at(0), broker: "plant-a" });
    expect(byId.get("meter-000422")!.lastSession).toEqual({ type: "disconnected", ts: at(100), broker: "plant-a" });
  });

  it("online since the connect while the broker is watched; offline since the disconnect", () => {
    const up = () => "up";
    expect(clientState({ type: "connected", ts: at(0), broker: "plant-a" }, up)).toEqual({
      state: "online",
      since: at(0),
      broker: "plant-a",
    });
    expect(clientState({ type: "disconnected", ts: at(100), broker: "plant-a" }, up).state).toBe("offline");
  });

  it("a connect on a broker that is down or not watched is unknown, never online", () => {
    const down = clientState({ type: "connected", ts: at(0), broker: "plant-a" }, () => "down");
    expect(down).toMatchObject({ state: "unknown", why: "broker plant-a is down" });
    const unwatched = clientState({ type: "connected", ts: at(0), broker: "plant-a" }, () => undefined);
    expect(unwatched).toMatchObject({ state: "unknown", why: "broker plant-a is not watched now" });
    expect(clientState(null, () => "up")).toMatchObject({ state: "unknown" });
  });
});
