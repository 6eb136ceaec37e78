import { EventEmitter } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getIncident, listOpenIncidents, openIncident } from "@/db/incidents";
import { brokerIncidents, connectionEvents, metricSamples } from "@/db/schema";
import type { StatusChange, UptimeBeat } from "@/lib/collector/collector";
import type { CollectorManager } from "@/lib/collector/manager";
import { IncidentTracker } from "@/lib/incidents/tracker";
import { markVerified } from "@/lib/auth/verified";
import { loadLatestIncidentIds, loadRecentIncidents } from "@/lib/incidents/pages";
import { setRuntime } from "@/lib/runtime";
import type { EventType } from "@/lib/events";
import { freshDatabase, type TestDatabase } from "./helpers/db";

/**
 * The tracker between the collector manager and the store: a status change or an uptime that went
 * back opens an incident, up records when, and the closing job closes it once its clients settled.
 */
const T0 = Date.parse("2026-11-20T08:00:00Z");
const at = (s: number) => new Date(T0 + s * 1000);

class FakeManager extends EventEmitter<{ merged: [StatusChange]; heartbeat: [string, UptimeBeat] }> {
  get(name: string) {
    return { broker: { name, clientId: `brokerwatch-test-${name}` } };
  }
}

describe("incident tracker", () => {
  let t: TestDatabase;
  let manager: FakeManager;
  let tracker: IncidentTracker;
  let clock = T0;
  beforeAll(async () => {
    t = await freshDatabase();
    manager = new FakeManager();
    tracker = new IncidentTracker(t.database, manager as unknown as CollectorManager, {
      timing: { minSettleMs: 60_000, quietMs: 30_000, maxSettleMs: 300_000, tickMs: 3600_000 },
      flush: async () => {},
      log: () => {},
      now: () => clock,
    });
    tracker.start();
  });
  afterAll(async () => {
    await tracker?.stop();
    await t?.drop();
  });

  const change = (to: "up" | "down", s: number, why: string): StatusChange => ({
    broker: "plant-a",
    from: to === "up" ? "down" : "up",
    to,
    at: at(s),
    lastSeenAt: at(s - 2),
    why,
  });

  it("opens one incident when a broker goes down, however often it is told, and records when it is up", async () => {
    manager.emit("heartbeat", "plant-a", { node: "", uptimeSeconds: 5000, at: at(-2) });
    manager.emit("merged", change("down", 0, "connection lost: read ECONNRESET"));
    manager.emit("merged", change("down", 0, "connection lost: read ECONNRESET"));
    manager.emit("heartbeat", "plant-a", { node: "", uptimeSeconds: 1, at: at(20) });
    manager.emit("merged", change("up", 20, "heartbeat fresh"));
    await tracker.idle();
    const open = await listOpenIncidents(t.database.db);
    expect(open).toHaveLength(1);
    expect(open[0]).toMatchObject({
      broker: "plant-a",
      // the uptime went back from 5000 s to 1 s: the broker process restarted
      kind: "restart",
      detectedBy: "connection_lost",
      lastGoodAt: at(-2),
      startedAt: at(0),
      upAt: at(20),
      downSeconds: 20,
    });
  });

  it("keeps the incident open while clients are still reconnecting, then closes it with its cost", async () => {
    const db = t.database.db;
    const [open] = await listOpenIncidents(db);
    const event = (s: number, type: EventType, clientId: string) => ({
      ts: at(s),
      receivedAt: at(s),
      broker: "plant-a",
      clientId,
      type,
      raw: "",
    });
    await db
      .insert(connectionEvents)
      .values([
        event(-600, "connected", "meter-1"),
        event(-500, "connected", "meter-2"),
        event(-400, "connected", "brokerwatch-test-plant-a"),
        event(21, "connected", "brokerwatch-test-plant-a"),
        event(25, "connected", "meter-1"),
        event(70, "connected", "meter-9"),
      ]);
    await db.insert(metricSamples).values([
      { broker: "plant-a", metric: "mqtt_queued_messages", ts: at(-3), value: 12 },
      { broker: "plant-a", metric: "mqtt_queued_messages", ts: at(21), value: 0 },
      { broker: "plant-a", metric: "mqtt_connections_current", ts: at(-3), value: 3 },
      // after: brokerwatch, meter-1 and meter-9 — no room for meter-2 to have come back unseen
      // in the second between the broker's start and brokerwatch watching it again
      { broker: "plant-a", metric: "mqtt_connections_current", ts: at(80), value: 3 },
    ]);
    clock = T0 + 90_000; // 70 s after up, but meter-9 connected 20 s ago
    await tracker.closeSettled();
    expect((await getIncident(db, open.id))?.endedAt).toBeNull();
    clock = T0 + 101_000;
    await tracker.closeSettled();
    const closed = await getIncident(db, open.id);
    expect(closed).toMatchObject({
      endedAt: at(101),
      clientsBefore: 3,
      clientsDropped: 2,
      clientsBack1m: 1,
      queuedBefore: 12,
      queuedAfter: 0,
    });
    expect(closed!.detail?.clientsNeverBack).toEqual(["meter-2"]);
    // no uptime sample stored: the broker may have been back any time after it went down
    expect(closed).toMatchObject({ clientsUnknown: 0, blindSeconds: 20 });
    expect(closed!.findings.map((f) => f.code)).toEqual(["persistence_off"]);
  });

  it("opens an uptime_reset incident when the uptime went back without the connection dropping", async () => {
    manager.emit("heartbeat", "plant-a", { node: "", uptimeSeconds: 900, at: at(1000) });
    manager.emit("heartbeat", "plant-a", { node: "", uptimeSeconds: 3, at: at(1010) });
    await tracker.idle();
    const [open] = await listOpenIncidents(t.database.db);
    expect(open).toMatchObject({
      kind: "restart",
      detectedBy: "uptime_reset",
      lastGoodAt: at(1000),
      startedAt: at(1000),
      upAt: at(1007),
    });
  });

  it("records a restart once although several watchers see the uptime go back, some long after", async () => {
    const db = t.database.db;
    const [open] = await listOpenIncidents(db);
    clock = T0 + 1100_000;
    await tracker.closeSettled();
    expect((await getIncident(db, open.id))?.endedAt).not.toBeNull();
    // another watcher of the same broker (same tracker state per broker and node: a second node key
    // stands for it) last heard the old process at 1005 and sees the new one only now
    manager.emit("heartbeat", "plant-a", { node: "other-watcher", uptimeSeconds: 905, at: at(1005) });
    manager.emit("heartbeat", "plant-a", { node: "other-watcher", uptimeSeconds: 80, at: at(1087) });
    await tracker.idle();
    expect(await listOpenIncidents(db)).toEqual([]);
    expect(await db.select().from(brokerIncidents)).toHaveLength(2);
    await t.database.db.delete(brokerIncidents);
  });

  it("records one restart noticed as a lost connection when the new process's uptime was read before the merged down", async () => {
    manager.emit("heartbeat", "plant-a", { node: "", uptimeSeconds: 7000, at: at(3000) });
    manager.emit("heartbeat", "plant-a", { node: "", uptimeSeconds: 1, at: at(3004) });
    manager.emit("merged", change("down", 3002, "connection lost: read ECONNRESET"));
    await tracker.idle();
    const open = await listOpenIncidents(t.database.db);
    expect(open).toHaveLength(1);
    expect(open[0]).toMatchObject({ kind: "restart", detectedBy: "connection_lost", lastGoodAt: at(3000) });
    await t.database.db.delete(brokerIncidents);
  });

  it("does not open an incident while the merged status stays up, and records one outage once per merged change", async () => {
    // one watcher's own "down" is not a merged change: the manager emits nothing, nothing opens
    await tracker.idle();
    expect(await listOpenIncidents(t.database.db)).toEqual([]);
    manager.emit("merged", change("down", 2000, "connection lost"));
    manager.emit("merged", change("down", 2000, "connection lost"));
    await tracker.idle();
    expect(await listOpenIncidents(t.database.db)).toHaveLength(1);
    await t.database.db.delete(brokerIncidents);
  });
});

