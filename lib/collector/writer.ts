import { EventEmitter } from "node:events";
import type { Database } from "@/db/client";
import {
  insertEvents,
  insertSamples,
  insertUnparsed,
  type EventRow,
  type SampleRow,
  type UnparsedRow,
} from "@/db/ingest";

/**
 * Batched writes off the MQTT receive path. The collector hands over what a message produced
 * and returns at once; a loop writes everything queued every 100 ms (sooner when a
 * full batch is waiting). The queue is bounded by backpressure, not by dropping: past
 * `maxQueued` rows the writer says "full" and the collectors stop reading their sockets (the
 * brokers keep the messages in the collectors' persistent sessions) until it has drained to half.
 * A failed write keeps its rows and is retried, so a database blip loses nothing.
 */
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
  backpressureEpisodes: number;
  /** receivedAt → committed, of the newest row of the last write, in ms */
  lastLagMs: number;
  lastFlushMs: number;
}

export class IngestWriter extends EventEmitter<{ full: []; drained: []; written: [{ events: EventRow[] }] }> {
  private events: EventRow[] = [];
  private samples: SampleRow[] = [];
  private unparsed: UnparsedRow[] = [];
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
    this.maxQueued = opts.maxQueued ?? 200_000;
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

  enqueue(rows: { events?: EventRow[]; samples?: SampleRow[]; unparsed?: UnparsedRow[] }): void {
    if (rows.events?.length) this.events.push(...rows.events);
    if (rows.samples?.length) this.samples.push(...rows.samples);
    if (rows.unparsed?.length) this.unparsed.push(...rows.unparsed);
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
      });
      this.rounds.add(round);
    }
    await Promise.all(this.rounds);
  }

  private async writeRound(): Promise<void> {
    const events = this.events.splice(0, this.batchSize);
    const samples = this.samples.splice(0, this.batchSize);
    const unparsed = this.unparsed.splice(0, this.batchSize);
    const started = Date.now();
    // Each insert commits on its own, so a failure puts back only what was not committed yet:
    // re-sending events that were written before the samples failed would duplicate them.
    let committed: "nothing" | "events" | "samples" = "nothing";
    try {
      // Events first: they are what an operator asks about; samples are refreshed every second.
      await insertEvents(this.database, events);
      committed = "events";
      await insertSamples(this.database, samples);
      committed = "samples";
      await insertUnparsed(this.database, unparsed);
    } catch (err) {
      this.stats.writeErrors++;
      // Put them back in front, in order, and try again next tick.
      const retry = {
        events: committed === "nothing" ? events : [],
        samples: committed === "samples" ? [] : samples,
        unparsed,
      };
      this.events.unshift(...retry.events);
      this.samples.unshift(...retry.samples);
      this.unparsed.unshift(...retry.unparsed);
      this.log(
        `brokerwatch: writing ${retry.events.length + retry.samples.length + retry.unparsed.length} rows failed, will retry: ${(err as Error).message}`,
      );
      this.committed(committed === "nothing" ? [] : events, committed === "samples" ? samples : [], [], started);
      return;
    }
    this.committed(events, samples, unparsed, started);
  }

  private committed(events: EventRow[], samples: SampleRow[], unparsed: UnparsedRow[], started: number): void {
    if (events.length + samples.length + unparsed.length === 0) return;
    const now = Date.now();
    this.stats.lastFlushMs = now - started;
    this.stats.eventsWritten += events.length;
    if (events.length) this.recentWrites.push({ at: now, events: events.length });
    this.stats.samplesWritten += samples.length;
    this.stats.unparsedWritten += unparsed.length;
    const newest = events.at(-1)?.receivedAt ?? samples.at(-1)?.ts;
    if (newest) this.stats.lastLagMs = now - newest.getTime();
    if (events.length) this.emit("written", { events });
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
