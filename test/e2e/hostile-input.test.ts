import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ERROR_STATUS } from "@/lib/http";
import { ROOT, startApp, type RunningApp } from "../helpers/app";
import { loginCookie } from "../helpers/session";

/**
 * Hostile input against every route of the running app: a NUL byte, a year that overflows a
 * Date, a number past int32, a broken body. Each must be a 4xx with the usual
 * `{ error: { code, message } }` body — a 500 means the input got past the boundary and hit
 * Postgres or a Date before anyone looked at it.
 */

type Method = "GET" | "POST" | "PATCH" | "DELETE";
const METHODS: readonly Method[] = ["GET", "POST", "PATCH", "DELETE"];

interface Case {
  /** what the case is, in the failure message */
  name: string;
  /** replaces the row's path (already percent-encoded as sent) */
  path?: string;
  /** appended raw after "?" */
  query?: string;
  /** sent as given when a string, else as JSON */
  body?: unknown;
  headers?: Record<string, string>;
  /** some inputs are odd but legal (an unknown broker named "\uFFFD"): they may be 2xx, never 5xx */
  mayPass?: boolean;
}

interface Row {
  /** a path that reaches the handler, dynamic segments filled in */
  path: string;
  /** indexes of the path's segments that are dynamic (`[name]`), counted after the leading "/" */
  dynamic?: number[];
  /** known query parameters, each with a valid value */
  query?: Record<string, string>;
  /** the route reads a JSON body; this one is valid in shape (the cases break it) */
  body?: Record<string, unknown>;
  /** the body schema lets unknown fields through (a form posts all of its fields) */
  looseBody?: boolean;
  /** "public" routes answer without credentials */
  public?: boolean;
  /** inputs that have returned 500 before, for this route */
  cases?: Case[];
}

const cursorAt = (iso: string) => Buffer.from(`${iso}|1`).toString("base64url");
const EVENT_QUERY = { broker: "plant-a", clientId: "sensor-1", from: "1h", to: "2026-01-01T00:00:00Z", limit: "5" };
const DATE_OVERFLOW: Case[] = [
  { name: "from=280000y (a Date before year -270000)", query: "from=280000y" },
  { name: "to=280000y", query: "to=280000y" },
  { name: "from in year 10000", query: "from=10000-01-01T00:00:00Z" },
  { name: "from before 1970", query: "from=1969-12-31T23:59:59Z" },
];
const BROKER = { name: "hostile", url: "mqtt://127.0.0.1:1" };
const WEBHOOK = { name: "hostile", url: "http://127.0.0.1:1/hook" };
const RULE = { name: "Hostile_Rule", expr: "mqtt_broker_up == 0" };

