import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Database } from "./client";
import { connectionEvents, metricSamples, unparsedRecords } from "./schema";

/**
 * Bulk writes of what the collector ingests. On Postgres this is COPY (the fastest path the
 * server offers); on PGlite, multi-row INSERTs in chunks that stay under the bind-parameter limit.
 */
export interface EventRow {
  ts: Date;
  receivedAt: Date;
  broker: string;
  node: string | null;
  clientId: string | null;
  type: string;
  reason: string | null;
  address: string | null;
  port: number | null;
  username: string | null;
  protocolVersion: number | null;
  cleanStart: boolean | null;
  keepalive: number | null;
  sessionSeconds: number | null;
  raw: string;
}

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
  const stream = await sql.unsafe(`copy ${table} (${columns.join(", ")}) from stdin`).writable();
  // Write in slices so one huge batch doesn't build one huge string.
  const SLICE = 2000;
  await pipeline(
    (async function* () {
      for (let i = 0; i < rows.length; i += SLICE) yield copyLines(rows.slice(i, i + SLICE));
    })(),
    stream as Writable,
  );
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

export async function insertEvents(database: Database, rows: EventRow[]): Promise<void> {
  if (rows.length === 0) return;
  if (database.postgres) return copyInto(database, "connection_events", EVENT_COLUMNS, rows.map(eventValues));
  // 15 columns × 2000 rows stays well under Postgres' 65,535 bind parameters.
  for (const chunk of chunks(rows, 2000)) {
    await database.db.insert(connectionEvents).values(
      chunk.map((e) => ({
        ...e,
        clientId: e.clientId === null ? null : pgText(e.clientId),
        username: e.username === null ? null : pgText(e.username),
        raw: pgText(e.raw),
      })),
    );
  }
}

export async function insertSamples(database: Database, rows: SampleRow[]): Promise<void> {
  if (rows.length === 0) return;
  if (database.postgres) {
    return copyInto(
      database,
      "metric_samples",
      ["broker", "node", "metric", "labels", "ts", "value"],
      rows.map((s) => [s.broker, s.node, s.metric, s.labels, s.ts, s.value]),
    );
  }
  for (const chunk of chunks(rows, 5000)) await database.db.insert(metricSamples).values(chunk);
}

export async function insertUnparsed(database: Database, rows: UnparsedRow[]): Promise<void> {
  if (rows.length === 0) return;
  for (const chunk of chunks(rows, 5000)) {
    await database.db
      .insert(unparsedRecords)
      .values(chunk.map((r) => ({ ...r, topic: pgText(r.topic), raw: pgText(r.raw), error: pgText(r.error) })));
  }
}
