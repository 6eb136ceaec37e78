/**
 * Prometheus's own PromQL test scripts (promql/promqltest/testdata, Apache-2.0), read at run time
 * from `../shared/conformance/promql/` beside the repository, run through our parser and
 * evaluator. Eligible cases: every instant and range case except native histograms, features
 * behind Prometheus's experimental flags and syntax the official lezer grammar rejects; where
 * Prometheus expects an error, refusing counts as passing. The test fails when the pass rate of
 * eligible cases drops below `MIN_PASS_RATE` (raised as the language grew, 0.32 → 0.98: see docs/promql.md).
 *
 * `PROMQL_CONFORMANCE_REPORT=1` prints every failing case and the per-file table.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { readTestFile, runCase, type TestCase } from "./helpers/promqltest";

// Beside the clone (CI, /work/main); PROMQL_CONFORMANCE_DIR points elsewhere (a git worktree).
const DIR = process.env.PROMQL_CONFORMANCE_DIR ?? path.resolve(import.meta.dirname, "../../shared/conformance/promql");
const MIN_PASS_RATE = 0.98;

const present = existsSync(DIR);
if (!present && process.env.REQUIRE_ALL === "1") {
  throw new Error(`Prometheus's PromQL test scripts are missing: expected them in ${DIR}`);
}

describe.skipIf(!present)("PromQL conformance (Prometheus's promqltest scripts)", () => {
  it(`passes at least ${MIN_PASS_RATE * 100}% of the eligible cases`, () => {
    const files = readdirSync(DIR)
      .filter((f) => f.endsWith(".test"))
      .sort();
    expect(files.length).toBeGreaterThan(0);
    const rows: { file: string; total: number; eligible: number; passed: number }[] = [];
    const failures: string[] = [];
    for (const file of files) {
      const cases: TestCase[] = readTestFile(file, readFileSync(path.join(DIR, file), "utf8"));
      const row = { file, total: cases.length, eligible: 0, passed: 0 };
      for (const c of cases) {
        if (c.ineligible) continue;
        row.eligible++;
        let outcome;
        try {
          outcome = runCase(c);
        } catch (e) {
          outcome = { pass: false as const, why: `threw ${(e as Error).stack}` };
        }
        if (outcome.pass) row.passed++;
        else failures.push(`${file}:${c.line} ${c.expr} — ${outcome.why}`);
      }
      rows.push(row);
    }
    const eligible = rows.reduce((n, r) => n + r.eligible, 0);
    const passed = rows.reduce((n, r) => n + r.passed, 0);
    const table = rows.map(
      (r) => `${r.file.padEnd(26)} ${String(r.passed).padStart(4)}/${String(r.eligible).padEnd(4)} (of ${r.total})`,
    );
    if (process.env.PROMQL_CONFORMANCE_REPORT === "1") {
      console.log(
        [...failures, "", ...table, `total ${passed}/${eligible} = ${((100 * passed) / eligible).toFixed(1)}%`].join(
          "\n",
        ),
      );
    }
    expect(eligible).toBeGreaterThan(800);
    expect(passed / eligible, `${passed}/${eligible} eligible cases pass:\n${table.join("\n")}`).toBeGreaterThanOrEqual(
      MIN_PASS_RATE,
    );
  });
});
