/**
 * PromQL for alert rules (float samples; what is out and why: docs/promql.md): parse (with the
 * official lezer grammar) and validate (parse.ts), evaluate (evaluate.ts). Callers import from here.
 *
 * Pure: the caller fetches the raw series each selector needs (see `ParsedExpr.selectors` and
 * `selectorWindow`) and passes them to `evaluate` together with the evaluation time.
 */
export * from "./types";
export { parseExpr } from "./parse";
export { evaluate, linearRegression, selectorWindow, type EvaluateOptions } from "./evaluate";
export { compileLabelRegex, MAX_REGEX_LENGTH, RegexError, type LabelRegex } from "./regex";
