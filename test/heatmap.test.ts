import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DisconnectHeatmap } from "@/components/clients/heatmap";
import { disconnectHeatmap } from "@/db/clients";
import { insertEvents, type EventRow } from "@/db/ingest";
import { shapeHeatmap } from "@/lib/clients";
import { freshDatabase, type TestDatabase } from "./helpers/db";

/** The fleet heatmap: disconnects per ClientID family and time bucket, by reason. */
const FROM = Date.parse("2026-12-07T00:00:00Z");
const TO = FROM + 24 * 3600_000;
let n = 0;

function disconnect(clientId: string | null, hour: number, reason: EventRow["reason"], broker = "plant-a"): EventRow {
  const ts = new Date(FROM + hour * 3600_000 + n++ * 1000);
  return {
    ts,
    receivedAt: ts,
    broker,
    node: null,
    clientId,
    type: "disconnected",
    reason,
    address: null,
    port: null,
    username: null,
    protocolVersion: 4,
    cleanStart: true,
    keepalive: 60,
    sessionSeconds: 10,
    raw: `d ${clientId} ${n}`,
  };
}

describe("fleet heatmap", () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await freshDatabase();
    await insertEvents(t.database, [
      // a storm at 03:00: the whole meter family drops
      ...Array.from({ length: 30 }, (_, i) => disconnect(`meter-${String(4200 + i).padStart(6, "0")}`, 3, "tcp_closed")),
      // a flapping gateway all day
      ...Array.from({ length: 24 }, (_, h) => disconnect("gw-berlin-03", h, "keepalive_timeout", "plant-b")),
      disconnect("pump-7", 10, "discarded"),
      disconnect(null, 11, "not_authorized"),
      // outside the window
      disconnect("meter-000001", 30, "tcp_closed"),
    ]);
  });
  afterAll(async () => {
    await t?.drop();
  });

  it("groups ClientIDs into families without their trailing numbers, per hour and reason", async () => {
    const cells = await disconnectHeatmap(t.database.db, { from: new Date(FROM), to: new Date(TO), buckets: 24, by: "prefix" });
    const map = shapeHeatmap(cells, { from: FROM, to: TO, buckets: 24, by: "prefix" });
    expect(map.rows.map((r) => [r.name, r.total])).toEqual([
      ["meter", 30],
      ["gw-berlin", 24],
      ["<unknown>", 1],
      ["pump", 1],
    ]);
    expect(map.rows[0]!.cells[3]).toEqual({ total: 30, reasons: { tcp_closed: 30 } });
    expect(map.rows[1]!.cells.every((c) => c.total === 1)).toBe(true);
    expect(map.max).toBe(30);
  });

  it("groups by broker on request", async () => {
    const cells = await disconnectHeatmap(t.database.db, { from: new Date(FROM), to: new Date(TO), buckets: 24, by: "broker" });
    const map = shapeHeatmap(cells, { from: FROM, to: TO, buckets: 24, by: "broker" });
    expect(map.rows.map((r) => [r.name, r.total])).toEqual([
      ["plant-a", 32],
      ["plant-b", 24],
    ]);
  });

  it("folds the quiet families into one row and draws a titled cell per bucket", () => {
    const cells = Array.from({ length: 15 }, (_, i) => ({ row: `fam${i}`, bucket: i % 4, reason: "normal", count: 15 - i }));
    const map = shapeHeatmap(cells, { from: FROM, to: TO, buckets: 4, by: "prefix", maxRows: 12 });
    expect(map.rows).toHaveLength(13);
    expect(map.rows.at(-1)).toMatchObject({ name: "other (3)", total: 3 + 2 + 1 });
    const html = renderToStaticMarkup(createElement(DisconnectHeatmap, { heatmap: map, rangeLabel: "24 hours", byHref: () => "/clients" }));
    expect(html).toContain('data-row="fam0"');
    expect(html).toContain("15 disconnects (15 normal)");
  });
});
