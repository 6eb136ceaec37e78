import { EventEmitter } from "node:events";
import type { Database } from "@/db/client";
import {
  insertNewEvents,
  insertSamples,
  insertUnparsed,
  withKeys,
  type EventRow,
  type SampleRow,
  type UnparsedRow,
} from "@/db/ingest";

/**
 * Batched writes off the MQTT receive path. The collector hands over what a message produced
 * and returns at once; a loop writes everything queued every 100 ms (sooner when a
 * full batch is waiting, or at once when a message is waiting for its acknowledgement and no
 * write is in flight). The queue is bounded by backpressure, not by dropping: past
 * `maxQueued` rows the writer says "full" and the collectors stop reading their sockets (the
 * brokers keep the messages in the collectors' persistent sessions) until it has drained to half.
 * A failed write keeps its rows and is retried, so a database blip loses nothing.
 *
 * Poison rows: a write the database refuses because of what a row holds (a data error, SQLSTATE
 * classes 22, 23 and 54: an index entry over the btree limit, a value out of range) would fail the
 * same way forever, and with it every row queued behind it, every broker's. Such a batch is split in
 * halves until the refused rows stand alone; each is kept as an unparsed record with the database's
 * reason (docs/contract.md §4, "Rows the database refused") and the rest is committed. Any other
 * failure (the connection, the server going away) keeps the rows and retries with a backoff of
 * 100 ms doubling to 5 s, and is logged at most once per LOG_EVERY_MS with a count of the rest.
 *
 * Acknowledge after commit: `enqueue(rows, onCommitted)` calls `onCommitted` once every row of
 * that call and of every earlier call is committed (in enqueue order), so the collector sends
 * the broker its PUBACK only then and a crash never loses an acknowledged message. The default
 * `maxQueued` holds a 60 s database outage at 20k rows/s (README, "Reliability and broker-side
 * limits"), since while the database is away the rows live only here and in the broker's session.
 */
/**
 * Rows the queue holds before backpressure: a 60 s database outage at 20k rows/s, plus headroom.
 * Measured at ~1.4 KB of heap per queued Mosquitto event (row object, raw line, ClientID, two
 * Dates, key), so ~2 GB when full: within Node's default heap limit on a 64-bit machine with 16 GB
 * or more; lower it (service option `writer.maxQueued`) on a smaller one and accept a shorter outage.
 */
export const DEFAULT_MAX_QUEUED = 1_500_000;

export interface WriterOptions {
  flushIntervalMs?: number;
  /** rows queued before backpressure starts */
  maxQueued?: number;
  /** rows per write */
  batchSize?: number;
  log?: (line: string) => void;
}

export interface WriterStats {
  eventsWritten: number;
  /** rows the database refused for what they hold (a data error), kept as unparsed records instead */
  rowsRejected: number;
  /** refused rows that could not be kept even as unparsed records (logged; should stay 0) */
  rowsDropped: number;
  /**
   * Since when (epoch ms) rows have been waiting with no commit in between: set when the queue
   * stops being empty, moved to now by every commit, null when nothing waits. GET /api/health
   * reports a writer whose rows have waited longer than WRITER_STALL_MS (writerStall below).
   */
  waitingSince: number | null;
  /** the last write failure's message, and when (epoch ms); null before any */
  lastError: string | null;
  lastErrorAt: number | null;
  samplesWritten: number;
  unparsedWritten: number;
  writeErrors: number;
  /** rows a unique key recognised as already stored (a redelivery, another watcher) and dropped */
  duplicatesDropped: number;
  backpressureEpisodes: number;
  /** receivedAt → committed, of the newest row of the last write, in ms */
  lastLagMs: number;
  lastFlushMs: number;
}

/** One `enqueue` call waiting for its rows to be committed. */
interface Ticket {
  remaining: number;
  onCommitted: () => void;
}

/** Rows of one table and, row by row, the ticket each belongs to (null: nobody waits for it). */
class RowQueue<T> {
  rows: T[] = [];
  tickets: (Ticket | null)[] = [];

