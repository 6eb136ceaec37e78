import type { Database } from "@/db/client";
import { countStoredEvents, storedEventKey } from "@/db/events";
import { insertEvents, insertUnparsed, pgText, type EventRow } from "@/db/ingest";
import type { BrokerRow } from "@/db/schema";
import { ApiError } from "../http";
import { toEventRow } from "./collector";
import { EventOrdinals } from "./identity";
import { createDialect } from "./index";
import { LOG_TOPIC, type Dialect, type DialectName } from "./types";

/**
 * Log shipping: `POST /api/brokers/{name}/log` takes a broker's log lines as text (from Vector,
 * Fluent Bit, syslog, …) and feeds them through that broker's dialect, so a broker whose log
 * does not reach us on a topic is as well served as one whose does.
 *
 * Idempotent: every event carries its identity (db/ingest.ts eventKey: broker, ts, type, node, the
 * line and its ordinal among identical lines of the batch), so a re-sent batch is answered
 * `duplicate` and never stored twice: the unique index drops the copies, and what is stored already
 * is left out before the insert so the answer can say which were new. Lines no parser recognises are kept as
 * unparsed records (counted each time they are sent).
 */

/** One request at most: 1 MiB and 10,000 lines. Shippers batch far below this by default. */
export const MAX_LOG_BYTES = 1024 * 1024;
export const MAX_LOG_LINES = 10_000;
/**
 * The longest line read as a log line: two strings of MQTT's maximum (65,535 bytes each: a ClientID
 * and a username) and the line around them. A longer one is no broker's log line; it is kept whole
 * as an unparsed record, unread, and the rest of the batch is stored (issue 18: a 1 MiB line was a 500).
 */
export const MAX_LOG_LINE_CHARS = 135_000;

/** What topic a shipped line of each dialect is read as. Mosquitto's are `$SYS/broker/log/<level>` lines. */
const LOG_TOPIC_OF: Partial<Record<DialectName, string>> = {
  mosquitto: "$SYS/broker/log/N",
  hivemq: LOG_TOPIC,
  rabbitmq: LOG_TOPIC,
};

export interface ShipResult {
  /** events stored now */
  stored: number;
  /** events already stored by an earlier batch (or another watcher) */
  duplicate: number;
  /** lines no parser recognised, kept as unparsed records */
  unparsed: number;
}

/**
 * One dialect per broker for shipped lines, kept across requests: a disconnect shipped in one batch
 * joins the connect shipped in the batch before. Separate from the collector's own dialect, whose
 * state describes another stream (the topic, the exchange).
 */
const shippingDialects = new Map<string, { dialect: Dialect; name: DialectName }>();

function dialectFor(broker: BrokerRow): { dialect: Dialect; topic: string } {
  const name = (broker.detectedDialect ?? broker.dialect) as DialectName | "auto";
  const topic = name === "auto" ? undefined : LOG_TOPIC_OF[name];
  if (name === "auto" || !topic) {
    throw new ApiError(
      "conflict",
      name === "auto"
        ? `broker "${broker.name}" has dialect auto and none was detected yet: set its dialect to read its log lines`
        : `broker "${broker.name}" has dialect ${name}, whose log lines are not read (mosquitto, hivemq and rabbitmq are)`,
    );
  }
  let entry = shippingDialects.get(broker.name);
  if (!entry || entry.name !== name) {
    entry = { dialect: createDialect(name), name };
    shippingDialects.set(broker.name, entry);
  }
  return { dialect: entry.dialect, topic };
}

/** Splits the body into lines, refusing more than MAX_LOG_LINES; blank lines are skipped. */
export function splitLogLines(text: string): string[] {
  const lines: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === "") continue;
    if (lines.length === MAX_LOG_LINES) {
      throw new ApiError("payload_too_large", `more than ${MAX_LOG_LINES} lines in one request: send smaller batches`);
    }
    lines.push(line);
  }
  return lines;
}

/**
 * A shipper's record (Fluent Bit `json_lines`, Vector `json`, syslog as JSON): the log line is its
 * `log` (Fluent Bit tail) or `message` (Vector, syslog) key. Anything else stays as it came, to be
 * kept as unparsed.
 */
export function lineOfRecord(line: string): string {
  try {
    const record = JSON.parse(line) as unknown;
    if (record && typeof record === "object") {
      const { log, message } = record as { log?: unknown; message?: unknown };
      if (typeof log === "string") return log.replace(/\r?\n$/, "");
      if (typeof message === "string") return message.replace(/\r?\n$/, "");
    }
  } catch {
    // not JSON: the line itself
  }
  return line;
}

export async function shipLogLines(
  database: Database,
  broker: BrokerRow,
  lines: string[],
  receivedAt = new Date(),
): Promise<{ result: ShipResult; events: EventRow[] }> {
  const { dialect, topic } = dialectFor(broker);
  const encoder = new TextEncoder();
  const events: EventRow[] = [];
  // ordinals among identical lines of this batch: a re-sent batch gets the same event identities
  const ordinals = new EventOrdinals();
  let unparsed = 0;
  const unparsedRows = [];
  for (const line of lines) {
    let output;
    if (line.length > MAX_LOG_LINE_CHARS) {
      const error = `line longer than ${MAX_LOG_LINE_CHARS} characters (${line.length}): no broker logs one; kept, not parsed`;
      output = { events: [], unparsed: [{ receivedAt, topic, raw: line, error }] };
    } else {
      try {
        output = dialect.parse(topic, encoder.encode(line), receivedAt);
      } catch (err) {
        output = { events: [], unparsed: [{ receivedAt, topic, raw: line, error: `parser crashed: ${String(err)}` }] };
      }
    }
    for (const e of output.events) events.push(toEventRow(broker.name, e, ordinals.key(e)));
    // The RabbitMQ log has every line of the node, not only the MQTT ones: those are neither events nor unparsed.
    unparsed += output.unparsed.length;
    for (const u of output.unparsed)
      unparsedRows.push({ broker: broker.name, receivedAt: u.receivedAt, topic: u.topic, raw: u.raw, error: u.error });
  }
  // Already stored: the same (ts, type, line) as many times as this batch has it is a duplicate.
  // Identical lines with the same time are told apart by their count (the identity's ordinal).
  const stored = await countStoredEvents(
    database.db,
    broker.name,
    events.map((e) => ({ ts: e.ts, type: e.type, raw: pgText(e.raw) })),
  );
  const seen = new Map<string, number>();
  const fresh = events.filter((e) => {
    const key = storedEventKey({ ts: e.ts, type: e.type, raw: pgText(e.raw) });
    const ordinal = seen.get(key) ?? 0;
    seen.set(key, ordinal + 1);
    return ordinal >= (stored.get(key) ?? 0);
  });
  // the event identity's unique index drops what a concurrent request stored in the meantime
  const storedNow = await insertEvents(database, fresh);
  await insertUnparsed(database, unparsedRows);
  return { result: { stored: storedNow, duplicate: events.length - storedNow, unparsed }, events: fresh };
}
