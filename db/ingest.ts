import "server-only";
import crypto from "node:crypto";
import { once } from "node:events";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Sql } from "postgres";
import type { Database } from "./client";
import { BinaryCopyWriter, textBytes } from "./copy-binary";
import { sql } from "drizzle-orm";
import { connectionEvents, metricSamples, unparsedRecords, type ConnectionEventRow } from "./schema";

/**
 * Bulk writes of what the collector ingests. On Postgres this is COPY (the fastest path the
 * server offers): events in binary format straight into the table, and only a batch the unique
 * index refuses (it holds a copy) again into a per-session staging table, then one `INSERT …
 * SELECT … ON CONFLICT` into the real table; samples always through staging, in text format. On
 * PGlite, multi-row INSERTs with the same conflict clauses, in chunks that stay under the
 * bind-parameter limit.
 *
 * Exactly once: every row carries its identity in the broker's stream, and a unique index on it
 * drops a copy, whether a redelivery after a crash or another watcher of the same broker wrote it
 * first (README, "Reliability and broker-side limits").
 * - event: (broker, ts, event_key), event_key = md5(type, node, ordinal, raw) (eventKey below).
 *   `raw` is the broker's own log line (with its timestamp) or JSON payload (with its ms `ts`);
 *   ordinal counts identical lines with the same ts (a flapping client logging `Client x
 *   disconnected.` twice in one second) and is assigned by the collector in arrival order.
 * - sample: (broker, ts, metric, node, labels) with ts cut to the whole second. `$SYS` values carry
 *   no timestamp, so ts is the receive time; two watchers receive the same publication a few ms
 *   apart and agree on the second unless the publication straddles a second boundary, in which
 *   case the value is kept twice, one second apart (harmless for a gauge). Within one second the
 *   latest value wins, so a status flip (mqtt_broker_up 0 then 1) is never lost to the first.
 */
/** A connection event as the writer hands it over: the stored row before it has an id. */
export type EventRow = Omit<ConnectionEventRow, "id" | "eventKey"> & {
  /** identity in the broker's stream (eventKey); when absent, computed with ordinals counted within the batch */
  eventKey?: string;
};

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
  "event_key",
] as const;

/**
 * The identity of an event in its broker's stream, as a uuid-shaped md5 (the migration that
 * introduced it backfills old rows with the same formula in SQL). Text is hashed as stored (NUL
 * replaced), so a key computed here equals one computed in SQL from the stored row.
 */
