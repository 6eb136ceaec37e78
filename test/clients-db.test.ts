import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTimeline } from "@/lib/diagnosis";
import type { EventType } from "@/lib/events";
import { clientHistory, prefixPattern, recentDisconnects, searchClients } from "@/db/clients";
import { insertEvents, type EventRow } from "@/db/ingest";
import { clientIdFromPath, clientsHref, disconnectsCsvHref, parseClientsParams } from "@/components/clients/params";
import { freshDatabase, type TestDatabase } from "./helpers/db";

/**
 * The Clients pages' queries, on embedded PGlite, or on the Postgres server of DATABASE_URL when
 * it is set (run the file both ways): what an operator types into the search box is a prefix
 * taken literally, whatever ClientIDs devices chose.
 */
const T0 = Date.parse("2026-11-20T08:00:00Z");
const at = (minutes: number) => new Date(T0 + minutes * 60_000);

function event(clientId: string | null, minutes: number, type: EventType, o: Partial<EventRow> = {}): EventRow {
  return {
    ts: at(minutes),
    receivedAt: at(minutes),
    broker: "plant-a",
    node: null,
    clientId,
    type,
    reason: null,
    address: "10.0.0.5",
    port: 40000,
    username: "device",
    protocolVersion: 4,
    cleanStart: true,
    keepalive: 60,
    sessionSeconds: null,
    raw: `${type} ${clientId}`,
    ...o,
  };
}

/** ClientIDs devices really send: wildcards of LIKE, the escape character, URL and HTML syntax, unicode. */
const HOSTILE = [
  "a%b",
  "a%",
  "a_b",
  "axb",
  "a\\b",
  "a\\\\",
  "ab",
  "A-upper",
  `pump/7 "north" #1?x=%25&y ünïcødé 🚀 ' ; drop table x; --`,
  "<img src=x onerror=alert(1)>",
];

let t: TestDatabase;
beforeAll(async () => {
  t = await freshDatabase();
  const rows: EventRow[] = [];
  HOSTILE.forEach((id, i) => {
    rows.push(event(id, i, "connected", { port: 1000 + i }));
    rows.push(event(id, i + 30, "disconnected", { reason: "tcp_closed", sessionSeconds: 1800, port: 1000 + i }));
  });
  await insertEvents(t.database, rows);
});
afterAll(async () => {
  await t?.drop();
});

describe(`ClientID prefix search (${process.env.DATABASE_URL ? "Postgres" : "PGlite"})`, () => {
  const ids = async (prefix: string) =>
    (await searchClients(t.database.db, prefix)).clients.map((c) => c.clientId).sort();

  it("escapes %, _ and \\ in the pattern", () => {
    expect(prefixPattern("a%_\\")).toBe("a\\%\\_\\\\%");
  });

  it("takes % literally", async () => {
    expect(await ids("a%")).toEqual(["a%", "a%b"]);
  });

  it("takes _ literally", async () => {
    expect(await ids("a_")).toEqual(["a_b"]);
    expect(await ids("a_b")).toEqual(["a_b"]);
  });

  it("takes \\ literally", async () => {
    expect(await ids("a\\")).toEqual(["a\\\\", "a\\b"]);
    expect(await ids("a\\\\")).toEqual(["a\\\\"]);
  });

  it("matches by prefix, case-sensitively, as ClientIDs are", async () => {
    expect(await ids("a")).toEqual(["a%", "a%b", "a\\\\", "a\\b", "a_b", "ab", "axb"]);
    expect(await ids("A")).toEqual(["A-upper"]);
    expect(await ids("zz")).toEqual([]);
  });

  it("searches nothing for an empty prefix", async () => {
    expect(await searchClients(t.database.db, "")).toEqual({ clients: [], more: false });
  });

  it("finds hostile ClientIDs by their own prefixes, exactly as stored", async () => {
    for (const id of HOSTILE) {
      for (const prefix of [id.slice(0, 3), id]) {
        expect(await ids(prefix), `prefix ${JSON.stringify(prefix)}`).toContain(id);
      }
    }
    expect(await ids(`pump/7 "north" #1?x=%25`)).toEqual([HOSTILE[8]]);
    // a NUL typed into the search box neither errors nor matches
    expect(await ids("a\u0000")).toEqual([]);
  });

  it("shows each match's last event, broker, last-seen time and event count, most recently seen first", async () => {
    const { clients, more } = await searchClients(t.database.db, "a");
    expect(more).toBe(false);
    expect(clients[0]).toEqual({
      clientId: "ab",
      events: 2,
      lastSeen: at(6 + 30),
      lastType: "disconnected",
      lastReason: "tcp_closed",
      lastBroker: "plant-a",
      lastSession: { type: "disconnected", ts: at(6 + 30), broker: "plant-a" },
    });
    expect(clients.map((c) => c.lastSeen.getTime())).toEqual(
      [...clients.map((c) => c.lastSeen.getTime())].sort((x, y) => y - x),
    );
  });

  it("says when there are more matches than it shows", async () => {
    const page = await searchClients(t.database.db, "a", { limit: 3 });
    expect(page.clients).toHaveLength(3);
    expect(page.more).toBe(true);
  });
});