  push(rows: T[], ticket: Ticket | null): void {
    for (const row of rows) {
      this.rows.push(row);
      this.tickets.push(ticket);
    }
  }

  take(n: number): { rows: T[]; tickets: (Ticket | null)[] } {
    return { rows: this.rows.splice(0, n), tickets: this.tickets.splice(0, n) };
  }

  putBack(batch: { rows: T[]; tickets: (Ticket | null)[] }): void {
    // concat, not unshift(...rows): a spread of a 10,000-row batch is one call with 10,000 arguments
    this.rows = batch.rows.concat(this.rows);
    this.tickets = batch.tickets.concat(this.tickets);
  }

  get length(): number {
    return this.rows.length;
  }
}

/** Rows of one table taken for a write, with the ticket of each. */
interface Slice<T> {
  rows: T[];
  tickets: (Ticket | null)[];
}

const NONE: Slice<never> = { rows: [], tickets: [] };

/** Postgres SQLSTATE classes that are about a row's values, not the connection or the server. */
const ROW_ERROR_CLASSES = new Set([
  "22", // data exception: out of range, invalid text representation, string too long, …
  "23", // integrity constraint violation (a unique key is handled before it gets here)
  "54", // program limit exceeded: "index row size … exceeds btree version 4 maximum 2704"
]);

/**
 * The reason the database gave when it refused a write for what a row holds, or null when the
 * failure is about anything else (connection lost, server shutting down, a bug): those are
 * retried. Looks through drizzle's wrapper (`cause`) for the SQLSTATE of postgres.js and PGlite.
 * A RangeError is how the binary COPY encoder refuses a value (db/copy-binary.ts).
 */
export function rowErrorOf(err: unknown): string | null {
  for (let e = err, depth = 0; e && typeof e === "object" && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) && ROW_ERROR_CLASSES.has(code.slice(0, 2))) {
      return `the database refused the row (SQLSTATE ${code}): ${(e as Error).message}`;
    }
    if (e instanceof RangeError) return `the row could not be encoded: ${e.message}`;
  }
  return null;
}

/** How long rows may wait with no commit before GET /api/health says the writer is stuck. */
export const WRITER_STALL_MS = 30_000;

/**
 * Why the writer counts as stuck (rows waiting and nothing committed for longer than `stallMs`),
 * or null when it is not. Pure, for /api/health, which reads a writer or its mirror in the web thread.
 */
export function writerStall(
  writer: { readonly stats: Readonly<WriterStats>; readonly queued: number },
  now = Date.now(),
  stallMs = WRITER_STALL_MS,
): { message: string; waitingSeconds: number; queued: number } | null {
  const since = writer.stats.waitingSince;
  if (writer.queued === 0 || since === null || now - since < stallMs) return null;
  const waitingSeconds = Math.round((now - since) / 1000);
  const error = writer.stats.lastError ? `; last error: ${writer.stats.lastError}` : "";
  return {
    message: `the writer has committed nothing for ${waitingSeconds} s with ${writer.queued} rows waiting${error}`,
    waitingSeconds,
    queued: writer.queued,
  };
}

/**
 * The unparsed record kept for an event the database refused: the broker's own line or payload
 * (which holds everything the event was read from), under a topic that says what it was.
 */
function refusedEvent(row: EventRow, reason: string): UnparsedRow {
  return { receivedAt: row.receivedAt, broker: row.broker, topic: REFUSED_EVENT_TOPIC, raw: row.raw, error: reason };
}

/** The unparsed record kept for a sample the database refused: the sample as JSON. */
function refusedSample(row: SampleRow, reason: string): UnparsedRow {
  const raw = JSON.stringify({ metric: row.metric, node: row.node, labels: row.labels, ts: row.ts, value: row.value });
  const receivedAt = Number.isFinite(row.ts.getTime()) ? row.ts : new Date();
  return { receivedAt, broker: row.broker, topic: REFUSED_SAMPLE_TOPIC, raw, error: reason };
}

/** The `topic` of unparsed records that stand for refused rows (docs/contract.md §4). */
export const REFUSED_EVENT_TOPIC = "(refused event)";
export const REFUSED_SAMPLE_TOPIC = "(refused sample)";