export function eventKey(e: { type: string; node: string | null; raw: string }, ordinal: number): string {
  const hex = md5Hex(`${pgText(e.type)}\n${pgText(e.node ?? "")}\n${ordinal}\n${pgText(e.raw)}`);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * md5 in hex. `crypto.hash` (Node 20.12+) hashes in one call, about three times cheaper than a
 * Hash object per event; engines allows older 20.x, which keeps the Hash object.
 */
const md5Hex: (text: string) => string =
  typeof crypto.hash === "function"
    ? (text) => crypto.hash("md5", text, "hex")
    : (text) => crypto.createHash("md5").update(text).digest("hex");

/**
 * Keys for rows that came without one: identical rows with the same ts in this batch count 0, 1, 2, ….
 * The writer keys a batch before it splits one (lib/collector/writer.ts), so each half keeps the
 * ordinals of the whole.
 */
export function withKeys(rows: EventRow[]): (EventRow & { eventKey: string })[] {
  if (rows.every((r) => r.eventKey !== undefined)) return rows as (EventRow & { eventKey: string })[];
  const seen = new Map<string, number>();
  return rows.map((r) => {
    if (r.eventKey !== undefined) return r as EventRow & { eventKey: string };
    const same = `${r.broker}\n${r.ts.getTime()}\n${r.type}\n${r.node ?? ""}\n${r.raw}`;
    const ordinal = seen.get(same) ?? 0;
    seen.set(same, ordinal + 1);
    return { ...r, eventKey: eventKey(r, ordinal) };
  });
}

/** A sample's ts as its identity uses it: the whole second (see the top of this file). */
export function sampleSecond(ts: Date): Date {
  return new Date(Math.floor(ts.getTime() / 1000) * 1000);
}

/** One row per (broker, second, metric, node, labels), the latest of a batch winning. */
function distinctSamples(rows: SampleRow[]): SampleRow[] {
  const byKey = new Map<string, SampleRow>();
  for (const s of rows) {
    const labels = pgLabels(s.labels);
    const ts = sampleSecond(s.ts);
    const key = JSON.stringify([s.broker, ts.getTime(), s.metric, s.node, Object.entries(labels).sort()]);
    byKey.delete(key);
    byKey.set(key, { ...s, broker: pgText(s.broker), node: pgText(s.node), metric: pgText(s.metric), labels, ts });
  }
  return [...byKey.values()];
}

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

/**
 * What one COPY sends: its format, and the data as chunks (strings of text-format lines, or
 * Buffers of binary rows), produced as they are sent. A function, so a retry can produce it again.
 */
interface CopyData {
  format: "text" | "binary";
  chunks: () => Iterable<string | Buffer>;
}

/** Text-format COPY of `rows`, in slices so one huge batch doesn't build one huge string. */
function textCopyData(rows: unknown[][]): CopyData {
  const SLICE = 2000;
  return {
    format: "text",
    *chunks() {
      for (let i = 0; i < rows.length; i += SLICE) yield copyLines(rows.slice(i, i + SLICE));
    },
  };
}

async function copyInto(sql: Sql, table: string, columns: readonly string[], data: CopyData): Promise<void> {
  const format = data.format === "binary" ? " with (format binary)" : "";
  const query = sql.unsafe(`copy ${table} (${columns.join(", ")}) from stdin${format}`);
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
  const stream = (await query.writable()) as Writable;
  // postgres.js destroys the writable after a COPY (or a failure) and may report an error on it
  // once the pipeline has let go of it; an unheard 'error' event would end the process. The
  // error still reaches us through the pipeline or `refused`.
  stream.on("error", () => {});
  await Promise.race([pipeline(data.chunks(), stream), refused]);
  // Disposing of the stream sends a (harmless, ignored) CopyFail: let it go before the connection
  // takes another query (copyReserved).
  if (!stream.closed) await once(stream, "close");
}

/**
 * COPY on a connection of its own for the duration. postgres.js pipelines a query onto a busy
 * connection when the pool is exhausted: sent between COPY and the server's CopyInResponse, the
 * server reads it as data and drops the connection ("protocol synchronization was lost"); and the
 * CopyFail it sends when it disposes of a finished COPY's stream lands in a COPY queued right
 * behind (issue 11, seen at 50k events/s). A reserved connection carries nothing else meanwhile.
 */
async function copyReserved(sql: Sql, table: string, columns: readonly string[], data: CopyData): Promise<void> {
  const connection = await sql.reserve();
  try {
    await copyInto(connection, table, columns, data);
  } finally {
    connection.release();
  }
}

/** Upper bound of the bytes an event's fixed-size fields take in binary COPY (length words included). */
const EVENT_FIXED_BYTES = 2 * 12 + 8 + 6 + 5 + 8 + 12 + 20;

/**
 * Events in binary COPY format, in EVENT_COLUMNS order. Encoded as they are sent, a buffer of about
 * 1 MB at a time; this was the largest cost of the write path in text format (README, "Benchmarks").
 */
function eventCopyData(rows: (EventRow & { eventKey: string })[]): CopyData {
  return {
    format: "binary",
    *chunks() {
      const out = new BinaryCopyWriter();
      for (const e of rows) {
        const broker = pgText(e.broker);
        const node = pgTextOrNull(e.node);
        const clientId = pgTextOrNull(e.clientId);
        const type = pgText(e.type);
        const reason = pgTextOrNull(e.reason);
        const address = pgTextOrNull(e.address);
        const username = pgTextOrNull(e.username);
        const raw = pgText(e.raw);
        out.row(
          EVENT_COLUMNS.length,
          EVENT_FIXED_BYTES +
            textBytes(broker) +
            textBytes(node) +
            textBytes(clientId) +
            textBytes(type) +
            textBytes(reason) +
            textBytes(address) +
            textBytes(username) +
            textBytes(raw),
        );
        out.timestamptz(e.ts);
        out.timestamptz(e.receivedAt);
        out.text(broker);
        out.text(node);
        out.text(clientId);
        out.text(type);
        out.text(reason);
        out.text(address);
        out.int4(e.port);
        out.text(username);
        out.int2(e.protocolVersion);
        out.bool(e.cleanStart);
        out.int4(e.keepalive);
        out.float8(e.sessionSeconds);
        out.text(raw);
        out.uuid(e.eventKey);
        const full = out.takeFull();
        if (full.length) yield* full;
      }
      yield* out.finish();
    },
  };
}

const UNIQUE_VIOLATION = "23505";

/**
 * COPY into a temporary table of the target's columns (emptied at every commit), then move the
 * rows over with `conflict`, all in one transaction. COPY itself has no ON CONFLICT.
 */
async function copyThroughStaging<Returned = never>(
  sql: Sql,
  table: string,
  columns: readonly string[],
  data: CopyData,
  conflict: string,
): Promise<Returned[] & { count: number }> {
  const staging = `${table}_staging`;
  const list = columns.join(", ");
  let inserted = Object.assign([] as Returned[], { count: 0 });
  await sql.begin(async (tx) => {
    await tx.unsafe(
      `create temp table if not exists ${staging} on commit delete rows as select ${list} from ${table} with no data`,
    );
    await copyInto(tx as unknown as Sql, staging, columns, data);
    const result = await tx.unsafe(`insert into ${table} (${list}) select ${list} from ${staging} ${conflict}`);
    inserted = Object.assign([...result] as Returned[], { count: result.count });
  });
  return inserted;
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

/** Returns how many rows were new (the rest were copies of rows already stored). */
export async function insertEvents(database: Database, rows: EventRow[]): Promise<number> {
  return (await insertNewEvents(database, rows)).length;
}

/** Identity of a stored event, as RETURNING gives it back. */
function storedKey(broker: string, ts: Date, key: string): string {
  return `${broker}\n${ts.getTime()}\n${key}`;
}

/**
 * The rows of `rows` that were new, with their keys: what the live pages announce. A copy another
 * watcher (or an earlier delivery) stored first is left out, so a stream shows each event once.
 */
export async function insertNewEvents(
  database: Database,
  rows: EventRow[],
): Promise<(EventRow & { eventKey: string })[]> {
  if (rows.length === 0) return [];
  const keyed = withKeys(rows);
  const only = (inserted: { broker: string; ts: Date; eventKey: string }[]) => {
    const fresh = new Set(inserted.map((r) => storedKey(r.broker, new Date(r.ts), r.eventKey)));
    // `delete`: a key a batch holds twice was inserted once
    return keyed.filter((e) => fresh.delete(storedKey(pgText(e.broker), e.ts, e.eventKey)));
  };
  if (database.postgres) {
    const data = eventCopyData(keyed);
    // Optimistic: a batch without copies (nearly all of them) goes straight in by COPY, which
    // refuses it whole on a duplicate key; only then does it take the slower staging path.
    try {
      await copyReserved(database.postgres, "connection_events", EVENT_COLUMNS, data);
      return keyed;
    } catch (err) {
      if ((err as { code?: string }).code !== UNIQUE_VIOLATION) throw err;
    }
    const inserted = await copyThroughStaging<{ broker: string; ts: Date; event_key: string }>(
      database.postgres,
      "connection_events",
      EVENT_COLUMNS,
      data,
      "on conflict (broker, ts, event_key) do nothing returning broker, ts, event_key",
    );
    return only(inserted.map((r) => ({ broker: r.broker, ts: r.ts, eventKey: r.event_key })));
  }
  // 16 columns × 2000 rows stays well under Postgres' 65,535 bind parameters.
  const inserted: { broker: string; ts: Date; eventKey: string }[] = [];
  await database.db.transaction(async (tx) => {
    for (const chunk of chunks(keyed, 2000)) {
      const written = await tx
        .insert(connectionEvents)
        .values(
          chunk.map((e) => ({
            ...e,
            broker: pgText(e.broker),
            node: pgTextOrNull(e.node),
            clientId: pgTextOrNull(e.clientId),
            address: pgTextOrNull(e.address),
            username: pgTextOrNull(e.username),
            raw: pgText(e.raw),
          })),
        )
        .onConflictDoNothing({ target: [connectionEvents.broker, connectionEvents.ts, connectionEvents.eventKey] })
        .returning({ broker: connectionEvents.broker, ts: connectionEvents.ts, eventKey: connectionEvents.eventKey });
      inserted.push(...written);
    }
  });
  return only(inserted);
}

const SAMPLE_COLUMNS = ["broker", "node", "metric", "labels", "ts", "value"] as const;

/** Returns how many rows were written (new, or a changed value for a second already stored). */
export async function insertSamples(database: Database, rows: SampleRow[]): Promise<number> {
  if (rows.length === 0) return 0;
  const distinct = distinctSamples(rows);
  if (database.postgres) {
    const written = await copyThroughStaging(
      database.postgres,
      "metric_samples",
      SAMPLE_COLUMNS,
      textCopyData(distinct.map((s) => [s.broker, s.node, s.metric, s.labels, s.ts, s.value])),
      `on conflict (broker, ts, metric, node, labels) do update set value = excluded.value
       where metric_samples.value is distinct from excluded.value`,
    );
    return written.count;
  }
  let written = 0;
  await database.db.transaction(async (tx) => {
    for (const chunk of chunks(distinct, 5000)) {
      const result = await tx
        .insert(metricSamples)
        .values(chunk)
        .onConflictDoUpdate({
          target: [
            metricSamples.broker,
            metricSamples.ts,
            metricSamples.metric,
            metricSamples.node,
            metricSamples.labels,
          ],
          set: { value: sql`excluded.value` },
          setWhere: sql`${metricSamples.value} is distinct from excluded.value`,
        })
        .returning({ ts: metricSamples.ts });
      written += result.length;
    }
  });
  return written;
}

/** Unparsed records have no identity in any stream (they could not be read): all are new. Returns how many. */
export async function insertUnparsed(database: Database, rows: UnparsedRow[]): Promise<number> {
  if (rows.length === 0) return 0;
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
  return rows.length;
}