describe("one client's history", () => {
  const ID = "meter/ü#?%";
  beforeAll(async () => {
    await insertEvents(t.database, [
      // before the window: counts for "last seen", not for the page
      event(ID, -10_000, "connected", { port: 1 }),
      event(ID, -9_000, "disconnected", { port: 1, reason: "normal", sessionSeconds: 60_000 }),
      // its connect was before the window: dated from sessionSeconds
      event(ID, 1010, "disconnected", { port: 2, reason: "keepalive_timeout", sessionSeconds: 1200 }),
      event(ID, 1020, "connect_failed", { port: 3, reason: "not_authorized" }),
      event(ID, 1030, "connected", { port: 4 }),
      event(ID, 1040, "disconnected", { port: 4, reason: "keepalive_timeout", sessionSeconds: 600 }),
      event(ID, 1050, "connected", { port: 5, address: "10.0.0.9" }),
      event(ID, 1055, "messages_dropped", { port: 5, address: "10.0.0.9" }),
      event("meter/ü#?%other", 1060, "connected"),
      event(ID, 1070, "connected", { port: 6, broker: "plant-b" }),
    ]);
  });

  it("pairs the window's events into sessions, newest first, with the open one connected now", async () => {
    const h = await clientHistory(t.database.db, ID, { from: at(1000) });
    expect(h.total).toBe(7);
    expect(h.truncated).toBe(false);
    expect(h.lastSeen).toEqual(at(1070));
    expect(
      buildTimeline(h.events).map((e) =>
        e.kind === "event"
          ? `${e.event.type} ${e.event.reason ?? ""}`.trim()
          : `${e.session.broker}:${e.session.port} ${e.session.open ? "open" : e.session.reason}`,
      ),
    ).toEqual([
      "plant-b:6 open",
      "messages_dropped",
      "plant-a:5 open",
      "plant-a:4 keepalive_timeout",
      "connect_failed not_authorized",
      "plant-a:2 keepalive_timeout",
    ]);
    const orphan = buildTimeline(h.events).at(-1)!;
    expect(orphan.kind === "session" && orphan.session.startedAt).toEqual(at(990));
  });

  it("counts the window's events per type and reason", async () => {
    const h = await clientHistory(t.database.db, ID, { from: at(1000) });
    expect(h.breakdown).toEqual([
      { type: "connected", reason: null, count: 3 },
      { type: "disconnected", reason: "keepalive_timeout", count: 2 },
      { type: "connect_failed", reason: "not_authorized", count: 1 },
      { type: "messages_dropped", reason: null, count: 1 },
    ]);
  });

  it("keeps the newest events when the window holds more than the limit, and says so", async () => {
    const h = await clientHistory(t.database.db, ID, { from: at(1000), limit: 3 });
    expect(h.events.map((e) => e.ts)).toEqual([at(1070), at(1055), at(1050)]);
    expect(h.truncated).toBe(true);
    expect(h.total).toBe(7);
  });

  it("filters by broker", async () => {
    const h = await clientHistory(t.database.db, ID, { from: at(1000), broker: "plant-b" });
    expect(h.total).toBe(1);
  });

  it("knows when the client was last seen at any broker, after the window too", async () => {
    // the newest event (1070) is on plant-b: neither a window on plant-a nor one ending before it holds it
    const onA = await clientHistory(t.database.db, ID, { from: at(1000), broker: "plant-a" });
    expect(onA.events[0].ts).toEqual(at(1055));
    expect(onA.lastSeen).toEqual(at(1070));
    const before = await clientHistory(t.database.db, ID, { from: at(1000), to: at(1040) });
    expect(before.events[0].ts).toEqual(at(1040));
    expect(before.lastSeen).toEqual(at(1070));
  });

  it("finds nothing in an empty window but still knows when the client was last seen", async () => {
    const h = await clientHistory(t.database.db, ID, { from: at(2000) });
    expect(h).toMatchObject({ events: [], breakdown: [], total: 0, lastSeen: at(1070) });
    const unknown = await clientHistory(t.database.db, "METER/ü#?%", { from: at(0) });
    expect(unknown).toMatchObject({ total: 0, lastSeen: null });
  });

  it("matches the ClientID exactly: no prefix, no pattern", async () => {
    expect((await clientHistory(t.database.db, "meter/ü#?", { from: at(0) })).total).toBe(0);
    expect((await clientHistory(t.database.db, "a_b", { from: at(-100) })).total).toBe(2);
    expect((await clientHistory(t.database.db, "a%", { from: at(-100) })).total).toBe(2);
  });
});