/** One row per method of every route file under app/api and app/metrics. */
const ROUTES: Record<string, Partial<Record<Method, Row>>> = {
  "app/api/alerts/route.ts": { GET: { path: "/api/alerts" } },
  "app/api/alerts/history/route.ts": {
    GET: { path: "/api/alerts/history", query: { from: "1h", limit: "5" }, cases: DATE_OVERFLOW },
  },
  "app/api/auth/login/route.ts": {
    POST: {
      path: "/api/auth/login",
      public: true,
      body: { username: "admin", password: "not-the-password" },
      cases: [
        { name: "NUL in the username", body: { username: "ad\u0000min", password: "x" } },
        { name: "a 201-character username", body: { username: "a".repeat(201), password: "x" } },
      ],
    },
  },
  "app/api/auth/logout/route.ts": { POST: { path: "/api/auth/logout", public: true } },
  "app/api/brokers/route.ts": {
    GET: { path: "/api/brokers" },
    POST: {
      path: "/api/brokers",
      body: BROKER,
      cases: [
        { name: "maxConnections past int32", body: { ...BROKER, maxConnections: 3_000_000_000 } },
        { name: "expectedNodes 1e300", body: { ...BROKER, expectedNodes: 1e300 } },
        { name: "maxConnections -1", body: { ...BROKER, maxConnections: -1 } },
        { name: "NUL in the username", body: { ...BROKER, username: "mon\u0000itor" } },
        { name: "NUL in a key", body: { ...BROKER, "na\u0000me": "x" } },
      ],
    },
  },
  "app/api/brokers/test/route.ts": {
    POST: {
      path: "/api/brokers/test",
      body: { url: "mqtt://127.0.0.1:1" },
      looseBody: true,
      cases: [{ name: "NUL in the stored broker's name", body: { url: "mqtt://127.0.0.1:1", name: "a\u0000" } }],
    },
    PATCH: { path: "/api/brokers/test", body: { enabled: true } },
  },
  "app/api/brokers/[name]/route.ts": {
    PATCH: {
      path: "/api/brokers/plant-a",
      dynamic: [2],
      body: { enabled: true },
      cases: [{ name: "maxConnections past int32", body: { maxConnections: 3_000_000_000 } }],
    },
  },
  "app/api/brokers/[name]/log/route.ts": {
    POST: {
      path: "/api/brokers/plant-a/log",
      dynamic: [2],
      cases: [
        {
          name: "NUL, a lone surrogate and a 100k-character line as log lines",
          body: `1795346750: Client \u0000x disconnected.\n\uD800\n${"x".repeat(100_000)}`,
          headers: { "content-type": "text/plain" },
          mayPass: true,
        },
        { name: "records that are not JSON", body: "{{{\n[1,2", headers: { "content-type": "application/x-ndjson" }, mayPass: true },
      ],
    },
  },
  "app/api/brokers/[name]/gaps/route.ts": {
    GET: { path: "/api/brokers/plant-a/gaps", dynamic: [2], query: { from: "1h" }, cases: DATE_OVERFLOW },
  },
  "app/api/brokers/[name]/incidents/route.ts": {
    GET: { path: "/api/brokers/plant-a/incidents", dynamic: [2], query: { from: "1h" }, cases: DATE_OVERFLOW },
  },
  "app/api/incidents/[id]/route.ts": { GET: { path: "/api/incidents/1", dynamic: [2] } },
  "app/api/brokers/[name]/series/route.ts": {
    GET: {
      path: "/api/brokers/plant-a/series",
      dynamic: [2],
      query: { metric: "mqtt_broker_up", range: "1h" },
      cases: [{ name: "a metric list of 500 names", query: `metric=${"mqtt_broker_up,".repeat(500)}` }],
    },
  },
  "app/api/clients/[clientId]/events/route.ts": {
    GET: {
      path: "/api/clients/sensor-1/events",
      dynamic: [2],
      query: { broker: "plant-a", limit: "5" },
      cases: [...DATE_OVERFLOW, { name: "a lone % in the ClientID", path: "/api/clients/50%/events" }],
    },
  },
  "app/api/events/route.ts": {
    GET: {
      path: "/api/events",
      query: EVENT_QUERY,
      cases: [
        ...DATE_OVERFLOW,
        { name: "a cursor dated in year 275760", query: `cursor=${cursorAt("+275760-09-13T00:00:00.000Z")}` },
        { name: "a cursor dated in year 10000", query: `cursor=${cursorAt("+010000-01-01T00:00:00.000Z")}` },
        { name: "a cursor past what a Date holds", query: `cursor=${cursorAt("+275760-09-14T00:00:00.000Z")}` },
        {
          name: "a cursor with an id past 2^53",
          query: `cursor=${cursorAt("2026-01-01T00:00:00Z").slice(0, -2)}OTk5OTk5OTk5OTk5OTk5OTk5OTk`,
        },
        { name: "limit=1e400", query: "limit=1e400" },
        { name: "limit=-1", query: "limit=-1" },
        { name: "limit=99999999999999999999", query: "limit=99999999999999999999" },
        { name: "format=xml", query: "format=xml" },
        { name: "a broker name of 10000 characters", query: `broker=${"b".repeat(10_000)}` },
      ],
    },
  },
  // a test hook: 404 here (no BROKERWATCH_TEST_HOOKS), 400 for a bad ms
  "app/api/debug/block/route.ts": { POST: { path: "/api/debug/block", query: { ms: "1" } } },
  "app/api/health/route.ts": { GET: { path: "/api/health", public: true } },
  "app/api/instances/route.ts": { GET: { path: "/api/instances" } },
  "app/api/rules/route.ts": {
    GET: { path: "/api/rules" },
    POST: {
      path: "/api/rules",
      body: RULE,
      cases: [
        // The PromQL parser refuses the range with its typed error; route() answers it with 400.
        {
          name: "a range of [1e15]",
          body: { ...RULE, expr: "max_over_time(mqtt_broker_up[1e15])" },
        },
        { name: "for: 280000y", body: { ...RULE, for: "280000y" } },
        { name: "NUL in a label", body: { ...RULE, labels: { severity: "pa\u0000ge" } } },
      ],
    },
  },
  "app/api/rules/preview/route.ts": {
    POST: {
      path: "/api/rules/preview",
      body: { expr: "mqtt_broker_up" },
      cases: [
        {
          name: "a range of [1e15]",
          body: { expr: "max_over_time(mqtt_broker_up[1e15])" },
        },
      ],
    },
  },
  "app/api/rules/import/route.ts": {
    POST: {
      path: "/api/rules/import",
      body: { file: "groups:\n  - name: g\n    rules:\n      - record: x:y\n        expr: vector(1)\n", dryRun: true },
      cases: [
        // a broken file or rule is answered with the import's own report (fileErrors, or a rule
        // refused with its position: docs/rule-files.md), never a 500
        { name: "a file that is not YAML", body: { file: "groups: [", dryRun: true } },
        { name: "a file of 10 MB", body: { file: "#".repeat(10_000_000), dryRun: true } },
        { name: "groups as a number", body: { file: "groups: 5", dryRun: true }, mayPass: true },
        {
          name: "an expression of 200,000 brackets",
          body: { file: `groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: "${"(".repeat(200_000)}1"\n`, dryRun: true },
          mayPass: true,
        },
      ],
    },
  },
  "app/api/rules/export/route.ts": { GET: { path: "/api/rules/export" } },
  "app/api/rules/[id]/route.ts": {
    PATCH: {
      path: "/api/rules/1",
      dynamic: [2],
      body: { enabled: true },
      cases: [{ name: "an id of 40 digits", path: `/api/rules/${"9".repeat(40)}` }],
    },
    DELETE: { path: "/api/rules/1", dynamic: [2] },
  },
  "app/api/silences/route.ts": {
    GET: { path: "/api/silences" },
    POST: {
      path: "/api/silences",
      body: { matchers: [{ name: "alertname", value: "X" }], duration: "1h", createdBy: "ops" },
      cases: [
        {
          name: "duration: 280000y",
          body: { matchers: [{ name: "alertname", value: "X" }], duration: "280000y", createdBy: "ops" },
        },
        {
          name: "endsAt in year 275760",
          body: { matchers: [{ name: "alertname", value: "X" }], endsAt: "+275760-01-01T00:00:00Z", createdBy: "ops" },
        },
        {
          name: "NUL in createdBy",
          body: { matchers: [{ name: "alertname", value: "X" }], duration: "1h", createdBy: "o\u0000ps" },
        },
        {
          name: "NUL in a matcher value",
          body: { matchers: [{ name: "alertname", value: "\u0000" }], duration: "1h", createdBy: "ops" },
        },
      ],
    },
  },
  "app/api/silences/[id]/route.ts": {
    DELETE: {
      path: "/api/silences/00000000-0000-0000-0000-000000000000",
      dynamic: [2],
      cases: [{ name: "a silence id of 5000 characters", path: `/api/silences/${"s".repeat(5000)}` }],
    },
  },
  "app/api/stream/events/route.ts": {
    GET: { path: "/api/stream/events", query: { broker: "no-such-broker" } },
  },
  "app/api/stream/overview/route.ts": { GET: { path: "/api/stream/overview", query: {} } },
  "app/api/tokens/route.ts": {
    GET: { path: "/api/tokens" },
    POST: { path: "/api/tokens", body: { name: "hostile", role: "viewer" } },
  },
  "app/api/tokens/[id]/route.ts": { DELETE: { path: "/api/tokens/999999", dynamic: [2] } },
  "app/api/users/route.ts": {
    GET: { path: "/api/users" },
    POST: {
      path: "/api/users",
      body: { username: "hostile", password: "long-enough-password", role: "nobody" },
      cases: [
        {
          name: "NUL in the password",
          body: { username: "hostile", password: "long-enough\u0000", role: "superuser" },
        },
      ],
    },
  },
  "app/api/users/[id]/route.ts": {
    PATCH: { path: "/api/users/999999", dynamic: [2], body: { password: "long-enough-password" } },
    DELETE: { path: "/api/users/999999", dynamic: [2] },
  },
  "app/api/webhooks/route.ts": {
    GET: { path: "/api/webhooks" },
    POST: {
      path: "/api/webhooks",
      body: WEBHOOK,
      cases: [
        { name: "CR LF in a header value", body: { ...WEBHOOK, headers: { "X-Team": "ops\r\nX-Evil: 1" } } },
        { name: "a lone LF in a header value", body: { ...WEBHOOK, headers: { "X-Team": "ops\nx" } } },
        { name: "NUL in a header value", body: { ...WEBHOOK, headers: { "X-Team": "ops\u0000" } } },
        { name: "a space in a header name", body: { ...WEBHOOK, headers: { "X Team": "ops" } } },
        { name: "repeatInterval 280000y", body: { ...WEBHOOK, repeatInterval: "280000y" } },
      ],
    },
  },
  "app/api/webhooks/[id]/route.ts": {
    PATCH: {
      path: "/api/webhooks/999999",
      dynamic: [2],
      body: { enabled: true },
      cases: [{ name: "CR LF in a header value", body: { headers: { "X-Team": "a\r\nb" } } }],
    },
  },
  "app/api/webhooks/[id]/deliveries/route.ts": {
    GET: { path: "/api/webhooks/999999/deliveries", dynamic: [2], query: { limit: "5" } },
  },
  "app/api/webhooks/[id]/test/route.ts": { POST: { path: "/api/webhooks/999999/test", dynamic: [2] } },
  "app/metrics/route.ts": { GET: { path: "/metrics" } },
};

