import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { PromqlError } from "@/lib/alerts/promql";
import { MAX_BODY_BYTES, route } from "@/lib/api/route";
import { startService, type Service } from "@/server/service";
import * as loginRoute from "@/app/api/auth/login/route";
import * as silencesRoute from "@/app/api/silences/route";
import * as rulesRoute from "@/app/api/rules/route";
import { ROOT } from "./helpers/app";

/**
 * Every route handler has one shape (parse → authorise → validate → act → respond, through
 * lib/api/route.ts) and answers a bad request in one format:
 * `{ error: { code, message, parameter } }` with the field spelled `matchers[0].name`.
 */

const ORIGIN = "http://brokerwatch.test";
const TOKEN = "route-shape-bootstrap-token";
type Json = { error: { code: string; message: string; parameter?: string; position?: number } };

function post(urlPath: string, body: BodyInit | null, headers: Record<string, string> = {}): Request {
  return new Request(`${ORIGIN}${urlPath}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
}

async function refusal(res: Response): Promise<{ status: number } & Json> {
  return { status: res.status, ...((await res.json()) as Json) };
}

describe("every route file goes through route()", () => {
  const files: string[] = [];
  for (const dir of ["app/api", "app/metrics"]) {
    for (const entry of readdirSync(path.join(ROOT, dir), { recursive: true, encoding: "utf8" })) {
      if (path.basename(entry) === "route.ts") files.push(path.join(dir, entry));
    }
  }

  it("finds the route files", () => expect(files.length).toBeGreaterThan(20));

  for (const file of files) {
    it(`${file} exports handlers made by route() and reads nothing by itself`, () => {
      const source = readFileSync(path.join(ROOT, file), "utf8");
      expect(source).toMatch(/import \{[^}]*\broute\b[^}]*\} from "@\/lib\/api\/route"/);
      // the steps route() owns must not be done a second way in a handler
      for (const own of [/\bauthorize\(/, /\berrorResponse\(/, /request\.json\(/, /\bparseQuery\(/, /\.safeParse\(/]) {
        expect(source, `${file} calls ${own}`).not.toMatch(own);
      }
      for (const [, method] of source.matchAll(/export\s+(?:async\s+)?function\s+(GET|POST|PATCH|DELETE)\b/g)) {
        // the one exception: PATCH /api/brokers/test forwards to the [name] route's handler
        expect(`${file} ${method}`).toBe("app/api/brokers/test/route.ts PATCH");
      }
    });
  }
});

describe("route()", () => {
  const echo = route(
    {
      auth: "public",
      query: z.object({ limit: z.coerce.number().int().max(10).optional() }),
      body: z.strictObject({ brokers: z.array(z.strictObject({ url: z.string().url() })) }),
    },
    ({ body, query }) => ({ body, query }),
  );

  it("answers the act step's data as JSON", async () => {
    const res = await echo(post("/echo?limit=3", JSON.stringify({ brokers: [{ url: "mqtt://a" }] })));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ body: { brokers: [{ url: "mqtt://a" }] }, query: { limit: 3 } });
  });

  it("spells a field inside a list as brokers[1].url, in the message and in parameter", async () => {
    const res = await echo(post("/echo", JSON.stringify({ brokers: [{ url: "mqtt://a" }, { url: "nope" }] })));
    const r = await refusal(res);
    expect(r.status).toBe(400);
    expect(r.error.code).toBe("bad_request");
    expect(r.error.parameter).toBe("brokers[1].url");
    expect(r.error.message).toMatch(/^brokers\[1\]\.url: /);
  });

  it("names an unknown field the same way", async () => {
    const r = await refusal(await echo(post("/echo", JSON.stringify({ brokers: [{ url: "mqtt://a", x: 1 }] }))));
    expect(r).toMatchObject({
      status: 400,
      error: { parameter: "brokers[0].x", message: "brokers[0].x: unknown field" },
    });
  });

  it("refuses malformed JSON, a body that is not JSON and one over the size cap with 400 naming the body", async () => {
    const cases: [string, Request][] = [
      ["malformed", post("/echo", '{"brokers": [')],
      ["invalid UTF-8", post("/echo", new Uint8Array([0x7b, 0xc0, 0x80, 0x7d]))],
      ["form", post("/echo", "brokers=x", { "content-type": "application/x-www-form-urlencoded" })],
      ["text/plain", post("/echo", "{}", { "content-type": "text/plain" })],
      ["too large", post("/echo", JSON.stringify({ brokers: [], pad: "x".repeat(MAX_BODY_BYTES) }))],
    ];
    for (const [name, request] of cases) {
      const r = await refusal(await echo(request));
      expect(r.status, name).toBe(400);
      expect(r.error, name).toMatchObject({ code: "bad_request", parameter: "body" });
    }
  });

  it("refuses NUL anywhere in the body, naming where", async () => {
    const r = await refusal(await echo(post("/echo", JSON.stringify({ brokers: [{ url: "mqtt://a\u0000" }] }))));
    expect(r).toMatchObject({ status: 400, error: { parameter: "brokers[0].url" } });
    expect(r.error.message).toMatch(/NUL/);
  });

  it("refuses an unknown query parameter, a repeated one and a NUL in one", async () => {
    const body = JSON.stringify({ brokers: [] });
    for (const [query, parameter] of [
      ["colour=blue", "colour"],
      ["limit=1&limit=1", "limit"],
      ["limit=1%00", "limit"],
      ["limit=11", "limit"],
    ]) {
      const r = await refusal(await echo(post(`/echo?${query}`, body)));
      expect(r, query).toMatchObject({ status: 400, error: { code: "bad_request", parameter } });
    }
  });

  it("answers a validation error that lib/ raises itself with 400, and any other error with a bare 500", async () => {
    const fromLib = (error: Error) => route({ auth: "public" }, () => Promise.reject(error));
    const zod = z.object({ for: z.string() }).safeParse({ for: 1 }).error!;
    expect(await refusal(await fromLib(zod)(post("/x", null)))).toMatchObject({
      status: 400,
      error: { code: "bad_request", parameter: "for" },
    });
    expect(await refusal(await fromLib(new PromqlError("bad range", 7))(post("/x", null)))).toMatchObject({
      status: 400,
      error: { code: "bad_request", parameter: "expr", position: 7 },
    });
    const original = console.error;
    console.error = () => {};
    try {
      expect(await refusal(await fromLib(new Error("db went away"))(post("/x", null)))).toEqual({
        status: 500,
        error: { code: "internal", message: "internal error" },
      });
    } finally {
      console.error = original;
    }
  });
});

describe("routes of the running service", () => {
  let service: Service;
  const previousToken = process.env.BROKERWATCH_API_TOKEN;

  beforeAll(async () => {
    process.env.BROKERWATCH_API_TOKEN = TOKEN;
    service = await startService({
      dataDir: await mkdtemp(path.join(os.tmpdir(), "bw-route-shape-")),
      env: {},
      adminPassword: "route-shape-admin-password",
      secret: "route-shape-service-key",
      bundled: null,
      log: () => {},
    });
  });

  afterAll(async () => {
    await service?.stop();
    process.env.BROKERWATCH_API_TOKEN = previousToken;
  });

  it("authorises before it validates: an anonymous caller with a bad body learns nothing but 401", async () => {
    const r = await refusal(await rulesRoute.POST(post("/api/rules", '{"name": 1')));
    expect(r).toEqual({ status: 401, error: { code: "unauthorized", message: expect.any(String) } });
  });

  it("spells a silence's bad matcher as matchers[0].name", async () => {
    const body = JSON.stringify({ matchers: [{ name: "", value: "x" }], duration: "1h", createdBy: "ops" });
    const r = await refusal(
      await silencesRoute.POST(post("/api/silences", body, { authorization: `Bearer ${TOKEN}` })),
    );
    expect(r).toMatchObject({ status: 400, error: { code: "bad_request", parameter: "matchers[0].name" } });
  });

  it("answers too many failed logins with 429 rate_limited in the usual error shape, and Retry-After", async () => {
    const attempt = () =>
      loginRoute.POST(
        post("/api/auth/login", JSON.stringify({ username: "admin", password: "wrong-password" }), {
          "x-brokerwatch-remote-address": "203.0.113.9",
          "sec-fetch-site": "same-origin",
        }),
      );
    const statuses: number[] = [];
    let last: Response | null = null;
    for (let i = 0; i < 8; i++) {
      last = await attempt();
      statuses.push(last.status);
      if (last.status === 429) break;
    }
    expect(statuses[0]).toBe(401);
    expect(last!.status).toBe(429);
    expect(Number(last!.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await last!.json()).toEqual({ error: { code: "rate_limited", message: expect.stringMatching(/too many/) } });
  });
});
