import { z } from "zod";
import { DISCONNECT_REASONS, EVENT_TYPES } from "@/lib/events";
import { parseDuration } from "@/lib/config/schema";
import { ApiError } from "@/lib/http";
import { issueError, rejectNul } from "./validate";

/**
 * Query parameters of the API, validated with zod at the boundary. A bad parameter is a 400
 * whose message and `parameter` field name it.
 */

/**
 * Times the API takes or hands out lie in years 1970..9999: earlier names nothing we stored, and
 * later does not fit an RFC 3339 year (and overflows a JavaScript Date soon after).
 */
const EARLIEST_MS = Date.UTC(1970, 0, 1);
const LATEST_MS = Date.UTC(10000, 0, 1) - 1;
export function inApiRange(date: Date): boolean {
  const ms = date.getTime();
  return ms >= EARLIEST_MS && ms <= LATEST_MS;
}
const OUT_OF_RANGE = "must lie between the years 1970 and 9999";

/** `from`/`to`: an RFC 3339 time, or a duration back from now (`1h`, `7d`). */
export const timeParam = z
  .string()
  .max(100, "is too long for a time")
  .transform((value, ctx) => {
    if (/^\d{4}-\d{2}-\d{2}T/.test(value)) {
      const date = new Date(value);
      if (Number.isNaN(date.getTime()) || !/(Z|[+-]\d{2}:?\d{2})$/i.test(value)) {
        ctx.addIssue({
          code: "custom",
          message: `"${value}" is not an RFC 3339 time with a zone (e.g. 2026-11-23T08:00:00Z)`,
        });
        return z.NEVER;
      }
      if (!inApiRange(date)) {
        ctx.addIssue({ code: "custom", message: OUT_OF_RANGE });
        return z.NEVER;
      }
      return date;
    }
    try {
      const date = new Date(Date.now() - parseDuration(value) * 1000);
      if (!inApiRange(date)) {
        ctx.addIssue({ code: "custom", message: `${value} back from now is before 1970` });
        return z.NEVER;
      }
      return date;
    } catch {
      ctx.addIssue({ code: "custom", message: `"${value}" is neither an RFC 3339 time nor a duration like 1h or 7d` });
      return z.NEVER;
    }
  });

export const limitParam = z.coerce
  .number({ message: "must be a number" })
  .int("must be a whole number")
  .min(1, "must be at least 1")
  .max(1000, "must be at most 1000")
  .default(100);

/** Opaque keyset cursor: base64url of `<ts ISO>|<id>` of the last row of the previous page. */
export const cursorParam = z
  .string()
  .max(200, "is not a cursor this API returned")
  .transform((value, ctx) => {
    const decoded = Buffer.from(value, "base64url").toString("utf8");
    const [iso, id] = decoded.split("|");
    const ts = new Date(iso ?? "");
    const n = Number(id);
    if (!iso || Number.isNaN(ts.getTime()) || !inApiRange(ts) || !Number.isSafeInteger(n)) {
      ctx.addIssue({ code: "custom", message: "is not a cursor this API returned (use nextCursor as given)" });
      return z.NEVER;
    }
    return { ts, id: n };
  });

export function encodeCursor(ts: Date, id: number): string {
  return Buffer.from(`${ts.toISOString()}|${id}`).toString("base64url");
}

export const eventFilterSchema = z.object({
  type: z.enum(EVENT_TYPES, { message: `must be one of ${EVENT_TYPES.join(", ")}` }).optional(),
  reason: z.enum(DISCONNECT_REASONS, { message: `must be one of ${DISCONNECT_REASONS.join(", ")}` }).optional(),
  broker: z.string().min(1).max(200).optional(),
  clientId: z.string().max(65_535).optional(),
  from: timeParam.optional(),
  to: timeParam.optional(),
  limit: limitParam,
  cursor: cursorParam.optional(),
  format: z.enum(["json", "csv"], { message: "must be json or csv" }).default("json"),
});
export type EventFilter = z.output<typeof eventFilterSchema>;

/** Parse `URLSearchParams` with a schema; unknown parameters are refused too (a typo must not be ignored). */
export function parseQuery<S extends z.ZodObject>(url: URL, schema: S): z.output<S> {
  const raw: Record<string, string> = {};
  for (const [key, value] of url.searchParams) {
    rejectNul(key, key);
    rejectNul(value, key);
    if (!(key in schema.shape)) {
      throw new ApiError(
        "bad_request",
        `unknown parameter "${key}"; accepted: ${Object.keys(schema.shape).join(", ")}`,
        {
          parameter: key,
        },
      );
    }
    if (key in raw) throw new ApiError("bad_request", `parameter "${key}" is given more than once`, { parameter: key });
    raw[key] = value;
  }
  const result = schema.safeParse(raw);
  if (!result.success) throw issueError(result.error.issues[0]);
  return result.data;
}