/** Every route file and the methods it exports, found on disk so that a new route needs a row. */
function routeFiles(): Record<string, Method[]> {
  const found: Record<string, Method[]> = {};
  for (const dir of ["app/api", "app/metrics"]) {
    for (const entry of readdirSync(path.join(ROOT, dir), { recursive: true, encoding: "utf8" })) {
      if (path.basename(entry) !== "route.ts") continue;
      const file = path.posix.join(dir, entry.split(path.sep).join("/"));
      found[file] = METHODS.filter((m) =>
        new RegExp(`export\\s+(const|(async\\s+)?function)\\s+${m}\\b`).test(readSource(file)),
      );
    }
  }
  return found;
}

function readSource(file: string): string {
  return readFileSync(path.join(ROOT, file), "utf8");
}

function withQuery(row: Row, extra: string): string {
  const known = new URLSearchParams(row.query ?? {}).toString();
  return [known, extra].filter(Boolean).join("&");
}

function replaceSegment(pathname: string, index: number, value: string): string {
  const parts = pathname.split("/").slice(1);
  parts[index] = value;
  return `/${parts.join("/")}`;
}

/** A known parameter once more (it is already in the row's query), or an unknown one twice. */
function twice(row: Row): string {
  const [first] = Object.entries(row.query ?? {});
  return first ? `${first[0]}=${first[1]}` : "x=1&x=1";
}

