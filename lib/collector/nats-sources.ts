import { connect, type NatsConnection } from "nats";
import { checkLiteralHost, egressLookup } from "../egress";
import { NATS_CONNZ_CLOSED, NATS_CONNZ_OPEN, NATS_HEALTHZ, NATS_JSZ, NATS_SYSTEM_SUBJECTS, NATS_VARZ } from "./nats";
import type { Backoff } from "./sources";
import { httpGet, type Source, type SourceSink } from "./source";

/**
 * The two transports of a NATS server (docs/brokers.md, NATS), transport only: what they read goes
 * to the nats dialect (nats.ts) as it came, but for the `jwt` fields, removed on arrival (they carry
 * the MQTT password on 2.9–2.12.5), so no later step can store or log them.
 */

const TIMEOUT_MS = 5_000;
/** a full closed ring is ~6 MB of JSON; one page of 1,024 entries ~0.6 MB */
const MAX_BYTES = 32 * 1024 * 1024;
const PAGE = 1024;
/** The ring of closed connections holds 10,000 (nats-server DEFAULT_MAX_CLOSED_CLIENTS): 10 pages read it all. */
const MAX_CLOSED_PAGES = 10;
/** Open connections read per poll at most (newest first): 100 pages. */
const MAX_OPEN_PAGES = 100;

/** Parse, drop every `jwt` / `issuer_key`, serialise again. */
export function withoutJwt(body: Uint8Array): { json: unknown; bytes: Uint8Array } {
  const json: unknown = JSON.parse(Buffer.from(body).toString("utf8"), (key, value: unknown) =>
    key === "jwt" || key === "issuer_key" ? undefined : value,
  );
  return { json, bytes: Buffer.from(JSON.stringify(json)) };
}

interface ConnzPage {
  server_id?: string;
  total?: number;
  connections?: { cid?: number; start?: string; stop?: string }[];
}

/** Where the last read of the closed ring ended: the newest stop, and the connections closed at it. */
interface ClosedCursor {
  serverId: string;
  stopMs: number;
  stop: string;
  cids: Set<number>;
}

/**
 * `monitorUrl`: the HTTP monitoring port, every interval. `/healthz` is the heartbeat; `/varz` and
 * `/jsz` the metrics; `/connz?state=open` (newest first, down to the newest start already read)
 * the connects; `/connz?state=closed` (newest first by stop, down to the cursor) the ends with
 * their reasons.
 *
 * The closed ring holds the last 10,000 closed connections, MQTT and NATS alike. Each poll reads
 * it down to where the last one ended (the cursor, moved on only once those events are committed).
 * When the cursor's connection is no longer in the ring, the ring wrapped between two polls: the
 * closes between the cursor and the oldest entry left are lost, and this says so as a gap ("events
 * may be missing") rather than pretending the history is whole.
 */
export class NatsMonitorSource implements Source {
  readonly name = "monitor";
  readonly liveness = "poll" as const;
  private timer: NodeJS.Timeout | null = null;
  private sink: SourceSink | null = null;
  private paused = false;
  private stopped = false;
  private polling: Promise<void> | null = null;
  private again: Promise<void> | null = null;
  private closedCursor: ClosedCursor | null = null;
  private newestOpenStart: { serverId: string; startMs: number } | null = null;

  constructor(
    private readonly monitorUrl: string,
    private readonly intervalMs: number,
  ) {}

