import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { buildTimeline, diagnose, pairSessions, type TimelineEntry } from "@/lib/diagnosis";
import { generatedHistory } from "./helpers/client-history";

/**
 * The trace page's pairing and diagnosis on a busy client's 2,000 events (the page's limit), with
 * flapping, takeovers both ways, lost lines and timers all at once. The expected results were
 * recorded from the first, quadratic implementation (test/__snapshots__/diagnosis-scale.json), so
 * the faster one must find exactly what it found: the same sessions, timeline and findings, with
 * the same evidence. To see a difference entry by entry, print `timelineLines` on both versions.
 */
const CASES = [
  { seed: 1, timer: 0.3 },
  { seed: 2, timer: 0.7 },
  { seed: 3, timer: 0.9 },
  { seed: 4, timer: 0.05 },
];

function timelineLines(timeline: TimelineEntry[]): string[] {
  const ms = (d: Date | null) => (d === null ? "-" : d.getTime());
  return timeline.map((t) => {
    if (t.kind === "event") return `event ${t.event.id} ${ms(t.at)}`;
    const s = t.session;
    return [
      "session",
      s.broker,
      s.start?.id ?? "-",
      s.end?.id ?? "-",
      s.open ? "open" : "closed",
      ms(t.at),
      ms(s.startedAt),
      ms(s.endedAt),
      s.seconds,
      s.reason,
      s.address,
      s.port,
      s.username,
      s.protocolVersion,
      s.keepalive,
    ].join(" ");
  });
}

describe("a busy client's 2,000 events", () => {
  it("pair into the same sessions and yield the same findings as the quadratic implementation", async () => {
    const results = CASES.map(({ seed, timer }) => {
      const { events, now } = generatedHistory(seed, { timer });
      const timeline = timelineLines(buildTimeline(events));
      return {
        seed,
        timer,
        sessions: pairSessions(events).length,
        timelineEntries: timeline.length,
        timelineSha256: createHash("sha256").update(timeline.join("\n")).digest("hex"),
        findings: diagnose(events, now),
      };
    });
    await expect(JSON.stringify(results, null, 1) + "\n").toMatchFileSnapshot("__snapshots__/diagnosis-scale.json");
  });

  it("reads the same whatever order the events come in", () => {
    const { events, now } = generatedHistory(5, { timer: 0.5 });
    const shuffled = [...events].sort((a, b) => ((a.id * 7919) % 2003) - ((b.id * 7919) % 2003));
    expect(timelineLines(buildTimeline(shuffled))).toEqual(timelineLines(buildTimeline(events)));
    expect(diagnose(shuffled, now)).toEqual(diagnose(events, now));
  });
});
