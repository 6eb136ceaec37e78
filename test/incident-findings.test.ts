import { describe, expect, it } from "vitest";
import {
  analyseIncident,
  detectedByOf,
  kindFromUptime,
  CRASH_LOOP_MIN,
  STORM_MIN_PER_SECOND,
  type IncidentEvent,
  type IncidentInput,
  type IncidentSeries,
  type Point,
} from "@/lib/incidents/findings";

/**
 * Each finding from a series recorded the way the collector stores it: Mosquitto publishes $SYS
 * every sys_interval (here 10 s), log lines arrive as unparsed records or refused connects, and
 * the clients' connects and disconnects are connection events.
 */
const T0 = Date.parse("2026-11-20T08:00:00Z");
const at = (seconds: number) => new Date(T0 + seconds * 1000);
/** the broker went down 15 minutes into the recording, and was back 20 s later */
const DOWN = 900;
const UP = 920;

function series(fromS: number, toS: number, value: (s: number) => number, everyS = 10): Point[] {
  const out: Point[] = [];
  for (let s = fromS; s <= toS; s += everyS) out.push({ ts: at(s), value: value(s) });
  return out;
}

let nextId = 1;
function event(s: number, type: string, clientId: string | null, extra: Partial<IncidentEvent> = {}): IncidentEvent {
  return { id: nextId++, ts: at(s), clientId, type, reason: null, address: "10.0.0.9", ...extra };
}

/** A steady broker: 5 clients, 8 sessions (3 offline persistent), 40 queued, memory flat at 20 MiB. */
function steady(overrides: IncidentSeries = {}): IncidentSeries {
  const before = (v: number) => series(0, DOWN - 2, () => v);
  return {
    mqtt_memory_bytes: before(20 * 1024 ** 2),
    mqtt_connections_current: [...before(5), ...series(UP, UP + 60, () => 5)],
    mqtt_sessions: [...before(8), ...series(UP, UP + 60, () => 8)],
    mqtt_queued_messages: [...before(40), ...series(UP, UP + 60, () => 40)],
    mqtt_broker_uptime_seconds: [...series(0, DOWN - 2, (s) => 86_400 + s), ...series(UP, UP + 60, (s) => s - UP)],
    ...overrides,
  };
}

function incident(over: Partial<IncidentInput> = {}, timeline: Partial<IncidentInput["timeline"]> = {}): IncidentInput {
  return {
    timeline: {
      broker: "plant-a",
      kind: "restart",
      detectedBy: "connection_lost",
      lastGoodAt: at(DOWN - 2),
      downAt: at(DOWN),
      upAt: at(UP),
      ...timeline,
    },
    series: steady(),
    events: [],
    connectedAtDown: [],
    logLines: [],
    earlierRestarts: [],
    ...over,
  };
}

const codes = (input: IncidentInput) => analyseIncident(input, at(UP + 600)).findings.map((f) => f.code);

describe("the cost of an incident", () => {
  it("counts the clients dropped, those back within 1 and 5 minutes, and names those never back", () => {
    const input = incident({
      connectedAtDown: ["sensor-1", "sensor-2", "sensor-3", "sensor-4"],
      events: [
        event(UP + 2, "connected", "sensor-1"),
        event(UP + 50, "connected", "sensor-2"),
        event(UP + 200, "connected", "sensor-3"),
        event(UP + 3, "connected", "a-new-client"),
      ],
    });
    const { cost } = analyseIncident(input, at(UP + 600));
    expect(cost).toMatchObject({
      downSeconds: 20,
      clientsBefore: 5,
      clientsDropped: 4,
      clientsBack1m: 2,
      clientsBack5m: 3,
      clientsNeverBack: ["sensor-4"],
      sessionsBefore: 8,
      sessionsAfter: 8,
      queuedBefore: 40,
      queuedAfter: 40,
    });
  });

  it("counts the downtime up to now while the broker is still down", () => {
    const { cost } = analyseIncident(incident({}, { upAt: null }), at(DOWN + 90));
    expect(cost.downSeconds).toBe(90);
    expect(cost.clientsBack1m).toBe(0);
    expect(cost.sessionsAfter).toBeNull();
  });

  it("says a broker whose uptime went back restarted, and one whose uptime ran on was only unreachable", () => {
    const before = { ts: at(DOWN - 2), value: 86_400 + DOWN - 2 };
    expect(kindFromUptime(before, { ts: at(UP), value: 3 })).toBe("restart");
    expect(kindFromUptime(before, { ts: at(UP), value: 86_400 + UP })).toBe("outage");
    expect(kindFromUptime(null, { ts: at(UP), value: 3 })).toBeNull();
  });

  it("reads a sample stored in the second the broker went down and came back as neither before nor after", () => {
    // samples are stored to the second: the restarted broker's first values (no sessions yet) land
    // in the bucket of the old process's last ones when the restart takes less than a second
    const downAt = new Date(at(DOWN).getTime() + 370);
    const timeline = {
      lastGoodAt: new Date(at(DOWN).getTime() + 96),
      downAt,
      upAt: new Date(at(DOWN).getTime() + 590),
    };
    const sessions = [
      ...series(0, DOWN - 1, () => 8),
      { ts: at(DOWN), value: 0 },
      ...series(DOWN + 1, DOWN + 60, () => 5),
    ];
    const { cost } = analyseIncident(incident({ series: steady({ mqtt_sessions: sessions }) }, timeline), at(UP + 600));
    expect(cost).toMatchObject({ sessionsBefore: 8, sessionsAfter: 5 });
  });

  it("reads how the collector noticed from its status reason", () => {
    expect(detectedByOf("connection lost: read ECONNRESET")).toBe("connection_lost");
    expect(detectedByOf("heartbeat stale: the broker is connected but not publishing (hung?)")).toBe("heartbeat_stale");
  });

  it("finds nothing in a clean restart that kept its sessions and queued messages", () => {
    expect(codes(incident())).toEqual([]);
  });
});

