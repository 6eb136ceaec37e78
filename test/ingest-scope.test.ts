import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { POST as shipLog } from "@/app/api/brokers/[name]/log/route";
import { POST as createToken } from "@/app/api/tokens/route";
import { upsertBroker } from "@/db/brokers";
import { queryEvents } from "@/db/events";
import { unparsedRecords } from "@/db/schema";
import { createApiToken } from "@/lib/auth/tokens";
import { MAX_LOG_LINE_CHARS } from "@/lib/collector/shipping";
import { setRuntime } from "@/lib/runtime";
import { freshDatabase, type TestDatabase } from "./helpers/db";

/**
 * Issue 18, items 1 and 11, through the log-shipping route: an ingest token limited to some brokers
 * learns nothing about the others (the same 403 whether a broker exists or not), and one hostile
 * 1 MiB line is answered 200 with the rest of the batch stored, not 500.
 */
const ADMIN = "ingest-scope-admin-token";

function post(path: string, token: string, body: string, type = "text/plain"): Request {
  return new Request(`http://brokerwatch.test${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": type },
    body,
  });
}

const ship = async (broker: string, token: string, body: string) => {
  const res = await shipLog(post(`/api/brokers/${encodeURIComponent(broker)}/log`, token, body), {
    params: Promise.resolve({ name: broker }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
};

const line = (ts: number, id: string, port = 50000) =>
  `${ts}: New client connected from 10.0.0.7:${port} as ${id} (p2, c1, k60).`;

describe("ingest tokens limited to brokers, and hostile shipped lines", () => {
  let t: TestDatabase;
  let scoped: string;
  let unscoped: string;
  const previous = process.env.BROKERWATCH_API_TOKEN;

  beforeAll(async () => {
    process.env.BROKERWATCH_API_TOKEN = ADMIN;
    t = await freshDatabase();
    setRuntime({ database: t.database, startedAt: new Date(), bundledBrokerUrl: null });
    for (const name of ["plant-a", "plant-b"]) {
      await upsertBroker(t.database.db, { name, url: "mqtt://127.0.0.1:1", dialect: "mosquitto", source: "file" });
    }
    scoped = (await createApiToken(t.database.db, "vector-a", "viewer", "ingest", ["plant-a"])).token;
    unscoped = (await createApiToken(t.database.db, "vector-all", "viewer", "ingest")).token;
  });
  afterAll(async () => {
    setRuntime(undefined);
    await t?.drop();
    process.env.BROKERWATCH_API_TOKEN = previous;
  });

  it("lets a token limited to plant-a ship to plant-a only, with one answer for plant-b and for a broker that does not exist", async () => {
    expect((await ship("plant-a", scoped, line(1772359200, "dev-1"))).json).toMatchObject({ stored: 1 });
    const other = await ship("plant-b", scoped, line(1772359201, "dev-2"));
    const missing = await ship("no-such-broker", scoped, line(1772359201, "dev-2"));
    expect(other.status).toBe(403);
    expect(missing.status).toBe(403);
    const shape = (r: { json: Record<string, unknown> }, name: string) => JSON.stringify(r.json).replaceAll(name, "NAME");
    expect(shape(missing, "no-such-broker")).toBe(shape(other, "plant-b"));
    expect(await queryEvents(t.database.db, { broker: "plant-b", limit: 10 })).toEqual([]);
  });

  it("keeps a token made without brokers reaching every broker, as before", async () => {
    expect((await ship("plant-b", unscoped, line(1772359202, "dev-3"))).json).toMatchObject({ stored: 1 });
    expect((await ship("no-such-broker", unscoped, line(1772359202, "dev-3"))).status).toBe(404);
  });

  it("creates a limited token through the API, and refuses brokers on a token that is not ingest", async () => {
    const create = async (body: unknown) => {
      const res = await createToken(
        new Request("http://brokerwatch.test/api/tokens", {
          method: "POST",
          headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
          body: JSON.stringify(body),
        }),
        { params: Promise.resolve({}) },
      );
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    };
    const made = await create({ name: "fluent-b", scope: "ingest", brokers: "plant-b, plant-b ,other" });
    expect(made.status).toBe(201);
    expect(made.json.brokers).toEqual(["plant-b", "other"]);
    expect((await ship("plant-b", made.json.token as string, line(1772359203, "dev-4"))).status).toBe(200);
    expect((await ship("plant-a", made.json.token as string, line(1772359203, "dev-4"))).status).toBe(403);
    const refused = await create({ name: "grafana", scope: "api", brokers: ["plant-a"] });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.json)).toMatch(/only an ingest token is limited to brokers/);
  });

  it("answers a batch holding a 1 MiB line 200, keeps that line as unparsed and stores the rest", async () => {
    // as long as a line can be inside the 1 MiB body cap, with one good line on either side
    const hostile = line(1772359300, "A".repeat(1024 * 1024 - 400));
    const within = [line(1772359299, "before"), hostile, line(1772359301, "after")].join("\n");
    expect(Buffer.byteLength(within)).toBeLessThanOrEqual(1024 * 1024);
    const res = await ship("plant-a", scoped, within);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ stored: 2, unparsed: 1 });
    const ids = (await queryEvents(t.database.db, { broker: "plant-a", limit: 10 })).map((e) => e.clientId);
    expect(ids).toEqual(expect.arrayContaining(["before", "after"]));
    const [kept] = await t.database.db
      .select({ n: sql<number>`length(raw)::int`, error: unparsedRecords.error })
      .from(unparsedRecords)
      .where(sql`length(raw) > ${MAX_LOG_LINE_CHARS}`);
    expect(kept.error).toMatch(/longer than/);
  });

  it("stores a line whose 3 KB ClientID does not compress (an index entry over the btree limit before)", async () => {
    const id = randomBytes(1500).toString("hex");
    const res = await ship("plant-a", scoped, [line(1772359400, id), line(1772359401, "next")].join("\n"));
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ stored: 2 });
    expect((await queryEvents(t.database.db, { clientId: id, limit: 1 }))[0].clientId).toBe(id);
  });
});
