import { describe, expect, it } from "vitest";
import { availability } from "@/lib/availability";

/** A broker's up/down bar: down only where an incident says so; not watched is unknown, not down. */
const H = 3600_000;
const FROM = Date.parse("2026-12-07T00:00:00Z");
const TO = FROM + 24 * H;

describe("availability", () => {
  it("is all up with nothing recorded", () => {
    const a = availability({ from: FROM, to: TO, down: [], blind: [] });
    expect(a.segments).toEqual([{ start: FROM, end: TO, state: "up" }]);
    expect(a.seconds).toEqual({ up: 86400, down: 0, blind: 0 });
  });

  it("marks an incident down and a gap of ours outside it as not watched; down wins where both", () => {
    const a = availability({
      from: FROM,
      to: TO,
      down: [{ start: FROM + 2 * H, end: FROM + 3 * H, why: "restart" }],
      // the collector's gap covers the outage and runs on past it (it reconnected late)
      blind: [
        { start: FROM + 2 * H, end: FROM + 4 * H, why: "connection lost" },
        { start: FROM + 10 * H, end: FROM + 11 * H, why: "brokerwatch paused" },
      ],
    });
    expect(a.segments.map((s) => [s.state, (s.start - FROM) / H, (s.end - FROM) / H])).toEqual([
      ["up", 0, 2],
      ["down", 2, 3],
      ["blind", 3, 4],
      ["up", 4, 10],
      ["blind", 10, 11],
      ["up", 11, 24],
    ]);
    expect(a.seconds).toEqual({ up: 21 * 3600, down: 3600, blind: 2 * 3600 });
  });

  it("clips to the window and runs an open incident to the end", () => {
    const a = availability({ from: FROM, to: TO, down: [{ start: FROM - H, end: null, why: "outage" }], blind: [] });
    expect(a.segments).toEqual([{ start: FROM, end: TO, state: "down", why: "outage" }]);
  });
});
