import { describe, expect, it } from "vitest";
import { DEFAULT_MAX_SAMPLES, evaluate, MAX_RANGE_SECONDS, parseExpr, type Series } from "@/lib/alerts/promql";
import { ruleCreateSchema, ruleProblem } from "@/lib/alerts/preview";
import { MAX_PRINTF_PRECISION, renderTemplate, validateTemplate } from "@/lib/alerts/template";
import { refusal } from "./helpers/promql";

const T = 1_700_000_000_000;

describe("ranges in rule expressions are bounded", () => {
  it("refuses [1e15] (which once made every rule's query fail) with a user-facing error and its position", () => {
    const e = refusal("max_over_time(mqtt_connections_current[1e15])");
    expect(e.reason).toBe("range 1e15 is too long: the longest range is 366d");
    expect(e.position).toBe(39); // the duration inside the brackets
  });

  it("refuses a range one second over the limit and accepts the limit itself", () => {
    expect(refusal(`rate(mqtt_messages_received_total[${MAX_RANGE_SECONDS + 1}s])`).reason).toMatch(/too long/);
    expect(parseExpr("rate(mqtt_messages_received_total[366d])").selectors[0].rangeSeconds).toBe(MAX_RANGE_SECONDS);
    expect(parseExpr("increase(mqtt_messages_received_total[1y])").selectors[0].rangeSeconds).toBe(365 * 86400);
  });

  it("reports the refusal from the rule API's check as a problem with expr, not an exception", () => {
    const input = ruleCreateSchema.parse({ name: "Huge", expr: "max_over_time(mqtt_broker_up[99999999999999w]) < 1" });
    expect(ruleProblem(input)).toEqual({
      parameter: "expr",
      message: expect.stringMatching(/^range 99999999999999w is too long/),
      position: 29,
    });
  });
});

describe("an evaluation reads a bounded number of samples", () => {
  const series = (n: number, points: number): Series[] =>
    Array.from({ length: n }, (_, i) => ({
      labels: { __name__: "mqtt_connections_current", broker: `b${i}` },
      points: Array.from({ length: points }, (_, j) => ({ t: T - (j + 1) * 1000, v: j })),
    }));

  it("fails with a clear error instead of working through more than the limit", () => {
    const parsed = parseExpr("max_over_time(mqtt_connections_current[1h])");
    const result = evaluate(parsed, [series(10, 100)], T, { maxSamples: 500 });
    expect(result).toEqual({
      kind: "error",
      message:
        "the expression would read 1010 stored samples, more than the limit of 500: narrow its label matchers or shorten its ranges",
    });
    expect(evaluate(parsed, [series(4, 100)], T, { maxSamples: 500 }).kind).toBe("vector");
  });

  it(`applies the default limit of ${DEFAULT_MAX_SAMPLES} samples`, () => {
    const parsed = parseExpr("max_over_time(mqtt_connections_current[1h])");
    const data = [series(1, DEFAULT_MAX_SAMPLES)];
    const started = performance.now();
    const result = evaluate(parsed, data, T);
    expect(result.kind).toBe("error");
    expect(performance.now() - started).toBeLessThan(500);
  });
});

describe("templates", () => {
  const data = { labels: { broker: "eu-1" }, value: 1 };

  it(`refuses a printf precision over ${MAX_PRINTF_PRECISION} at load and at render, at once`, () => {
    const started = performance.now();
    expect(validateTemplate('{{ printf "%.1000000000f" 1.0 }}')).toBe(
      "printf: precision 1000000000 is over the limit of 100",
    );
    expect(renderTemplate('{{ printf "%.1000000000f" $value }}', data)).toBe(
      '{{ printf "%.1000000000f" $value }} <error expanding template: printf: precision 1000000000 is over the limit of 100>',
    );
    expect(performance.now() - started).toBeLessThan(200);
  });

  it("refuses a precision given by a label at render time too", () => {
    const rendered = renderTemplate("{{ printf $labels.format $value }}", {
      labels: { format: "%.99999999e" },
      value: 1,
    });
    expect(rendered).toMatch(/<error expanding template: printf: precision 99999999 is over the limit of 100>$/);
  });

  it("still prints a precision up to the limit", () => {
    expect(renderTemplate('{{ printf "%.2f" $value }}', { labels: {}, value: 2 / 3 })).toBe("0.67");
    expect(renderTemplate('{{ printf "%.100f" $value }}', { labels: {}, value: 0.5 })).toBe(`0.5${"0".repeat(99)}`);
  });

  it("looks up only the labels themselves, never Object.prototype", () => {
    for (const key of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
      expect(renderTemplate(`[{{ $labels.${key} }}]`, data)).toBe("[]");
      expect(renderTemplate(`[{{ $externalLabels.${key} }}]`, { ...data, externalLabels: { site: "fra" } })).toBe("[]");
    }
    expect(renderTemplate("{{ $labels.constructor }}{{ $labels.broker }}", data)).toBe("eu-1");
  });

  it("still prints a label that is called constructor", () => {
    expect(renderTemplate("{{ $labels.constructor }}", { labels: { constructor: "ctor" }, value: 0 })).toBe("ctor");
    expect(renderTemplate("{{ $labels }}", { labels: { constructor: "ctor", a: "1" }, value: 0 })).toBe(
      "map[a:1 constructor:ctor]",
    );
  });
});

describe("template names", () => {
  it("knows only its own fields, variables and functions, not Object.prototype's", () => {
    expect(validateTemplate("{{ .constructor }}")).toBe("can't evaluate field constructor");
    expect(validateTemplate("{{ .__proto__ }}")).toBe("can't evaluate field __proto__");
    expect(validateTemplate("{{ $constructor }}")).toBe('undefined variable "$constructor"');
    expect(validateTemplate('{{ constructor "x" }}')).toBe('function "constructor" not defined');
    expect(validateTemplate("{{ toString }}")).toBe('function "toString" not defined');
  });
});