/** The cases every row gets, from its shape. */
function genericCases(row: Row): Case[] {
  const cases: Case[] = [
    { name: "an unknown query parameter", query: withQuery(row, "colour=blue") },
    { name: "an unknown query parameter with a NUL", query: withQuery(row, "col%00our=blue") },
    { name: "a parameter given twice", query: withQuery(row, twice(row)) },
    { name: "an unknown parameter with invalid UTF-8", query: withQuery(row, "%C0%80=%FF") },
  ];
  for (const key of Object.keys(row.query ?? {})) {
    const rest = { ...row.query };
    delete rest[key];
    const others = new URLSearchParams(rest).toString();
    const join = (v: string) => [others, `${key}=${v}`].filter(Boolean).join("&");
    cases.push({ name: `NUL in ${key}=`, query: join("a%00b") });
    cases.push({ name: `invalid UTF-8 in ${key}=`, query: join("%C0%80%FF"), mayPass: true });
    cases.push({ name: `a huge number in ${key}=`, query: join("1e400"), mayPass: true });
    cases.push({ name: `a negative number in ${key}=`, query: join("-1"), mayPass: true });
  }
  for (const index of row.dynamic ?? []) {
    cases.push({ name: `NUL in path segment ${index}`, path: replaceSegment(row.path, index, "a%00b") });
    cases.push({ name: `only NUL in path segment ${index}`, path: replaceSegment(row.path, index, "%00") });
    cases.push({ name: `invalid UTF-8 in path segment ${index}`, path: replaceSegment(row.path, index, "%C0%80%FF") });
    // a number is a legal name (a ClientID "1e400"): 404 or 200, never 500
    cases.push({
      name: `a huge number in path segment ${index}`,
      path: replaceSegment(row.path, index, "1e400"),
      mayPass: true,
    });
    cases.push({
      name: `a negative number in path segment ${index}`,
      path: replaceSegment(row.path, index, "-1"),
      mayPass: true,
    });
  }
  if (row.body) {
    cases.push(
      { name: "malformed JSON", body: '{"name": ' },
      { name: "a JSON array", body: "[1,2,3]" },
      { name: "a JSON string", body: '"x"' },
      { name: "an empty body", body: "" },
      { name: "invalid UTF-8 in the body", body: Buffer.from([0x7b, 0x22, 0xc0, 0x80, 0x22, 0x3a, 0x31, 0x7d]) },
      { name: "a form body", body: "name=x", headers: { "content-type": "application/x-www-form-urlencoded" } },
      { name: "text/plain JSON", body: JSON.stringify(row.body), headers: { "content-type": "text/plain" } },
      { name: "a 1 MB body", body: { ...row.body, padding: "p".repeat(1024 * 1024) } },
      { name: "NUL in every field", body: nulEverywhere(row.body) },
      {
        name: "an unknown field with a huge number",
        body: { ...row.body, zzz: 1e308, zzy: -1 },
        mayPass: row.looseBody,
      },
    );
  }
  return cases;
}

