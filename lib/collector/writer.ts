import { EventEmitter } from "node:events";
import type { Database } from "@/db/client";
import {
  insertNewEvents,
  insertSamples,
  insertUnparsed,
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
    this.rows.unshift(...batch.rows);
    this.tickets.unshift(...batch.tickets);
  }

  get length(): number {
    return this.rows.length;
  }
}

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
    this.timer = setInterval(() => void this.flush(), this.flushIntervalMs);
    this.timer.unref();
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
    if (queued >= this.batchSize && this.rounds.size < this.concurrency) setImmediate(() => void this.flush());
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
      void this.flush();
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
        if (this.queued >= this.batchSize && this.rounds.size < this.concurrency) setImmediate(() => void this.flush());
        else if (this.queued > 0 && this.awaitingCommit > 0 && this.rounds.size === 0) this.flushSoon();
      });
      this.rounds.add(round);
    }
    await Promise.all(this.rounds);
  }

  private async writeRound(): Promise<void> {
    const events = this.events.take(this.batchSize);
    const samples = this.samples.take(this.batchSize);
    const unparsed = this.unparsed.take(this.batchSize);
    const started = Date.now();
    // Each insert commits on its own, so a failure puts back only what was not committed yet
    // (re-sending what was would be dropped by the unique keys anyway, but costs a write).
    let committed: "nothing" | "events" | "samples" = "nothing";
    let fresh = 0;
    let newEvents: EventRow[] = [];
    try {
      // Events first: they are what an operator asks about; samples are refreshed every second.
      newEvents = await insertNewEvents(this.database, events.rows);
      fresh += newEvents.length;
      committed = "events";
      fresh += await insertSamples(this.database, samples.rows);
      committed = "samples";
      fresh += await insertUnparsed(this.database, unparsed.rows);
    } catch (err) {
      this.stats.writeErrors++;
      // Put them back in front, in order, and try again next tick.
      if (committed === "nothing") this.events.putBack(events);
      if (committed !== "samples") this.samples.putBack(samples);
      this.unparsed.putBack(unparsed);
      const retrying =
        (committed === "nothing" ? events.rows.length : 0) +
        (committed === "samples" ? 0 : samples.rows.length) +
        unparsed.rows.length;
      this.log(`brokerwatch: writing ${retrying} rows failed, will retry: ${(err as Error).message}`);
      const none = { rows: [], tickets: [] };
      this.committed(
        committed === "nothing" ? none : events,
        committed === "samples" ? samples : none,
        none,
        started,
        newEvents,
      );
      return;
    }
    this.stats.duplicatesDropped +=
      events.rows.length + samples.rows.length + unparsed.rows.length - fresh;
    this.committed(events, samples, unparsed, started, newEvents);
  }

  private committed(
    events: { rows: EventRow[]; tickets: (Ticket | null)[] },
    samples: { rows: SampleRow[]; tickets: (Ticket | null)[] },
    unparsed: { rows: UnparsedRow[]; tickets: (Ticket | null)[] },
    started: number,
    /** the events that were new: copies another watcher stored first are not announced again */
    newEvents: EventRow[] = [],
  ): void {
    if (events.rows.length + samples.rows.length + unparsed.rows.length === 0) return;
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