/** Repeated failures are logged at most this often (with a count of the ones left out). */
const LOG_EVERY_MS = 10_000;
const BACKOFF_FIRST_MS = 100;
const BACKOFF_MAX_MS = 5_000;
/** What an unparsed record keeps of a refused row when the whole of it cannot be stored either. */
const REJECTED_RAW_FALLBACK_CHARS = 4096;

export class IngestWriter extends EventEmitter<{ full: []; drained: []; written: [{ events: EventRow[] }] }> {
  private readonly events = new RowQueue<EventRow>();
  private readonly samples = new RowQueue<SampleRow>();
  private readonly unparsed = new RowQueue<UnparsedRow>();
  /** tickets in enqueue order; `ackHead` is the first not yet called */
  private ackOrder: Ticket[] = [];
  private ackHead = 0;
  private timer: NodeJS.Timeout | null = null;
  /** writes in flight: two, so Postgres ingests one batch while we send the next */
  private readonly rounds = new Set<Promise<void>>();
  private full = false;
  private readonly recentWrites: { at: number; events: number }[] = [];
  private readonly flushIntervalMs: number;
  private readonly maxQueued: number;
  private readonly batchSize: number;
  private readonly concurrency: number;
  private readonly log: (line: string) => void;
  readonly stats: WriterStats = {
    eventsWritten: 0,
    samplesWritten: 0,
    unparsedWritten: 0,
    rowsRejected: 0,
    rowsDropped: 0,
    waitingSince: null,
    lastError: null,
    lastErrorAt: null,
    writeErrors: 0,
    duplicatesDropped: 0,
    backpressureEpisodes: 0,
    lastLagMs: 0,
    lastFlushMs: 0,
  };

  constructor(
    private readonly database: Database,
    opts: WriterOptions = {},
  ) {
    super();
    this.flushIntervalMs = opts.flushIntervalMs ?? 100;
    this.maxQueued = opts.maxQueued ?? DEFAULT_MAX_QUEUED;
    this.batchSize = opts.batchSize ?? 10_000;
    // PGlite runs one query at a time anyway; Postgres gets two COPYs in flight.
    this.concurrency = database.kind === "postgres" ? 2 : 1;
    this.log = opts.log ?? ((line) => console.log(line));
  }

  /** events written per second over the last 10 s */
  eventsPerSecond(now = Date.now()): number {
    while (this.recentWrites.length && this.recentWrites[0].at < now - 10_000) this.recentWrites.shift();
    return this.recentWrites.reduce((sum, w) => sum + w.events, 0) / 10;
  }

  get queued(): number {
    return this.events.length + this.samples.length + this.unparsed.length;
  }

