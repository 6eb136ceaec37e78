import { parseExpr, PromqlError } from "@/lib/alerts/promql";

/** The PromqlError with which `parseExpr` refuses `expr`; fails the test when it is accepted or throws anything else. */
export function refusal(expr: string): PromqlError {
  try {
    parseExpr(expr);
  } catch (e) {
    if (e instanceof PromqlError) return e;
    throw e;
  }
  throw new Error(`${expr} was accepted`);
}