describe("recent disconnects", () => {
  beforeAll(async () => {
    const rows: EventRow[] = [];
    // 25 disconnects on plant-c, two per timestamp so ties are broken by id
    for (let i = 0; i < 25; i++) {
      rows.push(
        event(`d-${i}`, 5000 + Math.floor(i / 2), "disconnected", {
          broker: "plant-c",
          reason: i % 3 === 0 ? "keepalive_timeout" : "tcp_closed",
          sessionSeconds: 10,
        }),
      );
    }
    rows.push(event(null, 5001, "connect_failed", { broker: "plant-c", reason: "not_authorized" }));
    rows.push(event("d-x", 5001, "connected", { broker: "plant-c" }));
    rows.push(event("d-y", 5001, "disconnected", { broker: "plant-d", reason: "tcp_closed" }));
    await insertEvents(t.database, rows);
  });

  const filter = { type: "disconnected" as const, broker: "plant-c", from: at(4000) };

  it("filters by type, reason, broker and time", async () => {
    const page = await recentDisconnects(t.database.db, { ...filter, reason: "keepalive_timeout" }, { limit: 100 });
    expect(page.events.map((e) => e.clientId)).toEqual([
      "d-24",
      "d-21",
      "d-18",
      "d-15",
      "d-12",
      "d-9",
      "d-6",
      "d-3",
      "d-0",
    ]);
    expect(page.events.every((e) => e.broker === "plant-c" && e.type === "disconnected")).toBe(true);
    const failed = await recentDisconnects(t.database.db, { ...filter, type: "connect_failed" }, { limit: 100 });
    expect(failed.events.map((e) => [e.clientId, e.reason])).toEqual([[null, "not_authorized"]]);
    const late = await recentDisconnects(t.database.db, { ...filter, from: at(5011) }, { limit: 100 });
    expect(late.events.map((e) => e.clientId)).toEqual(["d-24", "d-23", "d-22"]);
  });

  it("pages older and back newer without losing or repeating a row, ties included", async () => {
    const all = (await recentDisconnects(t.database.db, filter, { limit: 100 })).events.map((e) => e.clientId);
    expect(all).toHaveLength(25);
    const pages: (string | null)[][] = [];
    let page = await recentDisconnects(t.database.db, filter, { limit: 10 });
    expect(page.newer).toBeNull();
    pages.push(page.events.map((e) => e.clientId));
    while (page.older) {
      page = await recentDisconnects(t.database.db, filter, { limit: 10, before: page.older });
      pages.push(page.events.map((e) => e.clientId));
    }
    expect(pages.flat()).toEqual(all);
    expect(pages.map((p) => p.length)).toEqual([10, 10, 5]);
    // and back: Newer from the last page gives the middle page again, then the first
    page = await recentDisconnects(t.database.db, filter, { limit: 10, after: page.newer! });
    expect(page.events.map((e) => e.clientId)).toEqual(pages[1]);
    page = await recentDisconnects(t.database.db, filter, { limit: 10, after: page.newer! });
    expect(page.events.map((e) => e.clientId)).toEqual(pages[0]);
    expect(page.newer).toBeNull();
    expect(page.older).not.toBeNull();
  });
});

describe("URLs of the Clients pages", () => {
  it("decodes the trace page's ClientID exactly once, from the raw path", () => {
    expect(clientIdFromPath(`/clients/${encodeURIComponent("%25")}`, "ignored")).toBe("%25");
    expect(clientIdFromPath(`/clients/${encodeURIComponent("a/b#?c")}?window=30d`, "ignored")).toBe("a/b#?c");
    expect(clientIdFromPath(`/clients/${encodeURIComponent("ü 🚀")}?_rsc=1x2`, "ignored")).toBe("ü 🚀");
    expect(clientIdFromPath("/clients/%E0%A4%A", "ignored")).toBeNull();
    // no raw path (not behind server/main.ts): the router's already-decoded value
    expect(clientIdFromPath(null, "a%b")).toBe("a%b");
  });

  it("writes the filters into the URL and reads them back, ignoring values it does not know", () => {
    const filters = {
      q: "a%&b",
      type: "connect_failed",
      reason: "not_authorized",
      broker: "plant a",
      range: "7d",
      before: { ts: new Date("2026-11-20T08:00:00.123Z"), id: 42 },
    } as const;
    const query = Object.fromEntries(new URL(clientsHref(filters), "http://x").searchParams);
    expect(parseClientsParams(query)).toEqual({ ...filters, after: undefined });
    expect(parseClientsParams({ type: "nonsense", reason: "DROP", range: "1y", before: "garbage" })).toMatchObject({
      type: "disconnected",
      reason: undefined,
      range: "24h",
      before: undefined,
    });
    expect(clientsHref({ type: "disconnected", range: "24h" })).toBe("/clients");
  });

  it("exports CSV with the table's filters, as GET /api/events takes them", () => {
    expect(disconnectsCsvHref({ type: "disconnected", reason: "tcp_closed", broker: "plant&b", range: "1h" })).toBe(
      "/api/events?format=csv&type=disconnected&reason=tcp_closed&broker=plant%26b&from=1h",
    );
  });
});
