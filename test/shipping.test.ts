import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getBroker, upsertBroker } from "@/db/brokers";
import { queryEvents } from "@/db/events";
import { MAX_LOG_LINES, shipLogLines, splitLogLines } from "@/lib/collector/shipping";
import { freshDatabase, type TestDatabase } from "./helpers/db";

/** Log shipping against the database alone (PGlite, or Postgres with DATABASE_URL): what is stored, and only once. */
describe("shipLogLines", () => {
  let test: TestDatabase;
  const hivemq = readFileSync(new URL("./fixtures/hivemq-4/event.log", import.meta.url), "utf8");

  beforeAll(async () => {
    test = await freshDatabase();
    await upsertBroker(test.database.db, { name: "hive", url: "mqtt://127.0.0.1:1", dialect: "hivemq", detectedDialect: "hivemq", source: "file" });
    await upsertBroker(test.database.db, { name: "mosq", url: "mqtt://127.0.0.1:1", dialect: "mosquitto", detectedDialect: "mosquitto", source: "file" });
    await upsertBroker(test.database.db, { name: "emqx", url: "mqtt://127.0.0.1:1", dialect: "emqx", detectedDialect: "emqx", source: "file" });
  });
  afterAll(async () => test?.drop());

  const broker = async (name: string) => (await getBroker(test.database.db, name))!;
  const stored = async (name: string) => (await queryEvents(test.database.db, { broker: name, limit: 1000 })).length;

  it("stores a batch once: the same lines sent again are all duplicates", async () => {
    const lines = splitLogLines(hivemq);
    const first = await shipLogLines(test.database, await broker("hive"), lines);
    expect(first.result).toEqual({ stored: 14, duplicate: 0, unparsed: 1 });
    const again = await shipLogLines(test.database, await broker("hive"), lines);
    expect(again.result).toEqual({ stored: 0, duplicate: 14, unparsed: 1 });
    expect(await stored("hive")).toBe(14);
  });

  it("keeps identical lines with the same time apart by their count, and stores only the new one of an overlapping batch", async () => {
    const flap = "1795346750: Client flappy disconnected.";
    const connect = "1795346750: New client connected from 10.0.0.9:1 as flappy (p2, c1, k60).";
    const b = await broker("mosq");
    const one = await shipLogLines(test.database, b, [connect, flap, connect, flap]);
    expect(one.result).toMatchObject({ stored: 4, duplicate: 0 });
    // the same four and a third pair: only the third pair is new
    const two = await shipLogLines(test.database, b, [connect, flap, connect, flap, connect, flap]);
    expect(two.result).toMatchObject({ stored: 2, duplicate: 4 });
    expect(await stored("mosq")).toBe(6);
  });

  it("refuses a broker whose dialect has no log lines, and more than the line limit", async () => {
    await expect(shipLogLines(test.database, await broker("emqx"), ["x"])).rejects.toThrow(/dialect emqx/);
    expect(() => splitLogLines("x\n".repeat(MAX_LOG_LINES + 1))).toThrow(/10000 lines/);
    expect(splitLogLines("a\r\n\r\n b\n")).toEqual(["a", " b"]);
  });
});
