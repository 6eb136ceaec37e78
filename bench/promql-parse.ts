/**
 * `npm run bench -- promql-parse`: the cost of refusing hostile expressions (issue 18: 200,000 ×
 * "(" then "1" held the process 25 s in POST /api/rules/preview). Each case is parsed a few
 * times; the worst run is reported against a 1 s target (the rule editor answers while the
 * collectors and the bundled broker keep running on the same event loop).
 */
import { MAX_EXPR_LENGTH, parseExpr, PromqlError } from "@/lib/alerts/promql";

const TARGET_MS = 1000;
const RUNS = 3;

export async function runPromqlParseBenchmark(): Promise<Record<string, unknown>> {
  const cases: Record<string, string> = {
    "200k_open_parens": "(".repeat(200_000) + "1",
    open_parens_at_length_cap: "(".repeat(MAX_EXPR_LENGTH - 1) + "1",
    stray_closing_brackets_at_cap: "1" + ")".repeat(MAX_EXPR_LENGTH - 1),
    juxtaposed_numbers_at_cap: "1 ".repeat(MAX_EXPR_LENGTH / 2),
    binary_chain_at_cap: "x" + "+x".repeat((MAX_EXPR_LENGTH - 1) / 2),
    valid_rule:
      'sum without (node) (predict_linear(mqtt_connections_current{broker=~"plant-.*"}[1h], 4 * 3600)) >= mqtt_connections_max',
  };
  const results: Record<string, { worstMs: number; outcome: string }> = {};
  for (const [name, expr] of Object.entries(cases)) {
    let worst = 0;
    let outcome = "accepted";
    for (let i = 0; i < RUNS; i++) {
      const started = performance.now();
      try {
        parseExpr(expr);
      } catch (err) {
        if (!(err instanceof PromqlError)) throw err;
        outcome = err.message.slice(0, 120);
      }
      worst = Math.max(worst, performance.now() - started);
    }
    results[name] = { worstMs: Math.round(worst * 10) / 10, outcome };
    console.error(`promql-parse ${name}: ${worst.toFixed(1)} ms (${outcome})`);
  }
  const worstMs = Math.max(...Object.values(results).map((r) => r.worstMs));
  return { cases: results, worstMs, target: { worstMs: TARGET_MS }, pass: worstMs <= TARGET_MS };
}
