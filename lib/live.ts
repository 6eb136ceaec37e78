import { EventEmitter } from "node:events";
import { z } from "zod";
import type { Database } from "@/db/client";
import type { EventRow } from "@/db/ingest";
import type { IngestWriter } from "./collector/writer";
import type { WriterView } from "./runtime";

/**
 * Server-sent events for the live pages, so every stream behaves the same way: `text/event-stream`
 * that no proxy buffers, a `retry:` hint for EventSource, a comment heartbeat that keeps idle
 * connections (and the proxies between) from timing out, and one cleanup path whether the browser
 * went away (`request.signal`), the stream was cancelled, or the server closed it.
 */
export interface SseChannel {
  /** One `event: <name>` whose data is `data` as JSON (JSON never contains a raw newline). */
  send(event: string, data: unknown): void;
  comment(text: string): void;
  /** aborted when the client went away */
  readonly signal: AbortSignal;
  /** End the stream from the server side; EventSource reconnects after `retry`. */
  close(): void;
}

/** Set up the stream; the returned function runs once when it ends (unsubscribe, clear timers). */
export type SseStart = (channel: SseChannel) => void | (() => void) | Promise<void | (() => void)>;

export interface SseOptions {
  heartbeatMs?: number;
  /** what EventSource waits before reconnecting */
  retryMs?: number;
  /**
   * Bytes queued for a client that is not reading before the stream is dropped. A stalled tab must
   * not grow the server's memory; its EventSource reconnects and starts over from a fresh snapshot.
   */
  maxQueuedBytes?: number;
  /** runs once when the stream ends, however it ends (frees the caller's stream slot) */
  onEnd?: () => void;
}

const DEFAULT_HEARTBEAT_MS = 15_000;

