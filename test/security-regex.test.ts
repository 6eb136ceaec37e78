import { describe, expect, it } from "vitest";
import { compileLabelRegex, evaluate, MAX_REGEX_LENGTH, parseExpr, RegexError, type Series } from "@/lib/alerts/promql";
import { isSilenced, silenceInputSchema } from "@/lib/notify/silences";
import { refusal } from "./helpers/promql";

// Each of these patterns takes a backtracking engine (JS RegExp) seconds to hours on the input
// below; RE2 matches in time linear in the input whatever the pattern.
const HOSTILE: { name: string; pattern: string; input: string }[] = [
  { name: ".*.*…! ×40", pattern: `${".*".repeat(40)}!`, input: "a".repeat(2000) },
  { name: "(a*)*b", pattern: "(a*)*b", input: "a".repeat(5000) },
  { name: "(a|a)*b", pattern: "(a|a)*b", input: "a".repeat(5000) },
  { name: "(a|aa)*c", pattern: "(a|aa)*c", input: "a".repeat(5000) },
  { name: "(.*a){20}", pattern: "(.*a){20}b", input: "a".repeat(3000) },
  {
    name: "a huge alternation",
    pattern: Array.from({ length: 200 }, (_, i) => `x${i}`).join("|"),
    input: "y".repeat(3000),
  },
];

const T = 1_700_000_000_000;

function timed<T>(f: () => T): { value: T; ms: number } {
  const started = performance.now();
  const value = f();
  return { value, ms: performance.now() - started };
}

describe("user-written regular expressions match in linear time", () => {
  for (const { name, pattern, input } of HOSTILE) {
    it(`matches ${name} against a long label value in well under a second`, () => {
      const { value, ms } = timed(() => compileLabelRegex(pattern, { dotAll: true }).matches(input));
      expect(value).toBe(false);
      expect(ms).toBeLessThan(500);
    });
  }

  it("evaluates a rule selector with the .*.*…! pattern over many series in well under a second", () => {
    const parsed = parseExpr(`mqtt_connections_current{broker=~"${".*".repeat(40)}!"}`);
    const store: Series[] = Array.from({ length: 200 }, (_, i) => ({
      labels: { __name__: "mqtt_connections_current", broker: `${"b".repeat(100)}${i}` },
      points: [{ t: T - 1000, v: 1 }],
    }));
    const { value, ms } = timed(() => evaluate(parsed, [store], T));
    expect(value).toEqual({ kind: "vector", samples: [] });
    expect(ms).toBeLessThan(1000);
  });

  it("anchors at both ends like Prometheus, including across an alternation", () => {
    const re = compileLabelRegex("eu-1|eu-2", { dotAll: true });
    expect(re.matches("eu-1")).toBe(true);
    expect(re.matches("xeu-1")).toBe(false);
    expect(re.matches("eu-2x")).toBe(false);
    expect(compileLabelRegex("a.b", { dotAll: true }).matches("a\nb")).toBe(true); // ^(?s:…)$
    expect(compileLabelRegex("a.b", { dotAll: false }).matches("a\nb")).toBe(false); // Alertmanager's ^(?:…)$
  });

  it("speaks RE2: (?i), (?P<name>…) and \\pL work, look-arounds and backreferences are refused", () => {
    expect(compileLabelRegex("(?i)EU-.*", { dotAll: true }).matches("eu-1")).toBe(true);
    expect(compileLabelRegex("(?P<region>eu)-1", { dotAll: true }).matches("eu-1")).toBe(true);
    expect(compileLabelRegex("\\pL+", { dotAll: true }).matches("Zürich")).toBe(true);
    expect(() => compileLabelRegex("(?=a)a", { dotAll: true })).toThrow(RegexError);
    expect(() => compileLabelRegex("(a)\\1", { dotAll: true })).toThrow(RegexError);
  });

  it(`refuses a pattern longer than ${MAX_REGEX_LENGTH} characters, and nested counted repeats, at once`, () => {
    const long = timed(() => refusal(`m{broker=~"${"a|".repeat(MAX_REGEX_LENGTH)}a"}`));
    expect(long.value.message).toMatch(/regular expression is \d+ characters long, the limit is 1024/);
    expect(long.value.position).toBe(10); // the quoted pattern
    expect(long.ms).toBeLessThan(500);
    const nested = timed(() => refusal('m{broker=~"((a{1000}){1000}){1000}"}'));
    expect(nested.value.message).toMatch(/invalid regular expression/);
    expect(nested.ms).toBeLessThan(500);
  });
});

describe("silence matchers use the same engine", () => {
  const now = new Date("2026-05-01T12:00:00Z");

  it("accepts a hostile pattern and matches it in well under a second", () => {
    const silence = silenceInputSchema(now).parse({
      matchers: [{ name: "broker", value: `${".*".repeat(40)}!`, isRegex: true }],
      endsAt: "2026-05-01T13:00:00Z",
      createdBy: "ops",
    });
    const { value, ms } = timed(() => isSilenced({ broker: "a".repeat(5000) }, [silence], now));
    expect(value).toBe(false);
    expect(ms).toBeLessThan(500);
    expect(isSilenced({ broker: `${"a".repeat(50)}!` }, [silence], now)).toBe(true);
  });

  it("refuses a pattern RE2 does not accept, or one over the length limit", () => {
    for (const value of ["(?<=a)b", "a".repeat(MAX_REGEX_LENGTH + 1)]) {
      const parsed = silenceInputSchema(now).safeParse({
        matchers: [{ name: "broker", value, isRegex: true }],
        endsAt: "2026-05-01T13:00:00Z",
        createdBy: "ops",
      });
      expect(parsed.error?.issues[0]).toMatchObject({
        path: ["matchers", 0, "value"],
        message: "is not a valid regular expression",
      });
    }
  });
});
