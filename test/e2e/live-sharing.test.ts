import { EventEmitter } from "node:events";
import { afterAll, beforeAll, expect, it } from "vitest";
import postgres from "postgres";
import type { EventRow } from "@/db/ingest";
import type { IngestWriter } from "@/lib/collector/writer";
import { EVENTS_CHANNEL, onCommittedEvents, shareCommittedEvents } from "@/lib/live";
import { freshDatabase, type TestDatabase } from "../helpers/db";
import { describeIf, needs } from "../helpers/require";

/**
 * Live events cross instances over LISTEN/NOTIFY only while some other instance has a live stream
 * open: at fleet rates, serialising and notifying every committed event for nobody was a third of
 * the ingest path's CPU (lib/live.ts, shareCommittedEvents).
 */
function fakeWriter(): IngestWriter {
  return new EventEmitter() as unknown as IngestWriter;
}

function event(clientId: string): EventRow {
  const now = new Date();
  return {
    ts: now,
    receivedAt: now,
    broker: "b1",
    node: null,
    clientId,
    type: "connected",
    reason: null,
    address: "10.0.0.1",
    port: 1883,
    username: null,
    protocolVersion: 4,
    cleanStart: true,
    keepalive: 60,
    sessionSeconds: null,
    raw: `1795340000: New client connected from 10.0.0.1:1883 as ${clientId} (p2, c1, k60).`,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, check: () => T | Promise<T>, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

describeIf(needs({ postgres: true }), "live events shared between instances on demand", () => {
  let db: TestDatabase;
  let spy: postgres.Sql;
  const notified: string[] = [];
  const stops: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    db = await freshDatabase("postgres");
    spy = postgres(db.url!, { max: 1, onnotice: () => {} });
    await spy.listen(EVENTS_CHANNEL, (payload) => notified.push(payload));
  });

  afterAll(async () => {
    for (const stop of stops) await stop();
    await spy?.end();
    await db?.drop();
  });

  async function instance(name: string): Promise<IngestWriter> {
    const writer = fakeWriter();
    stops.push(await shareCommittedEvents(db.database, writer, name, () => {}));
    return writer;
  }

  it("sends nothing while no other instance watches, and streams to one that does", async () => {
    const a = await instance("a");
    const b = await instance("b");

    // nobody has a stream open: a's commits stay at home
    a.emit("written", { events: [event("nobody-watches")] });
    await sleep(300);
    expect(notified).toEqual([]);

    // a stream opens on b: b says so, a starts sending, b's stream gets a's events
    const seen: string[] = [];
    const unsubscribe = onCommittedEvents(b, (events) => seen.push(...events.map((e) => e.clientId!)));
    await until("a's event on b's stream", () => {
      a.emit("written", { events: [event("while-b-watches")] });
      return seen.includes("while-b-watches");
    });
    expect(notified.some((p) => p.startsWith(`{"from":"a",`))).toBe(true);
    // b's own commits go to b's stream from its writer, and nobody else watches them
    const fromB = notified.filter((p) => p.startsWith(`{"from":"b",`)).length;
    b.emit("written", { events: [event("b-own")] });
    await sleep(200);
    expect(notified.filter((p) => p.startsWith(`{"from":"b",`)).length).toBe(fromB);
    expect(seen).toContain("b-own");

    // the stream closes: b withdraws and a stops sending
    unsubscribe();
    await sleep(300);
    const before = notified.length;
    a.emit("written", { events: [event("after-b-left")] });
    await sleep(300);
    expect(notified.length).toBe(before);
  });

  it("tells an instance that starts later who is watching, without waiting for the next refresh", async () => {
    const watcher = await instance("watcher");
    const seen: string[] = [];
    const unsubscribe = onCommittedEvents(watcher, (events) => seen.push(...events.map((e) => e.clientId!)));
    try {
      await sleep(200); // the watcher's announcement went out before the newcomer listened
      const late = await instance("late");
      // the newcomer asked at start and the watcher answered: well within the 10 s refresh
      await until(
        "the late instance's event on the watcher's stream",
        () => {
          late.emit("written", { events: [event("from-late")] });
          return seen.includes("from-late");
        },
        3000,
      );
    } finally {
      unsubscribe();
    }
  });
});