export function sseResponse(request: Request, start: SseStart, opts: SseOptions = {}): Response {
  const encoder = new TextEncoder();
  const maxQueued = opts.maxQueuedBytes ?? 1_000_000;
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let cleanup: (() => void) | void = undefined;
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  let ended = false;

  const end = () => {
    if (ended) return;
    ended = true;
    opts.onEnd?.();
    if (heartbeat) clearInterval(heartbeat);
    request.signal.removeEventListener("abort", end);
    try {
      cleanup?.();
    } catch (err) {
      console.error("brokerwatch: closing an event stream:", err);
    }
    try {
      controller.close();
    } catch {
      // already closed or errored by the runtime
    }
  };

  const write = (chunk: string) => {
    if (ended) return;
    if (controller.desiredSize !== null && controller.desiredSize < -maxQueued) return end();
    try {
      controller.enqueue(encoder.encode(chunk));
    } catch {
      end();
    }
  };

  const channel: SseChannel = {
    send: (event, data) => write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`),
    comment: (text) => write(`: ${text.replace(/[\r\n]+/g, " ")}\n\n`),
    signal: request.signal,
    close: end,
  };

  const stream = new ReadableStream<Uint8Array>(
    {
      async start(c) {
        controller = c;
        write(`retry: ${opts.retryMs ?? 2000}\n\n`);
        if (request.signal.aborted) return end();
        request.signal.addEventListener("abort", end);
        heartbeat = setInterval(() => channel.comment("heartbeat"), opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS);
        try {
          const done = await start(channel);
          if (ended) done?.();
          else cleanup = done;
        } catch (err) {
          console.error("brokerwatch: starting an event stream failed:", err);
          end();
        }
      },
      cancel() {
        end();
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark: 64 * 1024 }),
  );

  return new Response(stream, {
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      // no-transform: a compressing proxy would otherwise hold events back to fill its buffer
      "cache-control": "no-cache, no-transform",
      "x-accel-buffering": "no",
    },
  });
}

/**
 * A value computed on an interval while anyone listens, shared by every listener: ten people
 * watching the overview cost one database round trip a second, not ten. A new listener gets the
 * latest value at once when it is fresh, else the next one. Sources are kept on globalThis by
 * name, like the runtime: Next bundles each route separately, and two routes streaming the same
 * thing should share one source, not run one each.
 */
export interface LiveSource<T> {
  subscribe(listener: (value: T) => void): () => void;
}

const SOURCES = Symbol.for("brokerwatch.liveSources");
type SourceHolder = { [SOURCES]?: Map<string, LiveSource<unknown>> };

export function sharedLiveSource<T>(name: string, produce: () => Promise<T>, intervalMs: number): LiveSource<T> {
  const holder = globalThis as SourceHolder;
  const sources = (holder[SOURCES] ??= new Map());
  let source = sources.get(name) as LiveSource<T> | undefined;
  if (!source) sources.set(name, (source = liveSource(produce, intervalMs)));
  return source;
}

export function liveSource<T>(
  produce: () => Promise<T>,
  intervalMs: number,
  log: (line: string) => void = console.error,
): LiveSource<T> {
  const listeners = new Set<(value: T) => void>();
  let timer: ReturnType<typeof setInterval> | null = null;
  let latest: { value: T; at: number } | null = null;
  let producing = false;
  let lastError: string | null = null;

  const tick = async () => {
    if (producing) return;
    producing = true;
    try {
      const value = await produce();
      latest = { value, at: Date.now() };
      lastError = null;
      for (const listener of [...listeners]) listener(value);
    } catch (err) {
      // once per distinct failure, not every second while the database is away
      const message = (err as Error).message;
      if (message !== lastError) log(`brokerwatch: live update failed: ${message}`);
      lastError = message;
    } finally {
      producing = false;
    }
  };

  return {
    subscribe(listener) {
      listeners.add(listener);
      if (latest && Date.now() - latest.at < intervalMs) {
        const { value } = latest;
        queueMicrotask(() => listeners.has(listener) && listener(value));
      } else {
        void tick();
      }
      if (!timer) timer = setInterval(() => void tick(), intervalMs);
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0 && timer) {
          clearInterval(timer);
          timer = null;
          latest = null;
        }
      };
    },
  };
}

/**
 * Connection events as they are committed, for the live event streams: those this instance's
 * writer committed, and (on Postgres) those other instances committed, which arrive through
 * shareCommittedEvents. One listener on each source fans out to every stream (an EventEmitter
 * warns past ten listeners, and there may be more tabs).
 */
interface FanOut {
  listeners: Set<(events: EventRow[]) => void>;
  detach: () => void;
}
const fanOuts = new WeakMap<WriterView, FanOut>();

export function onCommittedEvents(writer: WriterView, listener: (events: EventRow[]) => void): () => void {
  let fan = fanOuts.get(writer);
  if (!fan) {
    const listeners = new Set<(events: EventRow[]) => void>();
    const fanOut = (events: EventRow[]) => {
      for (const l of listeners) {
        try {
          l(events);
        } catch (err) {
          console.error("brokerwatch: an event stream listener failed:", err);
        }
      }
    };
    const onWritten = ({ events }: { events: EventRow[] }) => fanOut(events);
    writer.on("written", onWritten);
    remoteEvents().on("events", fanOut);
    setWatched(writer, true);
    const detach = () => {
      writer.off("written", onWritten);
      remoteEvents().off("events", fanOut);
      setWatched(writer, false);
    };
    fanOuts.set(writer, (fan = { listeners, detach }));
  }
  const own = fan;
  own.listeners.add(listener);
  return () => {
    own.listeners.delete(listener);
    // The last stream gone: stop listening, so a writer in a worker thread (server/ingest-thread.ts)
    // stops sending its batches over while nobody watches them.
    if (own.listeners.size === 0 && fanOuts.get(writer) === own) {
      fanOuts.delete(writer);
      own.detach();
    }
  };
}

/**
 * Events other instances committed. Kept on globalThis, like the runtime: the service subscribes
 * from its own copy of this module and each route from the copy Next bundled with it.
 */
const REMOTE = Symbol.for("brokerwatch.remoteEvents");
type RemoteHolder = { [REMOTE]?: EventEmitter<{ events: [EventRow[]] }> };

function remoteEvents(): EventEmitter<{ events: [EventRow[]] }> {
  const holder = globalThis as RemoteHolder;
  if (!holder[REMOTE]) {
    holder[REMOTE] = new EventEmitter();
    holder[REMOTE].setMaxListeners(0);
  }
  return holder[REMOTE];
}

/**
 * Which writers have live streams on them in this thread (onCommittedEvents), and a signal when
 * that changes: shareCommittedEvents tells the other instances, which send their committed events
 * only while some instance has a stream open. On globalThis, like REMOTE: in the inline mode the
 * routes call onCommittedEvents from Next's copy of this module, the service shares from its own.
 */
const WATCHED = Symbol.for("brokerwatch.watchedWriters");
interface Watched {
  writers: WeakSet<object>;
  changes: EventEmitter<{ change: [object] }>;
}
type WatchedHolder = { [WATCHED]?: Watched };

function watched(): Watched {
  const holder = globalThis as WatchedHolder;
  if (!holder[WATCHED]) {
    const changes = new EventEmitter<{ change: [object] }>();
    changes.setMaxListeners(0);
    holder[WATCHED] = { writers: new WeakSet(), changes };
  }
  return holder[WATCHED];
}

function setWatched(writer: object, on: boolean): void {
  const { writers, changes } = watched();
  if (on === writers.has(writer)) return;
  if (on) writers.add(writer);
  else writers.delete(writer);
  changes.emit("change", writer);
}

/** Whether a live event stream of this thread listens to `writer`'s committed events. */
function hasLiveStreams(writer: object): boolean {
  return watched().writers.has(writer);
}

export const EVENTS_CHANNEL = "brokerwatch_events";
/**
 * Demand for live events between instances: `{from, ttlMs, ask?}`. An instance with live streams
 * open says so when the first opens and every DEMAND_TTL_MS / 3 after; `ttlMs: 0` withdraws;
 * `ask` (at start) asks the others to say whether they have streams open.
 */
export const DEMAND_CHANNEL = "brokerwatch_live_demand";
const DEMAND_TTL_MS = 30_000;
const DemandMessage = z.object({
  from: z.string().min(1).max(200),
  ttlMs: z.number().int().min(0).max(5 * 60_000),
  ask: z.boolean().optional(),
});
/** Postgres refuses a NOTIFY payload of 8000 bytes or more; stay clear of it. */
const NOTIFY_MAX_BYTES = 7500;

interface EventsMessage {
  from: string;
  events: (Omit<EventRow, "ts" | "receivedAt"> & { ts: string; receivedAt: string })[];
}

/**
 * Shares committed events between the instances on one Postgres with LISTEN/NOTIFY: while another
 * instance has a live event stream open (DEMAND_CHANNEL), each batch the writer commits is sent to
 * the others in payloads under the 8000-byte limit (the raw log line stays out: the live pages do
 * not show it, and it could make one event too big). An instance ignores its own messages; its
 * streams already had those events from its writer. With nobody watching nothing is sent: at
 * 50,000 events/s the JSON and the NOTIFYs were a third of the service's CPU (README, "Ingest
 * throughput"). PGlite is a single process: nothing to share. Returns a function that stops sharing.
 */
export async function shareCommittedEvents(
  database: Database,
  writer: IngestWriter,
  instance: string,
  log: (line: string) => void = console.error,
): Promise<() => Promise<void>> {
  const sql = database.postgres;
  if (!sql) return async () => {};
  // Every instance hears its own notifications too: at tens of thousands of events a second,
  // parsing them only to drop them was a sizeable share of the ingest path's CPU.
  const own = `{"from":${JSON.stringify(instance)},`;
  const subscription = await sql.listen(EVENTS_CHANNEL, (payload) => {
    if (payload.startsWith(own)) return;
    let message: EventsMessage;
    try {
      message = JSON.parse(payload) as EventsMessage;
    } catch {
      return;
    }
    if (message.from === instance || !Array.isArray(message.events)) return;
    const events = message.events.map((e) => ({ ...e, ts: new Date(e.ts), receivedAt: new Date(e.receivedAt) }));
    if (events.length) remoteEvents().emit("events", events);
  });
  let sending = Promise.resolve();
  let failure: string | null = null;
  const note = (err: Error) => {
    // once per distinct failure; the events are stored, a page reload shows them
    if (err.message !== failure) log(`brokerwatch: sharing live events failed: ${err.message}`);
    failure = err.message;
  };

  // Which other instances have live streams open, until when (this clock).
  const wantedUntil = new Map<string, number>();
  const othersWatch = () => {
    const now = Date.now();
    for (const [name, until] of wantedUntil) {
      if (until > now) return true;
      wantedUntil.delete(name);
    }
    return false;
  };
  const announce = (ask = false) =>
    sql
      .notify(
        DEMAND_CHANNEL,
        JSON.stringify({ from: instance, ttlMs: hasLiveStreams(writer) ? DEMAND_TTL_MS : 0, ...(ask && { ask }) }),
      )
      .catch(note);
  const demand = await sql.listen(DEMAND_CHANNEL, (payload) => {
    let parsed: ReturnType<typeof DemandMessage.safeParse>;
    try {
      parsed = DemandMessage.safeParse(JSON.parse(payload));
    } catch {
      return;
    }
    if (!parsed.success || parsed.data.from === instance) return;
    const { from, ttlMs, ask } = parsed.data;
    if (ttlMs > 0) wantedUntil.set(from, Date.now() + ttlMs);
    else wantedUntil.delete(from);
    if (ask && hasLiveStreams(writer)) void announce();
  });
  const onWatchedChange = (changed: object) => {
    if (changed === writer) void announce();
  };
  watched().changes.on("change", onWatchedChange);
  const refresh = setInterval(() => {
    if (hasLiveStreams(writer)) void announce();
  }, DEMAND_TTL_MS / 3);
  refresh.unref();
  await announce(true);

  const onWritten = ({ events }: { events: EventRow[] }) => {
    if (!othersWatch()) return;
    const payloads = eventPayloads(instance, events);
    sending = sending
      .then(async () => {
        for (const payload of payloads) await sql.notify(EVENTS_CHANNEL, payload);
        failure = null;
      })
      .catch(note);
  };
  writer.on("written", onWritten);
  return async () => {
    writer.off("written", onWritten);
    watched().changes.off("change", onWatchedChange);
    clearInterval(refresh);
    if (hasLiveStreams(writer)) {
      await sql.notify(DEMAND_CHANNEL, JSON.stringify({ from: instance, ttlMs: 0 })).catch(() => {});
    }
    await sending;
    await subscription.unlisten().catch(() => {});
    await demand.unlisten().catch(() => {});
  };
}

/** JSON messages of at most NOTIFY_MAX_BYTES, in order; an event too big on its own is left out. */
export function eventPayloads(from: string, events: EventRow[]): string[] {
  const head = JSON.stringify({ from, events: [] }).length;
  const out: string[] = [];
  let batch: string[] = [];
  let bytes = head;
  const flush = () => {
    if (batch.length) out.push(`{"from":${JSON.stringify(from)},"events":[${batch.join(",")}]}`);
    batch = [];
    bytes = head;
  };
  for (const e of events) {
    const json = JSON.stringify({ ...e, raw: "" });
    const size = Buffer.byteLength(json) + 1;
    if (head + size > NOTIFY_MAX_BYTES) continue;
    if (bytes + size > NOTIFY_MAX_BYTES) flush();
    batch.push(json);
    bytes += size;
  }
  flush();
  return out;
}