  get isFull(): boolean {
    return this.full;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), this.flushIntervalMs);
    this.timer.unref();
  }

  /** no write starts on its own before this (epoch ms): the backoff after a failed write */
  private retryAt = 0;
  private backoffMs = 0;

  /** A flush the writer starts by itself (timer, full batch, a message waiting): not during a backoff. */
  private tick(): void {
    if (Date.now() < this.retryAt) return;
    void this.flush();
  }

  /** Log lines of one kind at most once per LOG_EVERY_MS, saying how many were left out. */
  private readonly throttled = new Map<string, { at: number; suppressed: number }>();

  private logThrottled(kind: string, line: string): void {
    const now = Date.now();
    const last = this.throttled.get(kind);
    if (last && now - last.at < LOG_EVERY_MS) {
      last.suppressed++;
      return;
    }
    const more = last?.suppressed ? ` (and ${last.suppressed} more like it in the last ${Math.round((now - last.at) / 1000)} s)` : "";
    this.throttled.set(kind, { at: now, suppressed: 0 });
    this.log(line + more);
  }

  /** messages handed over whose acknowledgement waits for a commit */
  get awaitingCommit(): number {
    return this.ackOrder.length - this.ackHead;
  }

  /**
   * Queue what one message produced. `onCommitted`, when given, is called once these rows and
   * every row enqueued before them are committed; at once when there are none and nothing
   * earlier is waiting. It is never called for rows that were not committed (a crash, or `stop`
   * giving up): the broker then redelivers the message and the unique keys drop what was stored.
   */
  enqueue(
    rows: { events?: EventRow[]; samples?: SampleRow[]; unparsed?: UnparsedRow[] },
    onCommitted?: () => void,
  ): void {
    const count = (rows.events?.length ?? 0) + (rows.samples?.length ?? 0) + (rows.unparsed?.length ?? 0);
    if (count > 0 && this.stats.waitingSince === null) this.stats.waitingSince = Date.now();
    let ticket: Ticket | null = null;
    if (onCommitted) {
      ticket = { remaining: count, onCommitted };
      this.ackOrder.push(ticket);
    }
    if (rows.events?.length) this.events.push(rows.events, ticket);
    if (rows.samples?.length) this.samples.push(rows.samples, ticket);
    if (rows.unparsed?.length) this.unparsed.push(rows.unparsed, ticket);
    if (ticket && count === 0) this.release();
    const queued = this.queued;
    if (!this.full && queued >= this.maxQueued) {
      this.full = true;
      this.stats.backpressureEpisodes++;
      this.log(
        `brokerwatch: write queue full (${queued} rows waiting); pausing collectors until the database catches up`,
      );
      this.emit("full");
    }
    if (queued >= this.batchSize && this.rounds.size < this.concurrency) setImmediate(() => this.tick());
    else if (ticket && count > 0 && this.rounds.size === 0) this.flushSoon();
  }

  private flushScheduled = false;

  /**
   * A broker sends a QoS 1 subscriber only so many unacknowledged messages (Mosquitto's
   * max_inflight_messages, 20 by default), so a message waiting for its acknowledgement is written
   * as soon as no write is in flight rather than at the next tick; while one is, the next batch
   * gathers behind it (group commit).
   */
  private flushSoon(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.tick();
    });
  }

  /** Call, in enqueue order, every ticket whose rows (and all earlier tickets' rows) are committed. */
  private release(): void {
    while (this.ackHead < this.ackOrder.length && this.ackOrder[this.ackHead].remaining === 0) {
      const ticket = this.ackOrder[this.ackHead++];
      try {
        ticket.onCommitted();
      } catch (err) {
        this.log(`brokerwatch: acknowledging a committed message failed: ${(err as Error).message}`);
      }
    }
    if (this.ackHead > 1024 && this.ackHead * 2 > this.ackOrder.length) {
      this.ackOrder = this.ackOrder.slice(this.ackHead);
      this.ackHead = 0;
    }
  }

  private settle(tickets: (Ticket | null)[]): void {
    for (const ticket of tickets) if (ticket) ticket.remaining--;
  }

  /** Write everything queued now (one write at a time); resolves when this round is committed. */
  /**
   * Start a write of what is queued (when a slot is free) and resolve once every write in flight,
   * this one included, is committed. Two writes may overlap: on Postgres each COPY uses its own
   * pooled connection, so the server ingests one batch while the next is being sent.
   */
  async flush(): Promise<void> {
    while (this.rounds.size >= this.concurrency) await Promise.race(this.rounds);
    if (this.queued > 0) {
      const round: Promise<void> = this.writeRound().finally(() => {
        this.rounds.delete(round);
        if (this.queued >= this.batchSize && this.rounds.size < this.concurrency) setImmediate(() => this.tick());
        else if (this.queued > 0 && this.awaitingCommit > 0 && this.rounds.size === 0) this.flushSoon();
      });
      this.rounds.add(round);
    }
    await Promise.all(this.rounds);
  }

  private async writeRound(): Promise<void> {
    // keyed before any split, so the halves of a batch keep the ordinals of the whole (db/ingest.ts)
    const taken = this.events.take(this.batchSize);
    const events: Slice<EventRow> = { rows: withKeys(taken.rows), tickets: taken.tickets };
    const samples = this.samples.take(this.batchSize);
    const unparsed = this.unparsed.take(this.batchSize);
    const started = Date.now();
    // Each insert commits on its own, so a failure puts back only what was not committed yet
    // (re-sending what was would be dropped by the unique keys anyway, but costs a write). Rows
    // the database refuses join this round's unparsed records, their tickets with them: a message
    // is acknowledged once what stands for it is committed.
    const rejected: Slice<UnparsedRow> = { rows: [], tickets: [] };
    const pending = { events: [events], samples: [samples], unparsed: [] as Slice<UnparsedRow>[] };
    try {
      // Events first: they are what an operator asks about; samples are refreshed every second.
      await this.isolating("events", pending.events, insertNewEvents, refusedEvent, rejected, (slice, fresh) => {
        this.stats.duplicatesDropped += slice.rows.length - fresh.length;
        this.committed(slice, NONE, NONE, started, fresh);
      });
      await this.isolating("samples", pending.samples, insertSamples, refusedSample, rejected, (slice, written) => {
        this.stats.duplicatesDropped += slice.rows.length - written;
        this.committed(NONE, slice, NONE, started);
      });
      pending.unparsed.push({
        rows: unparsed.rows.concat(rejected.rows),
        tickets: unparsed.tickets.concat(rejected.tickets),
      });
      rejected.rows = [];
      rejected.tickets = [];
      await this.isolating("unparsed records", pending.unparsed, insertUnparsed, (row) => row, rejected, (slice) =>
        this.committed(NONE, NONE, slice, started),
      );
      if (rejected.rows.length) await this.keepLastResort(rejected, started);
    } catch (err) {
      this.stats.writeErrors++;
      this.stats.waitingSince ??= Date.now();
      const message = (err as Error).message;
      this.stats.lastError = message;
      this.stats.lastErrorAt = Date.now();
      // Put back in front, in order, what was not committed, and try again after the backoff.
      const back = <T>(queue: RowQueue<T>, slices: Slice<T>[], extra: Slice<T> = NONE) =>
        queue.putBack({
          rows: slices.flatMap((x) => x.rows).concat(extra.rows),
          tickets: slices.flatMap((x) => x.tickets).concat(extra.tickets),
        });
      // an unparsed round that had not begun still holds the original records; refused rows waiting for it go back as records
      if (pending.unparsed.length === 0) pending.unparsed.push(unparsed);
      back(this.events, pending.events);
      back(this.samples, pending.samples);
      back(this.unparsed, pending.unparsed, rejected);
      const retrying =
        [pending.events, pending.samples, pending.unparsed].flat().reduce((n, x) => n + x.rows.length, 0) +
        rejected.rows.length;
      this.backoffMs = Math.min(BACKOFF_MAX_MS, this.backoffMs ? this.backoffMs * 2 : BACKOFF_FIRST_MS);
      this.retryAt = Date.now() + this.backoffMs;
      this.logThrottled(
        "write",
        `brokerwatch: writing ${retrying} rows failed, will retry in ${this.backoffMs} ms: ${message}`,
      );
      return;
    }
    this.backoffMs = 0;
    this.retryAt = 0;
  }

  /**
   * Write `pending` (slices of one table, in order) with `insert`, each slice committing on its
   * own. A slice the database refuses for a row's values is halved, again and again, until the
   * refused rows stand alone; each goes to `rejected` as an unparsed record (`asUnparsed`) with the
   * reason. Any other failure is thrown, leaving in `pending` exactly what is not committed.
   */
  private async isolating<T, R>(
    what: string,
    pending: Slice<T>[],
    insert: (database: Database, rows: T[]) => Promise<R>,
    asUnparsed: (row: T, reason: string) => UnparsedRow,
    rejected: Slice<UnparsedRow>,
    onCommitted: (slice: Slice<T>, result: R) => void,
  ): Promise<void> {
    while (pending.length) {
      const slice = pending[0];
      if (slice.rows.length === 0) {
        pending.shift();
        continue;
      }
      let result: R;
      try {
        result = await insert(this.database, slice.rows);
      } catch (err) {
        const reason = rowErrorOf(err);
        if (reason === null) throw err;
        pending.shift();
        if (slice.rows.length === 1) {
          this.stats.rowsRejected++;
          const record = asUnparsed(slice.rows[0], reason);
          rejected.rows.push(record);
          rejected.tickets.push(slice.tickets[0]);
          this.logThrottled(
            `rejected ${what}`,
            `brokerwatch: the database refused one of ${record.broker}'s ${what}; kept as an unparsed record: ${reason}`,
          );
        } else {
          const half = Math.ceil(slice.rows.length / 2);
          pending.unshift(
            { rows: slice.rows.slice(0, half), tickets: slice.tickets.slice(0, half) },
            { rows: slice.rows.slice(half), tickets: slice.tickets.slice(half) },
          );
        }
        continue;
      }
      pending.shift();
      onCommitted(slice, result);
    }
  }

  /**
   * Unparsed records the database refused too (whatever made the row fail is in its raw text, or
   * the record is itself a refused row): kept cut to their first characters, and dropped, with a
   * log line, only if even that is refused. Their messages are acknowledged either way: a
   * redelivery would fail the same way forever.
   */
  private async keepLastResort(rejected: Slice<UnparsedRow>, started: number): Promise<void> {
    // taken off `rejected` as each is settled, so a failure here puts back only the rest
    while (rejected.rows.length) {
      const row = rejected.rows[0];
      const cut: UnparsedRow = {
        receivedAt: row.receivedAt,
        broker: row.broker.slice(0, 200),
        topic: row.topic.slice(0, 200),
        raw: row.raw.slice(0, REJECTED_RAW_FALLBACK_CHARS),
        error: `${row.error.slice(0, 1000)} (raw cut to its first ${REJECTED_RAW_FALLBACK_CHARS} characters: the whole was refused too)`,
      };
      let kept = true;
      try {
        await insertUnparsed(this.database, [cut]);
      } catch (err) {
        if (rowErrorOf(err) === null) throw err;
        kept = false;
        this.stats.rowsDropped++;
        this.logThrottled(
          "dropped",
          `brokerwatch: dropped a row of ${cut.broker} the database refused even cut short: ${(err as Error).message}`,
        );
      }
      rejected.rows.shift();
      const ticket = rejected.tickets.shift()!;
      this.committed(NONE, NONE, { rows: kept ? [cut] : [], tickets: [ticket] }, started);
    }
  }

  private committed(
    events: { rows: EventRow[]; tickets: (Ticket | null)[] },
    samples: { rows: SampleRow[]; tickets: (Ticket | null)[] },
    unparsed: { rows: UnparsedRow[]; tickets: (Ticket | null)[] },
    started: number,
    /** the events that were new: copies another watcher stored first are not announced again */
    newEvents: EventRow[] = [],
  ): void {
    if (events.tickets.length + samples.tickets.length + unparsed.tickets.length === 0) return;
    this.stats.waitingSince = this.queued > 0 ? Date.now() : null;
    this.settle(events.tickets);
    this.settle(samples.tickets);
    this.settle(unparsed.tickets);
    this.release();
    const now = Date.now();
    this.stats.lastFlushMs = now - started;
    this.stats.eventsWritten += events.rows.length;
    if (events.rows.length) this.recentWrites.push({ at: now, events: events.rows.length });
    this.stats.samplesWritten += samples.rows.length;
    this.stats.unparsedWritten += unparsed.rows.length;
    const newest = events.rows.at(-1)?.receivedAt ?? samples.rows.at(-1)?.ts;
    if (newest) this.stats.lastLagMs = now - newest.getTime();
    if (newEvents.length) this.emit("written", { events: newEvents });
    if (this.full && this.queued <= this.maxQueued / 2) {
      this.full = false;
      this.log(`brokerwatch: write queue drained (${this.queued} rows waiting); resuming collectors`);
      this.emit("drained");
    }
  }

  /** Stop the loop and write what is left (bounded by `timeoutMs`). */
  async stop(timeoutMs = 3000): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const deadline = Date.now() + timeoutMs;
    while (this.queued > 0 && Date.now() < deadline) {
      const before = this.stats.writeErrors;
      await this.flush();
      if (this.stats.writeErrors > before) await new Promise((r) => setTimeout(r, 100));
    }
    await Promise.all(this.rounds);
  }
}
