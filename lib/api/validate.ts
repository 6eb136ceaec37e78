import type { z } from "zod";
import { ApiError } from "@/lib/http";

/**
 * The one zod-issue → 400 formatter of the API, for query parameters, path parameters and
 * bodies alike: `{ code: "bad_request", message: "brokers[1].url: must be …", parameter: "brokers[1].url" }`.
 * A field is spelled as in JavaScript: object keys dotted, array indices in brackets.
 */
export function fieldPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (out, key) => (typeof key === "number" ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)),
    "",
  );
}

export function issueError(issue: z.core.$ZodIssue): ApiError {
  const parameter = fieldPath(issue.path);
  // zod names an unknown key in `keys`, not in `path`
  if (issue.code === "unrecognized_keys") {
    const key = issue.keys[0];
    const at = parameter ? `${parameter}.${key}` : key;
    return new ApiError("bad_request", `${at}: unknown field`, { parameter: at });
  }
  const message =
    issue.code === "invalid_type" && /received undefined$/.test(issue.message) ? "is required" : issue.message;
  return new ApiError("bad_request", parameter ? `${parameter}: ${message}` : message, {
    parameter: parameter || "body",
  });
}

/** Parse with a schema; the first issue becomes the one 400. */
export function parseWith<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw issueError(result.error.issues[0]);
}

/**
 * Postgres text cannot hold NUL (it refuses the whole statement), and no name, id or label of
 * ours means one: refuse it at the boundary, naming where it was found.
 */
export function rejectNul(value: unknown, at: string): void {
  if (typeof value === "string") {
    if (value.includes("\u0000")) {
      const parameter = at || "body";
      throw new ApiError("bad_request", `${parameter}: must not contain a NUL character`, { parameter });
    }
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => rejectNul(item, `${at}[${i}]`));
  } else if (typeof value === "object" && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      const path = at ? `${at}.${key}` : key;
      rejectNul(key, path);
      rejectNul(item, path);
    }
  }
}
