import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createDialect } from "@/lib/collector/index";
import { NATS_CONNZ_CLOSED } from "@/lib/collector/nats";
import { NatsMonitorSource } from "@/lib/collector/nats-sources";
import type { SourceRecord, SourceSink } from "@/lib/collector/source";
import { waitFor } from "./helpers/ports";

/**
 * The NATS monitoring-port source against a scripted monitoring port (in process): it reads the
 * closed-connection ring down to where its last committed read ended, moves that cursor only when
 * the events are acknowledged (committed), and says "events may be missing" when the ring wrapped
 * between two polls.
 */
interface Closed {
  cid: number;
  stop: string;
}

function monitor(state: { ring: Closed[]; serverId: string }) {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url!, "http://x");
    requests.push(url.pathname + url.search);
    const json = (body: unknown) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(body));
    };
    if (url.pathname === "/healthz") return json({ status: "ok" });
    if (url.pathname === "/varz") return json({ server_id: state.serverId, connections: 0, jwt: "secret-password" });
    if (url.pathname === "/jsz") return json({});
    if (url.pathname === "/connz") {
      const offset = Number(url.searchParams.get("offset") ?? 0);
      const limit = Number(url.searchParams.get("limit") ?? 1024);
      if (url.searchParams.get("state") === "open") return json({ server_id: state.serverId, total: 0, connections: [] });
      const newestFirst = [...state.ring].sort((a, b) => b.stop.localeCompare(a.stop) || b.cid - a.cid);
      const page = newestFirst.slice(offset, offset + limit).map((c) => ({
        cid: c.cid,
        type: "mqtt",
        mqtt_client: `c${c.cid}`,
        start: "2026-12-07T20:00:00Z",
        stop: c.stop,
        reason: "Client Closed",
        jwt: "secret-password",
      }));
      return json({ server_id: state.serverId, total: state.ring.length, offset, limit, connections: page });
    }
    res.statusCode = 404;
    res.end();
  });
  return { server, requests };
}

const stopAt = (second: number) => new Date(Date.UTC(2026, 11, 7, 21, 0, 0) + second * 1000).toISOString();

describe("NATS monitoring-port source", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  async function start(state: { ring: Closed[]; serverId: string }, opts: { ack: boolean }) {
    const { server, requests } = monitor(state);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const dialect = createDialect("nats");
    const records: SourceRecord[] = [];
    const gaps: { from: Date; to: Date; why: string }[] = [];
    const sink: SourceSink = {
      record(record) {
        records.push(record);
        if (opts.ack) record.ack?.();
        return dialect.parse(record.topic, record.payload, record.receivedAt);
      },
      beat() {},
      connected() {},
      failed(_source, why) {
        throw new Error(why);
      },
      gap(from, to, why) {
        gaps.push({ from, to, why });
      },
    };
    // an interval long enough that only pollNow() polls
    const source = new NatsMonitorSource(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, 3_600_000);
    cleanups.push(() => source.stop());
    const closedReads = () => records.filter((r) => r.topic === NATS_CONNZ_CLOSED).length;
    source.start(sink);
    await waitFor("first poll", () => closedReads() > 0);
    await source.pollNow(); // the first poll is done
    const poll = async () => {
      const beforeRequests = requests.length;
      await source.pollNow();
      return requests.slice(beforeRequests);
    };
    return { records, gaps, poll, requests };
  }

  it("drops the jwt field of every answer before it goes anywhere", async () => {
    const { records } = await start({ ring: [{ cid: 1, stop: stopAt(1) }], serverId: "S" }, { ack: true });
    for (const r of records) expect(Buffer.from(r.payload).toString()).not.toContain("secret-password");
  });

  it("reads the ring only down to its committed cursor, and finds no gap when the ring did not wrap", async () => {
    const state = { ring: Array.from({ length: 3000 }, (_, i) => ({ cid: i + 1, stop: stopAt(i) })), serverId: "S" };
    const { gaps, poll } = await start(state, { ack: true });
    state.ring.push({ cid: 3001, stop: stopAt(5000) });
    const requests = await poll();
    // one page of closed connections: the cursor is on it
    expect(requests.filter((r) => r.includes("state=closed"))).toHaveLength(1);
    expect(gaps).toEqual([]);
  });

  it("says events may be missing when the ring wrapped between two polls", async () => {
    const state = { ring: [{ cid: 1, stop: stopAt(1) }, { cid: 2, stop: stopAt(2) }], serverId: "S" };
    const { gaps, poll } = await start(state, { ack: true });
    // 10,000 closes since: the ring no longer holds cid 2, where the last read ended
    state.ring = Array.from({ length: 10_000 }, (_, i) => ({ cid: 100 + i, stop: stopAt(10 + i) }));
    await poll();
    expect(gaps).toHaveLength(1);
    expect(gaps[0].from.toISOString()).toBe(stopAt(2));
    expect(gaps[0].to.toISOString()).toBe(stopAt(10));
    expect(gaps[0].why).toMatch(/wrapped between two polls: disconnects between .* may be missing/);
  });

  it("moves the cursor only once the events are committed (acknowledged)", async () => {
    const state = { ring: Array.from({ length: 2000 }, (_, i) => ({ cid: i + 1, stop: stopAt(i) })), serverId: "S" };
    const { poll } = await start(state, { ack: false });
    // nothing was acknowledged: the next poll reads the whole ring again, not just the newest page
    const requests = await poll();
    expect(requests.filter((r) => r.includes("state=closed"))).toHaveLength(2);
  });

  it("treats a new server_id as a restart, not as a wrapped ring", async () => {
    const state = { ring: [{ cid: 1, stop: stopAt(1) }], serverId: "S" };
    const { gaps, poll } = await start(state, { ack: true });
    state.serverId = "T";
    state.ring = [{ cid: 1, stop: stopAt(100) }];
    await poll();
    expect(gaps).toEqual([]);
  });
});
