import { describe, expect, it } from "vitest";
import type { DiagnosisEvent, Session, TimelineEntry } from "@/lib/diagnosis";
import { describeRun, foldRuns, MIN_RUN } from "@/lib/timeline-runs";

/** A ping-pong of 200 sessions reads as one line, not a table 8,888 px tall. */
const T0 = Date.parse("2026-12-07T20:00:00Z");
let id = 0;

function session(i: number, o: Partial<Session> = {}): TimelineEntry {
  const startedAt = new Date(T0 + i * 10_000);
  const seconds = o.seconds === undefined ? 2.5 + (i % 2) * 1.3 : o.seconds;
  const ev = (type: DiagnosisEvent["type"]): DiagnosisEvent => ({
    id: ++id,
    ts: startedAt,
    broker: "plant-a",
    type,
    reason: null,
    address: "203.0.113.7",
    port: 40000 + (i % 2),
    keepalive: 60,
    sessionSeconds: null,
  });
  const s: Session = {
    broker: "plant-a",
    start: ev("connected"),
    end: ev("disconnected"),
    startedAt,
    endedAt: seconds === null ? null : new Date(startedAt.getTime() + seconds * 1000),
    seconds,
    open: false,
    reason: "discarded",
    address: "203.0.113.7",
    port: 40000 + (i % 2),
    username: null,
    protocolVersion: 4,
    keepalive: 60,
    ...o,
  };
  return { kind: "session", at: startedAt, session: s };
}

describe("timeline runs", () => {
  it("folds 200 alike sessions into one run with the range of lengths and alternating ports", () => {
    const entries = Array.from({ length: 200 }, (_, i) => session(199 - i));
    const folded = foldRuns(entries);
    expect(folded).toHaveLength(1);
    const run = folded[0]!;
    expect(run.kind).toBe("run");
    if (run.kind !== "run") return;
    expect(run.sessions).toHaveLength(200);
    expect(describeRun(run, (s) => `${s} s`)).toBe("200× discarded after 2.5–3.8 s, alternating ports");
  });

  it("keeps the open session, different reasons, long sessions and cited rows apart", () => {
    const entries: TimelineEntry[] = [
      session(10, { open: true, end: null, seconds: null, reason: null }),
      ...Array.from({ length: 4 }, (_, i) => session(9 - i)),
      session(5, { reason: "keepalive_timeout" }),
      session(4, { seconds: 7200 }),
      ...Array.from({ length: 4 }, (_, i) => session(3 - i)),
    ];
    const cited = entries[8]!;
    const folded = foldRuns(entries, (e) => e === cited);
    expect(folded.map((e) => (e.kind === "run" ? `run${e.sessions.length}` : e.kind))).toEqual([
      "session",
      "run4",
      "session",
      "session",
      "session", // the two sessions before the cited one are fewer than a run
      "session",
      "session", // cited
      "session",
    ]);
  });

  it(`needs at least ${MIN_RUN} alike sessions`, () => {
    expect(foldRuns([session(2), session(1)]).every((e) => e.kind === "session")).toBe(true);
  });

  it("does not claim alternating ports when every reconnect comes from a new port", () => {
    const entries = Array.from({ length: 10 }, (_, i) => session(9 - i, { port: 50000 + i }));
    const run = foldRuns(entries)[0]!;
    expect(run.kind === "run" && run.alternatingPorts).toBe(false);
  });
});
