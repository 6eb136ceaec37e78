import { describe, expect, it } from "vitest";
import { MAX_EXPR_DEPTH, MAX_EXPR_LENGTH, parseExpr } from "../lib/alerts/promql";
import { refusal } from "./helpers/promql";

// Issue 18, item 2: `POST /api/rules/preview` with 200,000 × "(" then "1" held the process 25 s,
// because the syntax-error path copied and regex-scanned the whole expression once per error
// node. Size and nesting are now refused before the grammar sees the text, and only the first
// syntax error is reported. (Timings live in `npm run bench -- promql-parse`, not here.)

describe("hostile expressions are refused before parsing, naming the cap", () => {
  it("refuses 200,000 × '(' then '1' for its length", () => {
    const e = refusal("(".repeat(200_000) + "1");
    expect(e.reason).toBe(`expression is 200001 characters long, the limit is ${MAX_EXPR_LENGTH}`);
  });

  it("refuses nesting deeper than the cap, at the bracket that crosses it", () => {
    const e = refusal("(".repeat(MAX_EXPR_LENGTH - 1) + "1");
    expect(e.reason).toBe(`expression nests more than ${MAX_EXPR_DEPTH} levels of brackets deep`);
    expect(e.position).toBe(MAX_EXPR_DEPTH);
    // brackets inside strings do not count
    expect(parseExpr(`x{a="${"(".repeat(MAX_EXPR_DEPTH + 1)}"}`).selectors[0].matchers[0].value).toHaveLength(
      MAX_EXPR_DEPTH + 1,
    );
  });

  it("accepts nesting up to the cap", () => {
    const expr = "(".repeat(MAX_EXPR_DEPTH) + "1" + ")".repeat(MAX_EXPR_DEPTH);
    expect(parseExpr(expr).type).toBe("scalar");
  });

  it("reports only the first of many syntax errors, at its position", () => {
    // 16,000 stray brackets: one error each to lezer's recovery
    expect(refusal("1" + ")".repeat(MAX_EXPR_LENGTH - 1)).message).toBe(
      'syntax error: unexpected "))))))))))))))))))))" at position 1',
    );
    expect(refusal("x " + "1 ".repeat(4000)).message).toBe('syntax error: unexpected "1" at position 2');
  });
});
