import { NATS_CLIENT_CLOSED_NOTE } from "@/lib/collector/nats";
import { describe, expect, it } from "vitest";
import type { DisconnectReason, EventType } from "@/lib/events";
import {
  buildTimeline,
  diagnose,
  pairSessions,
  KEEPALIVE_RUN_MIN,
  MAX_EVIDENCE,
  RECONNECT_LOOP_MIN,
  REGULAR_CLOSE_MIN_SECONDS,
  REGULAR_CLOSE_MIN_SESSIONS,
  SAME_ADDRESS_TAKEOVER_MIN,
  SHORT_SESSION_SECONDS,
  type DiagnosisEvent,
  type Finding,
} from "@/lib/diagnosis";

/**
 * The diagnosis from event sequences written the way the collector records them (docs/contract.md §4):
 * a disconnect carries its session's address, port and keepalive, and Mosquitto 2.0 writes a
 * takeover's disconnect just before the new session's connect, in the same second.
 */
const T0 = Date.parse("2026-11-20T08:00:00Z");
const NOW = new Date(T0 + 3 * 86400_000);

interface Endpoint {
  address?: string;
  port?: number;
  keepalive?: number;
  username?: string | null;
  broker?: string;
  cleanStart?: boolean;
}

/** Builds one client's history; ids rise in the order events are recorded, as bigserial does. */
function history() {
  let id = 0;
  const events: DiagnosisEvent[] = [];
  const at = (seconds: number) => new Date(T0 + seconds * 1000);
  const base = (o: Endpoint) => ({
    broker: o.broker ?? "plant-a",
    address: o.address ?? "10.0.0.5",
    port: o.port ?? 40001,
    keepalive: o.keepalive ?? 60,
    username: o.username === undefined ? "device" : o.username,
    protocolVersion: 4,
    cleanStart: o.cleanStart ?? true,
  });
  /** one event at t seconds; `fields` override what the endpoint says */
  const add = (type: EventType, t: number, o: Endpoint, fields: Partial<DiagnosisEvent> = {}) => {
    const e: DiagnosisEvent = { id: ++id, ts: at(t), type, reason: null, sessionSeconds: null, ...base(o), ...fields };
    events.push(e);
    return e;
  };
  const api = {
    events,
    connect: (t: number, o: Endpoint = {}) => add("connected", t, o),
    disconnect: (t: number, reason: DisconnectReason, sessionSeconds: number | null, o: Endpoint = {}) =>
      add("disconnected", t, o, { reason, sessionSeconds }),
    /** a session from t lasting `seconds`, ended for `reason` */
    session(t: number, seconds: number, reason: DisconnectReason, o: Endpoint = {}) {
      const start = api.connect(t, o);
      const end = api.disconnect(t + seconds, reason, seconds, o);
      return { start, end };
    },
    failed: (t: number, reason: DisconnectReason, o: Endpoint = {}) => add("connect_failed", t, o, { reason, keepalive: null }),
    dropped: (t: number, o: Endpoint = {}) => add("messages_dropped", t, o),
  };
  return api;
}

function find(findings: Finding[], id: string): Finding {
  const f = findings.find((x) => x.id === id);
  if (!f) throw new Error(`no ${id} finding; got ${findings.map((x) => x.id).join(", ") || "none"}`);
  return f;
}

const ids = (f: Finding) => f.evidence.map((e) => e.eventId);

