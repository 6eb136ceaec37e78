import { z } from "zod";
import type { UserRole } from "@/db/schema";
import { PromqlError } from "@/lib/alerts/promql";
import { authorize, type Caller } from "@/lib/auth/api";
import { ApiError, errorResponse } from "@/lib/http";
import { parseQuery } from "./params";
import { issueError, parseWith, rejectNul } from "./validate";

export { parseWith };

/**
 * Every route handler of the JSON API is one `route(...)`: parse → authorise → validate → act →
 * respond, in that order, so a reader knows every handler after reading one.
 *
 * - authorise first: an anonymous caller learns nothing about what a valid request looks like;
 * - path parameters, query and body are validated by zod and a failure is one 400 shape,
 *   `{ error: { code: "bad_request", message: "<field>: <what is wrong>", parameter: "<field>" } }`
 *   with the field spelled `brokers[1].url` (see lib/api/validate.ts);
 * - unknown or repeated query parameters are refused on every route (a typo must not be ignored);
 * - the act step returns a Response, or data that is answered as JSON with 200.
 */

/** Bodies larger than this are refused before they are parsed: nothing the API takes comes near it. */
export const MAX_BODY_BYTES = 256 * 1024;

type Params = Record<string, string | string[] | undefined>;

type Auth = "public" | UserRole | "ingest";

export interface RouteSpec<A extends Auth, P extends z.ZodType, Q extends z.ZodObject, B extends z.ZodType> {
  /** "public": anyone; "viewer": any signed-in user or token; "admin": admins only; "ingest": admins or ingest tokens */
  auth: A;
  /** the dynamic path segments (`[name]`, `[id]`); by default any text without NUL */
  params?: P;
  /** the query string; by default none is accepted */
  query?: Q;
  /** the JSON body; by default none is read */
  body?: B;
}

export interface RouteInput<A extends Auth, P extends z.ZodType, Q extends z.ZodObject, B extends z.ZodType> {
  /** who is asking; null on a public route */
  caller: A extends "public" ? null : Caller;
  params: z.output<P>;
  query: z.output<Q>;
  body: z.output<B>;
  request: Request;
  url: URL;
}

export type RouteHandler = (request: Request, ctx?: { params: Promise<Params> }) => Promise<Response>;

const NO_QUERY = z.object({});
const ANY_PARAMS = z.record(z.string(), z.unknown());

export function route<
  A extends Auth,
  P extends z.ZodType = typeof ANY_PARAMS,
  Q extends z.ZodObject = typeof NO_QUERY,
  B extends z.ZodType = z.ZodUndefined,
>(
  spec: RouteSpec<A, P, Q, B>,
  act: (input: RouteInput<A, P, Q, B>) => Promise<Response | unknown> | Response | unknown,
): RouteHandler {
  return async (request, ctx) => {
    try {
      // parse: the URL first, because it may be unreadable whoever asks
      const url = new URL(request.url);
      const rawParams = (await ctx?.params) ?? {};
      // authorise
      const caller = spec.auth === "public" ? null : await authorize(request, spec.auth);
      // validate
      for (const [key, value] of Object.entries(rawParams)) rejectNul(value, key);
      const params = parseWith(spec.params ?? ANY_PARAMS, rawParams) as z.output<P>;
      const query = parseQuery(url, spec.query ?? NO_QUERY) as z.output<Q>;
      const body = (spec.body ? parseWith(spec.body, await readJson(request)) : undefined) as z.output<B>;
      // act and respond
      const input = { caller, params, query, body, request, url } as RouteInput<A, P, Q, B>;
      const result = await act(input);
      return result instanceof Response ? result : Response.json(result);
    } catch (err) {
      return errorResponse(callerFault(err));
    }
  };
}

/**
 * The one body reader: JSON (Content-Type application/json or absent), at most MAX_BODY_BYTES,
 * no NUL anywhere (Postgres text cannot hold it; no field of ours means it).
 */
export async function readJson(request: Request): Promise<unknown> {
  const type = request.headers.get("content-type");
  if (type !== null && !/^application\/([\w.+-]+\+)?json\s*(;|$)/i.test(type.trim())) {
    throw new ApiError("bad_request", `send the body as JSON with Content-Type: application/json (got ${type})`, {
      parameter: "body",
    });
  }
  const bytes = await readCappedBody(request, MAX_BODY_BYTES, tooLarge);
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new ApiError("bad_request", "the body is not valid JSON", { parameter: "body" });
  }
  rejectNul(body, "");
  return body;
}

function tooLarge(): ApiError {
  return new ApiError("bad_request", `the body is larger than ${MAX_BODY_BYTES} bytes`, { parameter: "body" });
}

/**
 * The body's bytes, refused with `tooLarge()` once it is larger than `maxBytes` (as declared in
 * Content-Length, or as read), without reading the rest.
 */
export async function readCappedBody(request: Request, maxBytes: number, tooLarge: () => Error): Promise<Uint8Array> {
  if (Number(request.headers.get("content-length") ?? 0) > maxBytes) throw tooLarge();
  if (!request.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

/**
 * Errors from lib/ that are the caller's fault but not ApiErrors: a schema that lib/ applied
 * itself, or an expression the PromQL parser refused.
 */
function callerFault(err: unknown): unknown {
  if (err instanceof ApiError) return err;
  if (err instanceof z.ZodError) return issueError(err.issues[0]);
  if (err instanceof PromqlError) {
    return new ApiError("bad_request", `expr: ${err.message}`, { parameter: "expr", position: err.position });
  }
  return err;
}

/** A body that lib/ validates itself (settings: the same schema as brokerwatch.yaml). */
export const jsonObject = z.record(z.string(), z.unknown(), { error: "the body must be a JSON object" });

/** A `[name]` or `[id]` path segment. */
export const segment = z.string().max(1000, "is too long");