describe("findings", () => {
  it("finds memory exhaustion when memory climbed until the crash", () => {
    const climbing = series(0, DOWN - 2, (s) => 20 * 1024 ** 2 + s * 200_000);
    const input = incident({ series: steady({ mqtt_memory_bytes: climbing }) });
    const finding = analyseIncident(input, at(UP + 600)).findings.find((f) => f.code === "memory_exhaustion");
    expect(finding).toMatchObject({ severity: "critical" });
    expect(finding!.evidence.map((e) => e.summary)).toEqual([
      "memory 20.0 MiB",
      "memory 189.8 MiB, the last sample before it went down",
    ]);
  });

  it("does not call a small broker's few KiB of growth memory exhaustion, however many times its size", () => {
    const kibs = series(0, DOWN - 2, (s) => 40 * 1024 + s * 70);
    expect(kibs.at(-1)!.value).toBeGreaterThan(2.5 * kibs[0].value);
    expect(codes(incident({ series: steady({ mqtt_memory_bytes: kibs }) }))).not.toContain("memory_exhaustion");
  });

  it("does not call memory that rose and fell back a crash cause, nor a climb before a mere outage", () => {
    const roseAndFell = series(0, DOWN - 2, (s) => (s < 450 ? 20 + s / 10 : 20) * 1024 ** 2);
    expect(codes(incident({ series: steady({ mqtt_memory_bytes: roseAndFell }) }))).not.toContain("memory_exhaustion");
    const climbing = series(0, DOWN - 2, (s) => 20 * 1024 ** 2 + s * 200_000);
    expect(codes(incident({ series: steady({ mqtt_memory_bytes: climbing }) }, { kind: "outage" }))).not.toContain(
      "memory_exhaustion",
    );
  });

  it("finds memory exhaustion from Mosquitto's own 'Out of memory.' line even without a memory series", () => {
    const input = incident({
      series: steady({ mqtt_memory_bytes: [] }),
      logLines: [{ ts: at(DOWN - 3), topic: "$SYS/broker/log/E", text: "1732089597: Out of memory." }],
    });
    const finding = analyseIncident(input, at(UP + 600)).findings[0];
    expect(finding.code).toBe("memory_exhaustion");
    expect(finding.evidence[0].summary).toBe("broker log: 1732089597: Out of memory.");
  });

  it("finds the socket limit from refused connects without an address (system socket count exceeded)", () => {
    const refused = [DOWN - 30, DOWN - 20, DOWN - 10].map((s) =>
      event(s, "connect_failed", null, { reason: "max_connections", address: null }),
    );
    const finding = analyseIncident(incident({ events: refused }), at(UP + 600)).findings.find(
      (f) => f.code === "socket_limit",
    );
    expect(finding?.evidence.map((e) => e.eventId)).toEqual(refused.map((e) => e.id));
    expect(finding?.fix).toMatch(/LimitNOFILE/);
  });

  it("finds the connection limit when connections reached maxConnections before the crash", () => {
    const input = incident({
      series: steady({
        mqtt_connections_current: series(0, DOWN - 2, (s) => Math.min(1000, 900 + s)),
        mqtt_connections_max: series(0, DOWN - 2, () => 1000),
      }),
    });
    const finding = analyseIncident(input, at(UP + 600)).findings.find((f) => f.code === "connection_limit");
    expect(finding?.evidence[0].summary).toBe("1000 connections, the configured maximum is 1000");
    // below the limit: nothing
    const below = incident({
      series: steady({
        mqtt_connections_current: series(0, DOWN - 2, () => 990),
        mqtt_connections_max: series(0, DOWN - 2, () => 1000),
      }),
    });
    expect(codes(below)).not.toContain("connection_limit");
  });

  it("finds persistence off when a restart came back with no queued messages and no offline sessions", () => {
    const input = incident({
      series: steady({
        mqtt_sessions: [...series(0, DOWN - 2, () => 8), ...series(UP, UP + 60, () => 5)],
        mqtt_queued_messages: [...series(0, DOWN - 2, () => 40), ...series(UP, UP + 60, () => 0)],
      }),
    });
    const finding = analyseIncident(input, at(UP + 600)).findings.find((f) => f.code === "persistence_off");
    expect(finding?.severity).toBe("critical");
    expect(finding?.detail).toMatch(/40 queued message\(s\) and 3 offline persistent session\(s\)/);
    expect(finding?.evidence.map((e) => e.summary)).toContain("0 queued messages after the restart");
    // the same numbers after an outage (no restart) are clients draining their queues, not a loss
    expect(codes({ ...input, timeline: { ...input.timeline, kind: "outage" } })).toEqual([]);
  });

  it("finds autosave too rare when a restart kept part of the queued messages", () => {
    const input = incident({
      series: steady({
        mqtt_queued_messages: [...series(0, DOWN - 2, () => 40), ...series(UP, UP + 60, () => 25)],
      }),
    });
    expect(codes(input)).toEqual(["autosave_too_rare"]);
  });

  describe("Mosquitto's store count also holds the log lines in flight to brokerwatch itself", () => {
    /**
     * Recorded the way the collector stores a Mosquitto broker: `mqtt_queued_messages` is store −
     * retained, and beside each count the least and the most of it that were log lines brokerwatch
     * had received and not yet acknowledged (it acknowledges after commit: an MQTT 5 session with a
     * large Receive Maximum has hundreds in flight while the log is busy).
     */
    function withOwn(points: { s: number; stored: number; own: number; ownMax: number }[]): IncidentSeries {
      return {
        mqtt_queued_messages: points.map((p) => ({ ts: at(p.s), value: p.stored })),
        mqtt_queued_own_messages: points.map((p) => ({ ts: at(p.s), value: p.own })),
        mqtt_queued_own_max_messages: points.map((p) => ({ ts: at(p.s), value: p.ownMax })),
      };
    }
    /** 5 messages queued for offline devices throughout; brokerwatch's own lines come and go */
    const devices = 5;

    it("finds nothing after a graceful restart with persistence although hundreds of log lines were in flight before and few after", () => {
      const series = steady(
        withOwn([
          { s: DOWN - 12, stored: devices + 12, own: 12, ownMax: 15 },
          // a burst of connects logged just before the restart: 340 lines not yet committed
          { s: DOWN - 2, stored: devices + 340, own: 340, ownMax: 410 },
          // back: the restored store, and the startup lines redelivered to our restored session
          { s: UP, stored: devices + 9, own: 9, ownMax: 9 },
          { s: UP + 1, stored: devices + 2, own: 2, ownMax: 30 },
          { s: UP + 10, stored: devices, own: 0, ownMax: 0 },
        ]),
      );
      const { cost, findings } = analyseIncident(incident({ series }), at(UP + 600));
      expect(findings.map((f) => f.code)).toEqual([]);
      expect(cost).toMatchObject({ queuedBefore: devices, queuedAfter: devices });
      // read raw, the same counts look like 340 messages lost and 5 kept: "autosave too rare"
      const raw = steady({ mqtt_queued_messages: series.mqtt_queued_messages });
      expect(codes(incident({ series: raw }))).toEqual(["autosave_too_rare"]);
    });

    it("finds nothing when the count before was read while PUBACKs were on their way (the broker counted before reading them)", () => {
      // 200 acknowledged in the moment before the count arrived: between 100 and 300 were ours
      const series = steady(
        withOwn([
          { s: DOWN - 2, stored: devices + 260, own: 100, ownMax: 300 },
          { s: UP, stored: devices + 3, own: 3, ownMax: 3 },
        ]),
      );
      expect(codes(incident({ series }))).toEqual([]);
    });

    it("finds nothing when the window was full and the broker may have held more for us than we had seen", () => {
      // MQTT 3.1.1: 20 in flight (Mosquitto's default window), more queued behind the count
      const series = steady(
        withOwn([
          { s: DOWN - 2, stored: devices + 150, own: 20, ownMax: devices + 150 },
          { s: UP, stored: devices, own: 0, ownMax: 0 },
        ]),
      );
      expect(codes(incident({ series }))).toEqual([]);
    });

    it("still finds persistence off after a SIGKILL without persistence, with hundreds in flight on both sides", () => {
      const recorded = steady({
        mqtt_sessions: [...series(0, DOWN - 2, () => 8), ...series(UP, UP + 60, () => 5)],
        ...withOwn([
          { s: DOWN - 2, stored: devices + 300, own: 300, ownMax: 300 },
          // the new session: the reconnecting fleet's lines in flight, none of the devices' messages
          { s: UP, stored: 250, own: 240, ownMax: 400 },
          { s: UP + 1, stored: 120, own: 120, ownMax: 180 },
        ]),
      });
      const { cost, findings } = analyseIncident(incident({ series: recorded }), at(UP + 600));
      expect(cost).toMatchObject({ queuedBefore: devices, queuedAfter: 0 });
      expect(findings.map((f) => f.code)).toEqual(["persistence_off"]);
      expect(findings[0].detail).toMatch(/lost 5 queued message\(s\) and 3 offline persistent session\(s\)/);
      expect(findings[0].evidence.map((e) => e.summary)).toContain(
        "5 queued messages before (the broker counted 305: 300 were log lines in flight to brokerwatch itself)",
      );
    });

    it("still finds autosave too rare when part of the clients' queue was lost, beyond what can have been ours", () => {
      const series = steady(
        withOwn([
          { s: DOWN - 2, stored: 400 + 30, own: 30, ownMax: 50 },
          { s: UP, stored: 150 + 60, own: 60, ownMax: 90 },
        ]),
      );
      const { cost, findings } = analyseIncident(incident({ series }), at(UP + 600));
      expect(cost).toMatchObject({ queuedBefore: 400, queuedAfter: 150 });
      expect(findings.map((f) => f.code)).toEqual(["autosave_too_rare"]);
      // certain: at least 380 before (430 − 50), at most 150 after
      expect(findings[0].detail).toMatch(/lost 230 queued message\(s\)/);
    });
  });

  it("finds a reconnect storm when the fleet reconnects in the same second", () => {
    const ids = Array.from({ length: STORM_MIN_PER_SECOND + 2 }, (_, i) => `meter-${i}`);
    const events = ids.map((id) => event(UP + 1.2 + Math.random() * 0.5, "connected", id));
    expect(codes(incident({ connectedAtDown: ids, events }))).toEqual(["reconnect_storm"]);
    // the same clients spread over a minute by jittered backoff
    const jittered = ids.map((id, i) => event(UP + 1 + i * 5, "connected", id));
    expect(codes(incident({ connectedAtDown: ids, events: jittered }))).toEqual([]);
  });

  it("finds a crash loop from several restarts within the hour", () => {
    const earlier = Array.from({ length: CRASH_LOOP_MIN - 1 }, (_, i) => at(DOWN - 600 * (i + 1)));
    const finding = analyseIncident(incident({ earlierRestarts: earlier }), at(UP + 600)).findings[0];
    expect(finding.code).toBe("crash_loop");
    expect(finding.evidence).toHaveLength(CRASH_LOOP_MIN);
    // one restart fewer, or restarts longer ago, is not a loop
    expect(codes(incident({ earlierRestarts: earlier.slice(1) }))).toEqual([]);
    expect(codes(incident({ earlierRestarts: [at(DOWN - 4000), at(DOWN - 5000)] }))).toEqual([]);
  });

  it("orders findings most severe first", () => {
    const ids = Array.from({ length: STORM_MIN_PER_SECOND }, (_, i) => `meter-${i}`);
    const input = incident({
      connectedAtDown: ids,
      events: ids.map((id) => event(UP + 1, "connected", id)),
      logLines: [{ ts: at(DOWN - 1), topic: "$SYS/broker/log/E", text: "Out of memory." }],
    });
    expect(codes(input)).toEqual(["memory_exhaustion", "reconnect_storm"]);
  });
});