describe("pairing events into sessions", () => {
  it("pairs each disconnect with its connect and keeps the newest session open as connected now", () => {
    const h = history();
    const first = h.session(0, 3600, "normal");
    const open = h.connect(4000, { port: 40002 });
    const sessions = pairSessions(h.events);
    expect(sessions).toHaveLength(2);
    expect(sessions[0]).toMatchObject({
      start: first.start,
      end: first.end,
      seconds: 3600,
      open: false,
      reason: "normal",
    });
    expect(sessions[1]).toMatchObject({ start: open, end: null, open: true, port: 40002 });
  });

  it("dates a session whose connect was before the window from its disconnect's sessionSeconds", () => {
    const h = history();
    const end = h.disconnect(100, "tcp_closed", 7200);
    const [s] = pairSessions(h.events);
    expect(s).toMatchObject({ start: null, end, seconds: 7200, open: false, address: "10.0.0.5" });
    expect(s.startedAt!.toISOString()).toBe(new Date(T0 + 100_000 - 7200_000).toISOString());
  });

  it("ends an older session whose disconnect was lost as unrecorded, not as connected now", () => {
    const h = history();
    h.connect(0, { port: 1 });
    h.connect(500, { port: 2 });
    const sessions = pairSessions(h.events);
    expect(sessions.map((s) => [s.port, s.open, s.end])).toEqual([
      [1, false, null],
      [2, true, null],
    ]);
  });

  it("tells a takeover's two sessions apart by address and port whatever order their lines came in", () => {
    const h = history();
    const a = h.connect(0, { address: "10.0.0.5", port: 1 });
    // EMQX may report the new connection before the old one's end
    const b = h.connect(60, { address: "10.0.0.9", port: 2 });
    const end = h.disconnect(60, "discarded", 60, { address: "10.0.0.5", port: 1 });
    const sessions = pairSessions(h.events);
    expect(sessions[0]).toMatchObject({ start: a, end, open: false });
    expect(sessions[1]).toMatchObject({ start: b, end: null, open: true });
  });

  it("pairs per broker, accepts ISO strings and any input order", () => {
    const h = history();
    h.session(0, 10, "normal", { broker: "plant-a" });
    h.session(5, 20, "tcp_closed", { broker: "plant-b" });
    const shuffled = [...h.events].reverse().map((e) => ({ ...e, ts: new Date(e.ts).toISOString() }));
    const sessions = pairSessions(shuffled);
    expect(sessions.map((s) => [s.broker, s.seconds, s.reason])).toEqual([
      ["plant-a", 10, "normal"],
      ["plant-b", 20, "tcp_closed"],
    ]);
  });

  it("builds a timeline newest first with failed connects and drops in place", () => {
    const h = history();
    h.session(0, 100, "normal");
    const failed = h.failed(200, "not_authorized");
    const open = h.connect(300);
    const dropped = h.dropped(400);
    const timeline = buildTimeline(h.events);
    expect(timeline.map((t) => (t.kind === "event" ? t.event.id : `session ${t.session.start?.id}`))).toEqual([
      dropped.id,
      `session ${open.id}`,
      failed.id,
      "session 1",
    ]);
  });
});

