import { describe, expect, it } from "vitest";
import { parseDuration } from "@/lib/config/schema";
import { formatDuration } from "@/lib/duration";

describe("formatDuration, for reading", () => {
  it.each([
    [0, "0 s"],
    [0.25, "250 ms"],
    [1.5, "1.5 s"],
    [5, "5 s"],
    [45, "45 s"],
    [350, "5.8 min"],
    [1800, "30 min"],
    [7200, "2 h"],
    [5400 * 2 + 1800, "3.5 h"],
    [3 * 86400, "3 d"],
  ])("%s s reads %s", (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });

  it.each([null, undefined, NaN, Infinity])("shows %s as a dash", (value) => {
    expect(formatDuration(value)).toBe("—");
  });
});

describe("formatDuration, as a Prometheus duration for a form or brokerwatch.yaml", () => {
  it.each([
    [0, "0s"],
    [30, "30s"],
    [90, "1m30s"],
    [1.5, "1s500ms"],
    [0.5, "500ms"],
    [4 * 3600, "4h"],
    [86400 + 3600 + 61, "1d1h1m1s"],
  ])("%s s is written %s, which parses back to the same seconds", (seconds, text) => {
    expect(formatDuration(seconds, "spec")).toBe(text);
    expect(parseDuration(text)).toBe(seconds);
  });

  it("leaves an unset duration blank so the form field stays empty", () => {
    expect(formatDuration(null, "spec")).toBe("");
  });
});
