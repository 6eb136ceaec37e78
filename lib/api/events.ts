import { stringify } from "csv-stringify/sync";
import type { ConnectionEventRow } from "@/db/schema";
import { queryEvents, type EventQuery } from "@/db/events";
import type { Db } from "@/db/client";
import { encodeCursor } from "./params";

/** A connection event as the API shows it (docs/contract.md §4). */
export function eventJson(row: ConnectionEventRow) {
  return {
    id: row.id,
    ts: row.ts.toISOString(),
    receivedAt: row.receivedAt.toISOString(),
    broker: row.broker,
    node: row.node,
    clientId: row.clientId,
    type: row.type,
    reason: row.reason,
    address: row.address,
    port: row.port,
    username: row.username,
    protocolVersion: row.protocolVersion,
    cleanStart: row.cleanStart,
    keepalive: row.keepalive,
    sessionSeconds: row.sessionSeconds,
    raw: row.raw,
  };
}

/** One page, newest first, with the cursor of the next one (null on the last page). */
export async function eventPage(db: Db, q: EventQuery) {
  const rows = await queryEvents(db, { ...q, limit: q.limit + 1 });
  const page = rows.slice(0, q.limit);
  const last = page.at(-1);
  return {
    events: page.map(eventJson),
    nextCursor: rows.length > q.limit && last ? encodeCursor(last.ts, last.id) : null,
  };
}

const CSV_COLUMNS = [
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
] as const;

/** Columns whose text comes from devices: a ClientID like `=HYPERLINK(…)` must not run in a spreadsheet. */
const TEXT_COLUMNS = new Set<string>(["clientId", "username", "raw"]);

/** OWASP's CSV-injection guard: a cell starting with = + - @ or a control character is prefixed with '. */
export function defuseFormula(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

/**
 * Every matching event as CSV, streamed page by page (keyset), so an export of millions of rows
 * neither buffers in memory nor holds one long query open.
 */
export function eventCsvStream(db: Db, q: Omit<EventQuery, "limit">, pageSize = 2000): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let before = q.before;
  let headerSent = false;
  let done = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!headerSent) {
        headerSent = true;
        controller.enqueue(encoder.encode(stringify([CSV_COLUMNS as unknown as string[]])));
      }
      if (done) {
        controller.close();
        return;
      }
      const rows = await queryEvents(db, { ...q, limit: pageSize, before });
      if (rows.length < pageSize) done = true;
      const last = rows.at(-1);
      if (last) before = { ts: last.ts, id: last.id };
      const records = rows.map((r) => {
        const e = eventJson(r);
        return CSV_COLUMNS.map((c) => {
          const v = e[c];
          if (v === null || v === undefined) return "";
          return TEXT_COLUMNS.has(c) ? defuseFormula(String(v)) : String(v);
        });
      });
      if (records.length) controller.enqueue(encoder.encode(stringify(records)));
      if (done) controller.close();
    },
  });
}