describe("brokerwatch's own collectors are not the broker's clients", () => {
  it("excludes this instance's collector and, on a shared database, the other instances'", async () => {
    const { isCollectorOf } = await import("@/lib/incidents/load");
    expect(isCollectorOf("brokerwatch-ab12-plant-a-1f2e3d", "brokerwatch-ab12-plant-a-1f2e3d")).toBe(true);
    expect(isCollectorOf("brokerwatch-ab12-plant-a-1f2e3d", "brokerwatch-ab12-plant-a-9c8b7a")).toBe(true);
    expect(isCollectorOf("brokerwatch-ab12-plant-a-1f2e3d", "brokerwatch-ab12-plant-a-9c8b7a-x")).toBe(false);
    expect(isCollectorOf("brokerwatch-ab12-plant-a", "meter-1")).toBe(false);
    expect(isCollectorOf("brokerwatch-ab12-plant-a", "brokerwatch-ab12-plant-a")).toBe(true);
    expect(isCollectorOf(null, "meter-1")).toBe(false);
  });
});

describe("incident loaders of the console pages", () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await freshDatabase();
    setRuntime({ database: t.database, startedAt: new Date(), bundledBrokerUrl: null });
  });
  afterAll(async () => {
    setRuntime(undefined);
    await t?.drop();
  });

  it("link an alert about a broker to its newest incident, and refuse a caller no page checked", async () => {
    const now = Date.now();
    const incident = (broker: string, agoS: number, open: boolean) =>
      openIncident(t.database.db, {
        broker,
        kind: "outage",
        detectedBy: "connection_lost",
        lastGoodAt: new Date(now - agoS * 1000 - 1000),
        startedAt: new Date(now - agoS * 1000),
        upAt: open ? null : new Date(now - agoS * 1000 + 5000),
        endedAt: open ? null : new Date(now - agoS * 1000 + 60_000),
      });
    await incident("plant-a", 7200, false);
    const newest = await incident("plant-a", 600, true);
    const viewer = markVerified({ role: "viewer" as const, username: "victor" });
    const links = await loadLatestIncidentIds(viewer, ["plant-a", "plant-b"], now);
    expect([...links]).toEqual([["plant-a", newest.id]]);
    const recent = await loadRecentIncidents(viewer, now);
    expect(recent.map((i) => i.broker)).toEqual(["plant-a", "plant-a"]);
    await expect(loadLatestIncidentIds({ role: "admin", username: "mallory" }, ["plant-a"], now)).rejects.toThrow();
  });
});