/** NUL appended to every text field, or as a field of its own when the body has no text. */
function nulEverywhere(body: Record<string, unknown>): Record<string, unknown> {
  const entries = Object.entries(body);
  if (!entries.some(([, v]) => typeof v === "string")) return { ...body, "\u0000": "\u0000" };
  return Object.fromEntries(entries.map(([k, v]) => [k, typeof v === "string" ? `${v}\u0000` : v]));
}

describe("hostile input never gets a 500", () => {
  let app: RunningApp;
  let cookie: string;
  const TOKEN = "hostile-input-bootstrap-token";

  beforeAll(async () => {
    app = await startApp({ env: { BROKERWATCH_API_TOKEN: TOKEN, BUNDLED_BROKER: "off" } });
    cookie = await loginCookie(app.url, "admin", app.adminPassword!);
  });

  afterAll(async () => {
    await app?.stop();
  });

  it("has a row for every method of every route file, and none for a route that is gone", () => {
    const onDisk = routeFiles();
    const inTable = Object.fromEntries(
      Object.entries(ROUTES).map(([file, rows]) => [file, METHODS.filter((m) => rows[m])]),
    );
    expect(inTable).toEqual(onDisk);
  });

  type Who = "session" | "token" | "anonymous";
  async function send(who: Who, method: Method, row: Row, c: Case): Promise<Response> {
    const target = `${app.url}${c.path ?? row.path}${c.query !== undefined ? `?${c.query}` : withQuery(row, "") ? `?${withQuery(row, "")}` : ""}`;
    const headers: Record<string, string> = {};
    if (who === "session") {
      headers.cookie = cookie;
      headers.origin = app.url;
    }
    if (who === "token") headers.authorization = `Bearer ${TOKEN}`;
    let body: BodyInit | undefined;
    const payload = c.body ?? (method === "GET" || method === "DELETE" ? undefined : row.body);
    if (payload !== undefined) {
      headers["content-type"] = "application/json";
      body = typeof payload === "string" || Buffer.isBuffer(payload) ? (payload as BodyInit) : JSON.stringify(payload);
    }
    Object.assign(headers, c.headers);
    return fetch(target, { method, headers, body, redirect: "manual" });
  }

  async function expectRefused(res: Response, label: string, mayPass = false): Promise<void> {
    const text = await res.text();
    expect(res.status, `${label}: ${res.status} ${text.slice(0, 300)}`).toBeLessThan(500);
    if (mayPass && res.status < 400) return;
    expect(res.status, `${label}: ${text.slice(0, 300)}`).toBeGreaterThanOrEqual(400);
    expect(res.headers.get("content-type"), label).toMatch(/^application\/json/);
    const json = JSON.parse(text) as { error?: { code?: string; message?: string } };
    expect(json.error, `${label}: ${text.slice(0, 300)}`).toEqual(
      expect.objectContaining({ code: expect.any(String), message: expect.any(String) }),
    );
    expect(ERROR_STATUS[json.error!.code as keyof typeof ERROR_STATUS], label).toBe(res.status);
  }

  for (const [file, rows] of Object.entries(ROUTES)) {
    for (const method of METHODS) {
      const row = rows[method];
      if (!row) continue;
      for (const who of ["session", "token"] as const) {
        it(`${method} ${row.path} (${file}) as admin via ${who}: every hostile input is a 4xx with the error shape`, async () => {
          for (const c of [...genericCases(row), ...(row.cases ?? [])]) {
            const res = await send(who, method, row, c);
            await expectRefused(res, `${method} ${row.path} ${c.name}`, c.mayPass);
          }
        });
      }
      if (method !== "GET") {
        // login too: a cross-site form must not sign the browser into an attacker's account
        it(`${method} ${row.path}: a session cookie with Origin: null is 403`, async () => {
          const res = await send("session", method, row, { name: "Origin: null", headers: { origin: "null" } });
          expect(res.status).toBe(403);
          await expectRefused(res, "Origin: null");
        });
      }
      if (!row.public) {
        it(`${method} ${row.path}: an anonymous caller with a bad request gets 401, not validation details`, async () => {
          const bad: Case = row.body
            ? { name: "anonymous, malformed body", body: "{", query: "colour=blue" }
            : { name: "anonymous, unknown parameter", query: "colour=blue" };
          const res = await send("anonymous", method, row, bad);
          expect(res.status).toBe(401);
          const json = (await res.json()) as { error: { code: string; parameter?: string } };
          expect(json.error.code).toBe("unauthorized");
          expect(json.error.parameter).toBeUndefined();
        });
      }
    }
  }
});
