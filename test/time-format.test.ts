import { describe, expect, it } from "vitest";
import { fittedFrom } from "@/components/charts/fit";
import { currentSection } from "@/components/nav-links";
import { formatAxisTime, formatDateTime } from "@/components/time-format";

/** One time format everywhere: year first, 24-hour clock, zone said; axes that fit their data. */
describe("time format", () => {
  const t = Date.parse("2026-12-07T22:26:49.123Z");

  it("writes UTC unambiguously, with the zone", () => {
    expect(formatDateTime(t, "utc")).toBe("2026-12-07 22:26:49 UTC");
    expect(formatDateTime(new Date(t).toISOString(), "utc")).toBe("2026-12-07 22:26:49 UTC");
    expect(formatDateTime("not a date", "utc")).toBe("—");
  });

  it("writes local time in the same shape with the local zone's name", () => {
    expect(formatDateTime(t, "local")).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \S+$/);
  });

  it("axis ticks say as much as the span needs", () => {
    expect(formatAxisTime(t, "utc", 5 * 60_000)).toBe("22:26:49");
    expect(formatAxisTime(t, "utc", 3600_000)).toBe("22:26");
    expect(formatAxisTime(t, "utc", 7 * 86400_000)).toBe("12-07 22:26");
  });
});

describe("chart x axis", () => {
  const to = Date.parse("2026-12-07T22:30:00Z");
  const from = to - 15 * 60_000;
  const line = (startMs: number) => ({ points: [[startMs, 1] as [number, number], [to, 2] as [number, number]] });

  it("keeps the chosen window when the data fills it", () => {
    expect(fittedFrom([line(from + 10_000)], [], from, to)).toBe(from);
  });

  it("fits a broker watched for the last minute instead of a sliver at the right edge", () => {
    const start = fittedFrom([line(to - 60_000)], [], from, to);
    expect(start).toBeGreaterThan(from);
    expect(start).toBeLessThan(to - 60_000);
    expect(to - start).toBeGreaterThanOrEqual(60_000);
  });

  it("keeps a gap before the data in view (being blind is part of the story)", () => {
    const gapStart = from + 5 * 60_000;
    const start = fittedFrom([line(to - 60_000)], [{ start: gapStart, end: to - 60_000, reason: "down" }], from, to);
    expect(start).toBeGreaterThan(from);
    expect(start).toBeLessThanOrEqual(gapStart);
  });

  it("with no data shows the chosen window", () => {
    expect(fittedFrom([{ points: [] }], [], from, to)).toBe(from);
  });
});

describe("nav", () => {
  it.each([
    ["/", "/"],
    ["/brokers/plant-a", "/brokers"],
    ["/incidents", "/incidents"],
    ["/incidents/12", "/incidents"],
    ["/clients/pump-7", "/clients"],
    ["/settings/webhooks", "/settings"],
    ["/alertsx", null],
  ])("marks %s as under %s", (path, section) => {
    expect(currentSection(path)).toBe(section);
  });
});