  start(sink: SourceSink): void {
    this.sink = sink;
    this.stopped = false;
    void this.pollNow();
    this.timer = setInterval(() => void this.pollNow(), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.polling?.catch(() => {});
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  /**
   * Poll now (after the system account reconnected: backfill what it missed). One poll at a time:
   * asked during one, another follows it. Resolves when a poll that started after the call is done.
   */
  pollNow(): Promise<void> {
    if (this.stopped || this.paused) return Promise.resolve();
    if (this.polling) {
      this.again ??= this.polling.then(() => {
        this.again = null;
        return this.pollNow();
      });
      return this.again;
    }
    this.polling = this.poll().finally(() => (this.polling = null));
    return this.polling;
  }

  private url(path: string): string {
    return this.monitorUrl.replace(/\/+$/, "") + path;
  }

  private async get(path: string, acceptStatus?: (status: number) => boolean): Promise<{ json: unknown; bytes: Uint8Array }> {
    return withoutJwt(await httpGet(this.url(path), { timeoutMs: TIMEOUT_MS, maxBytes: MAX_BYTES, acceptStatus }));
  }

  private async poll(): Promise<void> {
    const sink = this.sink;
    if (!sink) return;
    try {
      // /healthz answers 503 with a JSON reason when the server is unhealthy: the dialect says why
      const health = await this.get("/healthz", (status) => status === 503);
      if (this.stopped) return;
      const out = sink.record({ topic: NATS_HEALTHZ, payload: health.bytes, brokerTs: null, receivedAt: new Date() });
      if (!out.heartbeat) {
        sink.failed(this.name, `${this.url("/healthz")}: ${out.unparsed[0]?.error ?? "not ok"}`);
        return;
      }
      sink.beat(this.name);
      for (const [path, topic] of [
        ["/varz", NATS_VARZ],
        ["/jsz?accounts=true&streams=true", NATS_JSZ],
      ] as const) {
        const { bytes } = await this.get(path);
        if (this.stopped) return;
        sink.record({ topic, payload: bytes, brokerTs: null, receivedAt: new Date() });
      }
      await this.readOpen(sink);
      await this.readClosed(sink);
    } catch (err) {
      if (!this.stopped) sink.failed(this.name, `${this.monitorUrl} failed: ${(err as Error).message}`);
    }
  }

  private async readOpen(sink: SourceSink): Promise<void> {
    let newest: { serverId: string; startMs: number } | null = null;
    for (let page = 0; page < MAX_OPEN_PAGES; page++) {
      const { json, bytes } = await this.get(`/connz?state=open&auth=true&sort=start&limit=${PAGE}&offset=${page * PAGE}`);
      if (this.stopped) return;
      const body = json as ConnzPage;
      const entries = body.connections ?? [];
      const serverId = body.server_id ?? "";
      sink.record({ topic: NATS_CONNZ_OPEN, payload: bytes, brokerTs: null, receivedAt: new Date() });
      const starts = entries.map((e) => Date.parse(e.start ?? "")).filter(Number.isFinite);
      if (page === 0 && starts.length) newest = { serverId, startMs: Math.max(...starts) };
      const known = this.newestOpenStart;
      const reachedKnown = known !== null && known.serverId === serverId && starts.some((s) => s <= known.startMs);
      if (reachedKnown || entries.length < PAGE) break;
    }
    if (newest) this.newestOpenStart = newest;
  }

  private async readClosed(sink: SourceSink): Promise<void> {
    const cursor = this.closedCursor;
    let next: ClosedCursor | null = null;
    let reachedCursor = false;
    let oldest: { stop: string; stopMs: number } | null = null;
    let serverId = "";
    let exhausted = false;
    for (let page = 0; page < MAX_CLOSED_PAGES; page++) {
      const { json, bytes } = await this.get(`/connz?state=closed&auth=true&sort=stop&limit=${PAGE}&offset=${page * PAGE}`);
      if (this.stopped) return;
      const body = json as ConnzPage;
      serverId = body.server_id ?? "";
      const entries = (body.connections ?? []).filter((e) => typeof e.stop === "string" && typeof e.cid === "number");
      const sameServer = cursor !== null && cursor.serverId === serverId;
      for (const e of entries) {
        const stopMs = Date.parse(e.stop!);
        if (next === null) next = { serverId, stopMs, stop: e.stop!, cids: new Set() };
        if (stopMs === next.stopMs) next.cids.add(e.cid!);
        if (sameServer && (stopMs < cursor.stopMs || (stopMs === cursor.stopMs && cursor.cids.has(e.cid!)))) reachedCursor = true;
        oldest = { stop: e.stop!, stopMs };
      }
      const isLast = reachedCursor || entries.length < PAGE || (body.total ?? 0) <= (page + 1) * PAGE;
      const moveTo = isLast ? next : null;
      sink.record({
        topic: NATS_CONNZ_CLOSED,
        payload: bytes,
        brokerTs: null,
        receivedAt: new Date(),
        // the cursor moves on only once this page's events (and every earlier one's) are committed
        ack: moveTo ? () => (this.closedCursor = moveTo) : undefined,
      });
      if (isLast) {
        exhausted = !reachedCursor;
        break;
      }
    }
    if (cursor && cursor.serverId === serverId && exhausted && !reachedCursor && oldest && oldest.stopMs > cursor.stopMs) {
      sink.gap(
        new Date(cursor.stopMs),
        new Date(oldest.stopMs),
        `the NATS closed-connection ring (the last 10,000 closes) wrapped between two polls: disconnects between ${cursor.stop} and ${oldest.stop} may be missing`,
      );
    }
  }
}

export interface NatsSystemCredentials {
  username: string | null;
  password: string | null;
  /** the broker's `url`: the stored password goes only to its host (lib/crypto.ts) */
  boundTo: string;
}

/**
 * `natsUrl` with a system-account user: the server's pushed connect, disconnect, auth-error and
 * shutdown messages, as they happen. They are at most once (core NATS): whatever was published
 * while this connection was down is backfilled from the monitoring port's ring (`onReconnect`).
 * Not counted for liveness: losing it costs push, not sight of the broker.
 */
export class NatsSystemSource implements Source {
  readonly name = "system account";
  readonly liveness = "none" as const;
  private nc: NatsConnection | null = null;
  private stopped = false;
  private attempts = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private sink: SourceSink | null = null;

  constructor(
    private readonly natsUrl: string,
    private readonly credentials: NatsSystemCredentials,
    private readonly backoff: Backoff,
    private readonly onReconnect: () => void,
    private readonly log: (line: string) => void,
  ) {}

  start(sink: SourceSink): void {
    this.sink = sink;
    this.stopped = false;
    void this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const nc = this.nc;
    this.nc = null;
    await nc?.close().catch(() => {});
  }

  private async connect(): Promise<void> {
    const sink = this.sink;
    if (this.stopped || !sink) return;
    const url = new URL(this.natsUrl);
    const { username, password, boundTo } = this.credentials;
    let pass: string | undefined;
    // The stored password is bound to the broker's `url` (lib/crypto.ts): only to that host.
    if (password && url.hostname.toLowerCase() === new URL(boundTo).hostname.toLowerCase()) pass = password;
    else if (password) this.log(`NATS: not sending the password to ${url.hostname}, which is not the host of url (${boundTo})`);
    try {
      // BROKERWATCH_EGRESS: the nats client dials by itself, so the host is checked here, by name
      // and by the addresses it resolves to (lib/egress.ts)
      checkLiteralHost(url.hostname);
      await new Promise<void>((resolve, reject) =>
        egressLookup(url.hostname.replace(/^\[(.*)\]$/, "$1"), {}, (err) => (err ? reject(err) : resolve())),
      );
      const nc = await connect({
        servers: this.natsUrl,
        user: username ?? undefined,
        pass,
        name: "brokerwatch",
        timeout: TIMEOUT_MS,
        reconnect: true,
        maxReconnectAttempts: -1,
        reconnectTimeWait: this.backoff.backoffBaseMs,
      });
      if (this.stopped) {
        await nc.close().catch(() => {});
        return;
      }
      this.nc = nc;
      this.attempts = 0;
      for (const subject of NATS_SYSTEM_SUBJECTS) {
        const sub = nc.subscribe(subject);
        void (async () => {
          for await (const msg of sub) {
            const receivedAt = new Date();
            let payload: Uint8Array;
            try {
              payload = withoutJwt(msg.data).bytes;
            } catch {
              payload = Buffer.from("(not JSON)");
            }
            sink.record({ topic: msg.subject, payload, brokerTs: null, receivedAt });
          }
        })().catch(() => {});
      }
      await nc.flush();
      sink.connected(this.name);
      // what was published before we subscribed is only in the ring
      this.onReconnect();
      void (async () => {
        for await (const status of nc.status()) {
          if (status.type === "disconnect") sink.failed(this.name, `NATS system account: connection to ${this.natsUrl} lost`);
          else if (status.type === "reconnect") {
            sink.connected(this.name);
            this.onReconnect();
          }
        }
      })().catch(() => {});
      void nc.closed().then((err) => {
        if (this.nc !== nc || this.stopped) return;
        this.nc = null;
        sink.failed(this.name, `NATS system account: connection closed${err ? `: ${err.message}` : ""}`);
        this.scheduleRetry();
      });
    } catch (err) {
      sink.failed(this.name, `NATS system account at ${this.natsUrl}: ${(err as Error).message}`);
      this.scheduleRetry();
    }
  }

  private scheduleRetry(): void {
    if (this.stopped || this.retryTimer) return;
    const base = Math.min(this.backoff.backoffCapMs, this.backoff.backoffBaseMs * 2 ** this.attempts);
    this.attempts++;
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = null;
        void this.connect();
      },
      base * (0.5 + Math.random() / 2),
    );
    this.retryTimer.unref();
  }
}
