import "server-only";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Database } from "./client";
import { connectionEvents, metricSamples, unparsedRecords, type ConnectionEventRow } from "./schema";

/**
 * Bulk writes of what the collector ingests. On Postgres this is COPY (the fastest path the
 * server offers); on PGlite, multi-row INSERTs in chunks that stay under the bind-parameter limit.
 */
/** A connection event as the writer hands it over: the stored row before it has an id. */
export type EventRow = Omit<ConnectionEventRow, "id">;

export interface SampleRow {
  broker: string;
  node: string;
  metric: string;
  labels: Record<string, string>;
  ts: Date;
  value: number;
}

export interface UnparsedRow {
  receivedAt: Date;
  broker: string;
  topic: string;
  raw: string;
  error: string;
}

const EVENT_COLUMNS = [
  "ts",
  "received_at",
  "broker",
  "node",
  "client_id",
  "type",
  "reason",
  "address",
  "port",
  "username",
  "protocol_version",
  "clean_start",
  "keepalive",
  "session_seconds",
  "raw",
] as const;

/** Postgres text cannot hold NUL; a hostile ClientID or payload may. Keep the rest of the text. */
export function pgText(value: string): string {
  return value.includes("\u0000") ? value.replaceAll("\u0000", "\uFFFD") : value;
}

function pgTextOrNull(value: string | null): string | null {
  return value === null ? null : pgText(value);
}

/** jsonb refuses the escape `\u0000` just as text refuses NUL: clean keys and values before they are serialised. */
function pgLabels(labels: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(labels)) out[pgText(key)] = pgText(String(value));
  return out;
}

function copyField(value: unknown): string {
  if (value === null || value === undefined) return "\\N";
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "boolean") return value ? "t" : "f";
  if (typeof value === "number") return String(value);
  const text = typeof value === "string" ? value : JSON.stringify(value);
  // COPY text format: backslash escapes for the characters that delimit fields and rows.
  return pgText(text).replace(/[\\\t\n\r]/g, (c) =>
    c === "\\" ? "\\\\" : c === "\t" ? "\\t" : c === "\n" ? "\\n" : "\\r",
  );
}

function copyLines(rows: unknown[][]): string {
  let out = "";
  for (const row of rows) out += row.map(copyField).join("\t") + "\n";
  return out;
}

async function copyInto(
  database: Database,
  table: string,
  columns: readonly string[],
  rows: unknown[][],
): Promise<void> {
  const sql = database.postgres!;
  const query = sql.unsafe(`copy ${table} (${columns.join(", ")}) from stdin`);
  // postgres.js 3.4 never settles the writable when the server rejects the data after CopyDone
  // (porsager/postgres#1173): the error only reaches the query's own reject, which is a no-op by
  // then. Without this, one refused row would hang the write queue forever.
  const refused = new Promise<never>((_, reject) => {
    const q = query as unknown as { reject: (err: unknown) => unknown };
    const original = q.reject;
    q.reject = (err: unknown) => {
      reject(err);
      return original(err);
    };
  });
  refused.catch(() => {});
  const stream = await query.writable();
  // Write in slices so one huge batch doesn't build one huge string.
  const SLICE = 2000;
  await Promise.race([
    pipeline(
      (async function* () {
        for (let i = 0; i < rows.length; i += SLICE) yield copyLines(rows.slice(i, i + SLICE));
      })(),
      stream as Writable,
    ),
    refused,
  ]);
}

function eventValues(e: EventRow): unknown[] {
  return [
    e.ts,
    e.receivedAt,
    e.broker,
    e.node,
    e.clientId,
    e.type,
    e.reason,
    e.address,
    e.port,
    e.username,
    e.protocolVersion,
    e.cleanStart,
    e.keepalive,
    e.sessionSeconds,
    e.raw,
  ];
}

function chunks<T>(rows: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size));
  return out;
}

/*
 * Each insert below is all or nothing (one COPY, or the chunks in one transaction): the writer
 * retries a failed batch whole, so a half-written one would be written twice.
 */

export async function insertEvents(database: Database, rows: EventRow[]): Promise<void> {
  if (rows.length === 0) return;
  if (database.postgres) return copyInto(database, "connection_events", EVENT_COLUMNS, rows.map(eventValues));
  // 15 columns × 2000 rows stays well under Postgres' 65,535 bind parameters.
  await database.db.transaction(async (tx) => {
    for (const chunk of chunks(rows, 2000)) {
      await tx.insert(connectionEvents).values(
        chunk.map((e) => ({
          ...e,
          broker: pgText(e.broker),
          node: pgTextOrNull(e.node),
          clientId: pgTextOrNull(e.clientId),
          address: pgTextOrNull(e.address),
          username: pgTextOrNull(e.username),
          raw: pgText(e.raw),
        })),
      );
    }
  });
}

export async function insertSamples(database: Database, rows: SampleRow[]): Promise<void> {
  if (rows.length === 0) return;
  if (database.postgres) {
    return copyInto(
      database,
      "metric_samples",
      ["broker", "node", "metric", "labels", "ts", "value"],
      rows.map((s) => [s.broker, s.node, s.metric, pgLabels(s.labels), s.ts, s.value]),
    );
  }
  await database.db.transaction(async (tx) => {
    for (const chunk of chunks(rows, 5000)) {
      await tx.insert(metricSamples).values(
        chunk.map((s) => ({
          ...s,
          broker: pgText(s.broker),
          node: pgText(s.node),
          metric: pgText(s.metric),
          labels: pgLabels(s.labels),
        })),
      );
    }
  });
}

export async function insertUnparsed(database: Database, rows: UnparsedRow[]): Promise<void> {
  if (rows.length === 0) return;
  await database.db.transaction(async (tx) => {
    for (const chunk of chunks(rows, 5000)) {
      await tx.insert(unparsedRecords).values(
        chunk.map((r) => ({
          ...r,
          broker: pgText(r.broker),
          topic: pgText(r.topic),
          raw: pgText(r.raw),
          error: pgText(r.error),
        })),
      );
    }
  });
}