describe("diagnosis", () => {
  it("finds nothing wrong with a healthy client: long sessions, one timeout, one dropped socket", () => {
    const h = history();
    h.session(0, 8 * 3600, "normal");
    h.session(8 * 3600 + 5, 20 * 3600, "keepalive_timeout");
    h.session(28 * 3600 + 30, 10 * 3600, "tcp_closed", { port: 40009 });
    h.connect(38 * 3600 + 30, { port: 40010 });
    expect(diagnose(h.events, NOW)).toEqual([]);
  });

  it("finds no fault in an empty history", () => {
    expect(diagnose([], NOW)).toEqual([]);
  });

  describe("two devices sharing a ClientID", () => {
    it("reports discarded ping-pong between two addresses, with the takeovers and the connects that caused them", () => {
      const h = history();
      const evidence: number[] = [];
      h.connect(0, { address: "10.0.0.5", port: 50000 });
      for (let i = 1; i <= 4; i++) {
        const [from, to] = i % 2 ? ["10.0.0.5", "10.0.0.9"] : ["10.0.0.9", "10.0.0.5"];
        // Mosquitto 2.0: `Client pump-7 already connected, closing old connection.` then the new connect
        evidence.push(h.disconnect(i * 30, "discarded", 30, { address: from, port: 50000 + i - 1 }).id);
        evidence.push(h.connect(i * 30, { address: to, port: 50000 + i }).id);
      }
      const f = find(diagnose(h.events, NOW), "shared-client-id");
      expect(f.severity).toBe("critical");
      expect(f.title).toBe("Two devices share this ClientID");
      expect(f.detail).toContain("10.0.0.5 and 10.0.0.9");
      expect(f.detail).toContain("4 times");
      expect(f.fix).toMatch(/own ClientID.*serial number/);
      expect(ids(f)).toEqual(evidence);
      expect(f.evidence[0].summary).toContain("discarded");
      expect(f.evidence[0].ts).toBe(new Date(T0 + 30_000).toISOString());
    });

    it("reports takenover (clean start 0) ping-pong the same way", () => {
      const h = history();
      h.connect(0, { address: "192.168.1.20", port: 1, cleanStart: false });
      h.disconnect(10, "takenover", 10, { address: "192.168.1.20", port: 1, cleanStart: false });
      h.connect(10, { address: "192.168.1.21", port: 2, cleanStart: false });
      h.disconnect(20, "takenover", 10, { address: "192.168.1.21", port: 2, cleanStart: false });
      h.connect(20, { address: "192.168.1.20", port: 3, cleanStart: false });
      expect(find(diagnose(h.events, NOW), "shared-client-id").detail).toContain("takenover");
    });

    it("does not blame a device that roamed once to a new address", () => {
      const h = history();
      h.connect(0, { address: "10.0.0.5", port: 1 });
      h.disconnect(600, "discarded", 600, { address: "10.0.0.5", port: 1 });
      h.connect(600, { address: "100.64.3.7", port: 2 });
      expect(diagnose(h.events, NOW)).toEqual([]);
    });

    it("does not blame a device that moved on through three networks without coming back", () => {
      const h = history();
      h.connect(0, { address: "10.0.0.5", port: 1 });
      h.disconnect(600, "takenover", 600, { address: "10.0.0.5", port: 1 });
      h.connect(600, { address: "100.64.3.7", port: 2 });
      h.disconnect(1200, "takenover", 600, { address: "100.64.3.7", port: 2 });
      h.connect(1200, { address: "172.16.0.4", port: 3 });
      expect(diagnose(h.events, NOW).map((f) => f.id)).not.toContain("shared-client-id");
    });

    it(`notes takeovers from the already-connected address from ${SAME_ADDRESS_TAKEOVER_MIN} on, not before`, () => {
      const build = (n: number) => {
        const h = history();
        h.connect(0, { port: 1 });
        for (let i = 1; i <= n; i++) {
          h.disconnect(i * 300, "discarded", 300, { port: i });
          h.connect(i * 300, { port: i + 1 });
        }
        return diagnose(h.events, NOW);
      };
      expect(build(SAME_ADDRESS_TAKEOVER_MIN - 1)).toEqual([]);
      const findings = build(SAME_ADDRESS_TAKEOVER_MIN);
      expect(findings.map((f) => f.id)).toEqual(["same-address-takeovers"]);
      expect(findings[0].severity).toBe("info");
    });
  });

  describe("keepalive timeouts", () => {
    it(`reports a run of ${KEEPALIVE_RUN_MIN} within a day, showing k and the 1.5 × k the broker waited`, () => {
      const h = history();
      const timeouts = [0, 3600, 7200].map((t, i) => h.session(t, 1800, "keepalive_timeout", { port: 100 + i }).end.id);
      const f = find(diagnose(h.events, NOW), "keepalive-timeouts");
      expect(f.severity).toBe("warning");
      expect(f.title).toContain("k = 60 s");
      expect(f.detail).toContain("1.5 × the keepalive (90 s)");
      expect(f.detail).toContain("typically 30 min");
      expect(ids(f)).toEqual(timeouts);
      expect(f.evidence[0].summary).toBe("keepalive_timeout after 30 min (k = 60 s) from 10.0.0.5:100");
    });

    it("does not blame a keepalive that is already generous", () => {
      const h = history();
      for (let i = 0; i < 3; i++) h.session(i * 600, 300, "keepalive_timeout", { keepalive: 120, port: i });
      const f = find(diagnose(h.events, NOW), "keepalive-timeouts");
      expect(f.fix).not.toContain("Raise the keepalive");
      expect(f.fix).toContain("signal");
    });

    it("tells a device with a tight keepalive to raise it", () => {
      const h = history();
      for (let i = 0; i < 4; i++) h.session(i * 60, 20, "keepalive_timeout", { keepalive: 5, port: i });
      const f = find(diagnose(h.events, NOW), "keepalive-timeouts");
      expect(f.fix).toContain("Raise the keepalive from 5 s to 60 s or more");
      expect(f.detail).toContain("7.5 s");
    });

    it("does not call one keepalive timeout a run", () => {
      const h = history();
      h.session(0, 5000, "keepalive_timeout");
      expect(diagnose(h.events, NOW)).toEqual([]);
    });

    it(`does not call ${KEEPALIVE_RUN_MIN} timeouts spread over ${KEEPALIVE_RUN_MIN} days a run`, () => {
      const h = history();
      for (let day = 0; day < KEEPALIVE_RUN_MIN; day++) h.session(day * 90_000, 3600, "keepalive_timeout");
      expect(diagnose(h.events, NOW)).toEqual([]);
    });
  });

  describe("not authorised", () => {
    it("reports a refused login with the username it used", () => {
      const h = history();
      const refused = [0, 10, 20].map((t) => h.failed(t, "not_authorized", { username: "pump" }).id);
      const f = find(diagnose(h.events, NOW), "not-authorized");
      expect(f).toMatchObject({ severity: "critical", title: "Not authorised: 3 refusals" });
      expect(f.detail).toContain('username "pump"');
      expect(f.fix).toContain("password");
      expect(f.fix).not.toContain("ACL");
      expect(ids(f)).toEqual(refused);
    });

    it("points at the ACL when the broker refused a client that had already connected", () => {
      const h = history();
      h.session(0, 2, "not_authorized");
      expect(find(diagnose(h.events, NOW), "not-authorized").fix).toContain("ACL");
    });
  });

  describe("connections closed on a timer", () => {
    it("reports tcp_closed every ~350 s with a 10 min keepalive as an idle timeout shorter than the keepalive", () => {
      const h = history();
      let t = 0;
      const closes: number[] = [];
      for (const length of [350, 351, 349, 352, 350, 348]) {
        closes.push(h.session(t, length, "tcp_closed", { keepalive: 600, port: t }).end.id);
        t += length + 2;
      }
      const f = find(diagnose(h.events, NOW), "regular-tcp-closed");
      expect(f.severity).toBe("warning");
      expect(f.title).toBe("Connections closed every ~5.8 min (k = 600 s)");
      expect(f.detail).toContain("6 of 6");
      expect(f.detail).toContain("pings come too late");
      expect(f.fix).toContain("at most 175 s");
      expect(f.fix).toContain("15 min");
      expect(ids(f)).toEqual(closes);
    });

    it("claims no idle timer on NATS, which reports a clean DISCONNECT and a dropped socket alike", () => {
      const h = history();
      let t = 0;
      for (const length of [350, 351, 349, 352, 350, 348]) {
        const { end } = h.session(t, length, "tcp_closed", { port: t });
        end.raw = JSON.stringify({ server_id: "N", cid: t, reason: "Client Closed", note: NATS_CLIENT_CLOSED_NOTE });
        t += length + 2;
      }
      const f = find(diagnose(h.events, NOW), "regular-tcp-closed");
      expect(f.severity).toBe("info");
      expect(f.title).toMatch(/^Connections end every ~5.8 min/);
      expect(f.detail).toContain("either the client disconnecting on a schedule, or something between");
      expect(f.detail).not.toContain("A load balancer or NAT drops");
    });

    it("points at a connection lifetime limit when the keepalive is far shorter than the interval", () => {
      const h = history();
      for (let i = 0; i < 5; i++) h.session(i * 7300, 7200 + i, "tcp_closed", { keepalive: 30, port: i });
      const f = find(diagnose(h.events, NOW), "regular-tcp-closed");
      expect(f.title).toBe("Connections closed every ~2 h (k = 30 s)");
      expect(f.detail).toContain("connection lifetime");
    });

    it("does not call irregular tcp_closed regular", () => {
      const h = history();
      let t = 0;
      for (const length of [40, 400, 95, 1200, 610, 33, 2500]) {
        h.session(t, length, "tcp_closed", { port: t });
        t += length + 5;
      }
      expect(diagnose(h.events, NOW)).toEqual([]);
    });

    it(`needs ${REGULAR_CLOSE_MIN_SESSIONS} alike, and most of the closes`, () => {
      const h = history();
      let t = 0;
      for (const length of [300, 301, 299]) {
        h.session(t, length, "tcp_closed", { port: t });
        t += length + 5;
      }
      expect(diagnose(h.events, NOW)).toEqual([]);
      // four alike drowned in eight that are not
      for (const length of [300, 40, 400, 95, 1200, 610, 33, 2500, 5000]) {
        h.session(t, length, "tcp_closed", { port: t });
        t += length + 5;
      }
      expect(diagnose(h.events, NOW)).toEqual([]);
    });
  });

  describe("reconnect loop", () => {
    it("reports sessions shorter than a few seconds, over and over, with count, typical length and reasons", () => {
      const h = history();
      const ends: number[] = [];
      for (let i = 0; i < 8; i++) ends.push(h.session(i * 15, 1 + (i % 3) * 0.5, "tcp_closed", { port: i }).end.id);
      const f = find(diagnose(h.events, NOW), "reconnect-loop");
      expect(f.severity).toBe("warning");
      expect(f.title).toBe("Reconnect loop: 8 sessions under 5 s");
      expect(f.detail).toContain("typically 1.5 s");
      expect(f.detail).toContain("tcp_closed ×8");
      expect(f.fix).toContain("back off");
      expect(ids(f)).toEqual(ends);
    });

    it(`needs ${RECONNECT_LOOP_MIN} short sessions within the hour`, () => {
      const h = history();
      for (let i = 0; i < RECONNECT_LOOP_MIN - 1; i++) h.session(i * 15, 1, "tcp_closed", { port: i });
      expect(diagnose(h.events, NOW)).toEqual([]);
      const spread = history();
      for (let i = 0; i < RECONNECT_LOOP_MIN; i++) spread.session(i * 7200, 1, "tcp_closed", { port: i });
      expect(diagnose(spread.events, NOW)).toEqual([]);
    });

    it(`leaves sessions of ${SHORT_SESSION_SECONDS} s and more alone, and too short ones out of the timer check`, () => {
      const h = history();
      // eight tcp_closed sessions of 8 s: not short enough for a loop, too short for an idle timer
      for (let i = 0; i < 8; i++) h.session(i * 20, 8, "tcp_closed", { port: i });
      expect(REGULAR_CLOSE_MIN_SECONDS).toBeGreaterThan(8);
      expect(diagnose(h.events, NOW)).toEqual([]);
    });

    it("is only informational when the client itself disconnects each time (connect, publish, disconnect)", () => {
      const h = history();
      for (let i = 0; i < 6; i++) h.session(i * 60, 0.3, "normal", { port: i });
      const f = find(diagnose(h.events, NOW), "reconnect-loop");
      expect(f.severity).toBe("info");
      expect(f.detail).toContain("itself disconnects");
    });
  });

  it("reports messages dropped for a consumer too slow, with each episode as evidence", () => {
    const h = history();
    h.connect(0);
    const drops = [h.dropped(100).id, h.dropped(900).id];
    const f = find(diagnose(h.events, NOW), "messages-dropped");
    expect(f.severity).toBe("warning");
    expect(f.title).toBe("Messages dropped: 2 episodes");
    expect(f.fix).toMatch(/queue limit.*shared\s+subscription.*QoS 0/s);
    expect(ids(f)).toEqual(drops);
  });

  it("orders findings most severe first and keeps the newest evidence only", () => {
    const h = history();
    h.connect(0);
    for (let i = 0; i < MAX_EVIDENCE + 5; i++) h.dropped(10 + i);
    h.failed(100, "not_authorized");
    const findings = diagnose(h.events, NOW);
    expect(findings.map((f) => f.severity)).toEqual(["critical", "warning"]);
    const drops = find(findings, "messages-dropped");
    expect(drops.evidence).toHaveLength(MAX_EVIDENCE);
    expect(drops.detail).toContain(`${MAX_EVIDENCE + 5} times`);
    expect(drops.evidence.at(-1)!.eventId).toBe(MAX_EVIDENCE + 5 + 1);
  });

  it("says how long ago the latest occurrence was, from now", () => {
    const h = history();
    h.dropped(0);
    expect(find(diagnose(h.events, new Date(T0 + 90 * 60_000)), "messages-dropped").detail).toContain("90 min ago");
  });
});
