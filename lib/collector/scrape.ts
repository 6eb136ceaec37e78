import { EventEmitter } from "node:events";
import amqp, { type ChannelModel, type ConsumeMessage } from "amqplib";
import type { EventRow, SampleRow } from "@/db/ingest";
import { checkLiteralHost, egressLookup, fetchFollowingSameHost, readBodyCapped } from "../egress";
import type { BrokerStatus, CollectedBroker, CollectorTiming, LatestValues, StatusChange } from "./collector";
import { toEventRow, writeSyntheticSamples } from "./collector";
import { EventOrdinals } from "./identity";
import { createDialect } from "./index";
import { EVENT_TOPIC_PREFIX } from "./rabbitmq";
import { LOG_TOPIC, METRICS_TOPIC, type Dialect, type DialectName, type DialectOutput } from "./types";
import type { IngestWriter } from "./writer";

/**
 * The collector of brokers without `$SYS` (RabbitMQ's MQTT plugin, HiveMQ): it scrapes the broker's
 * Prometheus endpoint (`metricsUrl`) every `scrapeIntervalMs` and, for RabbitMQ with `amqpUrl`,
 * consumes the `amq.rabbitmq.log` and `amq.rabbitmq.event` exchanges through a private,
 * auto-deleted queue. Everything goes through the broker's dialect into the same write queue, and
 * liveness goes through the same status events (gaps, `mqtt_broker_up`) as the MQTT collector's.
 *
 * Up: the last scrape succeeded within max(3 × interval, minStaleMs) and, when `amqpUrl` is set, the
 * AMQP connection is open. Down: either failed, after the first attempt.
 */
export interface ScrapedBroker extends CollectedBroker {
  metricsUrl?: string | null;
  amqpUrl?: string | null;
}

export const DEFAULT_SCRAPE_INTERVAL_MS = 10_000;
const SCRAPE_TIMEOUT_MS = 5_000;
/** A larger answer is refused: no broker's exposition of its own counters comes near it. */
const MAX_SCRAPE_BYTES = 16 * 1024 * 1024;

export class ScrapeCollector extends EventEmitter<{
  status: [StatusChange];
  version: [string];
  detected: [DialectName];
  events: [EventRow[]];
  nodes: [string[]];
}> {
  private readonly dialect: Dialect;
  /** ordinals of identical lines, so another watcher's copy of an event lands on the same identity */
  private readonly ordinals = new EventOrdinals();
  private scrapeTimer: NodeJS.Timeout | null = null;
  private checkTimer: NodeJS.Timeout | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private amqp: ChannelModel | null = null;
  private amqpOpen = false;
  private amqpAttempts = 0;
  private lastScrapeOkAt = 0;
  private startedAt = 0;
  private stopped = false;
  private paused = false;
  private lastError: string | null = null;
  private lastSyntheticAt = 0;
  readonly knownNodes: string[] = [];
  status: BrokerStatus = "unknown";
  lastSeenAt: Date | null = null;
  readonly latest: LatestValues = new Map();
  readonly counters = { messages: 0, events: 0, unparsed: 0 };
  /** as BrokerCollector.sharedView: with other watchers, a "down" is stored by the manager once merged */
  sharedView: () => boolean = () => false;

  constructor(
    readonly broker: ScrapedBroker,
    private readonly writer: IngestWriter,
    private readonly timing: CollectorTiming & { scrapeIntervalMs?: number },
    private readonly log: (line: string) => void = console.log,
  ) {
    super();
    this.dialect = createDialect(broker.dialect);
  }

  get detectedDialect(): DialectName {
    return this.dialect.name;
  }

  get nodesAlive(): number {
    return this.status === "up" ? 1 : 0;
  }

  private get intervalMs(): number {
    return this.timing.scrapeIntervalMs ?? DEFAULT_SCRAPE_INTERVAL_MS;
  }

  start(): void {
    this.stopped = false;
    this.startedAt = Date.now();
    if (this.broker.metricsUrl) {
      void this.scrape();
      this.scrapeTimer = setInterval(() => void this.scrape(), this.intervalMs);
      this.scrapeTimer.unref();
    } else {
      this.noteError("no metricsUrl configured: nothing to scrape");
    }
    if (this.broker.amqpUrl) void this.connectAmqp();
    this.checkTimer = setInterval(() => this.check(), this.timing.checkIntervalMs);
    this.checkTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of [this.scrapeTimer, this.checkTimer]) if (timer) clearInterval(timer);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const connection = this.amqp;
    this.amqp = null;
    this.amqpOpen = false;
    await connection?.close().catch(() => {});
  }

  /**
   * Backpressure: skip scrapes until the writer drained. Log and event messages keep arriving (the
   * queue is auto-deleted, so the broker would not keep them for us anyway) and are queued.
   */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  private async scrape(): Promise<void> {
    if (this.stopped || this.paused || !this.broker.metricsUrl) return;
    const receivedAt = new Date();
    try {
      // under BROKERWATCH_EGRESS, redirects only within the same host, and the body counted as it
      // streams: an endless exposition costs MAX_SCRAPE_BYTES, not the process (lib/egress.ts)
      const res = await fetchFollowingSameHost(this.broker.metricsUrl, {
        signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS),
        headers: { accept: "text/plain;version=0.0.4" },
      });
      if (!res.ok) {
        await res.body?.cancel().catch(() => {});
        throw new Error(`${this.broker.metricsUrl} answered ${res.status}`);
      }
      const body = await readBodyCapped(res, MAX_SCRAPE_BYTES);
      if (this.stopped) return;
      const output = this.parse(METRICS_TOPIC, body, receivedAt);
      if (output.heartbeat) {
        this.lastScrapeOkAt = Date.now();
        this.lastSeenAt = receivedAt;
        if (this.lastError?.startsWith("scrape")) this.lastError = null;
      } else {
        this.noteError(`scrape of ${this.broker.metricsUrl}: ${output.unparsed[0]?.error ?? "no usable sample"}`);
      }
      this.ingest(output);
    } catch (err) {
      this.noteError(`scrape of ${this.broker.metricsUrl} failed: ${(err as Error).message}`);
    }
    this.check();
  }

  private async connectAmqp(): Promise<void> {
    if (this.stopped || !this.broker.amqpUrl) return;
    const url = new URL(this.broker.amqpUrl);
    if (this.broker.username) url.username = encodeURIComponent(this.broker.username);
    // The stored password is bound to the broker's `url` (lib/crypto.ts): it goes only to that host,
    // so an edited amqpUrl pointing elsewhere cannot carry it away.
    if (this.broker.password && url.hostname.toLowerCase() === new URL(this.broker.url).hostname.toLowerCase()) {
      url.password = encodeURIComponent(this.broker.password);
    } else if (this.broker.password) {
      this.noteError(`AMQP: not sending the password to ${url.hostname}, which is not the host of url (${this.broker.url})`);
    }
    try {
      checkLiteralHost(url.hostname);
      const connection = await amqp.connect(url.toString(), { timeout: 5000, lookup: egressLookup });
      if (this.stopped) {
        await connection.close().catch(() => {});
        return;
      }
      this.amqp = connection;
      connection.on("error", (err: Error) => this.noteError(`AMQP: ${err.message}`));
      connection.on("close", () => {
        if (this.amqp !== connection) return;
        this.amqp = null;
        this.amqpOpen = false;
        this.check();
        this.scheduleAmqpReconnect();
      });
      const channel = await connection.createChannel();
      // A private queue that disappears with the connection: nothing piles up while we are away.
      const { queue } = await channel.assertQueue("", { exclusive: true, autoDelete: true, durable: false });
      await channel.bindQueue(queue, "amq.rabbitmq.log", "#");
      await channel.bindQueue(queue, "amq.rabbitmq.event", "#");
      await channel.consume(queue, (msg) => msg && this.onAmqpMessage(msg), { noAck: true });
      this.amqpOpen = true;
      this.amqpAttempts = 0;
      if (this.lastError?.startsWith("AMQP")) this.lastError = null;
      this.check();
    } catch (err) {
      this.noteError(`AMQP ${this.broker.amqpUrl}: ${(err as Error).message}`);
      const stale = this.amqp;
      this.amqp = null;
      await stale?.close().catch(() => {});
      this.check();
      this.scheduleAmqpReconnect();
    }
  }

  private scheduleAmqpReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
    const base = Math.min(this.timing.backoffCapMs, this.timing.backoffBaseMs * 2 ** this.amqpAttempts);
    this.amqpAttempts++;
    this.reconnectTimer = setTimeout(
      () => {
        this.reconnectTimer = null;
        void this.connectAmqp();
      },
      base * (0.5 + Math.random() / 2),
    );
    this.reconnectTimer.unref();
  }

  private onAmqpMessage(msg: ConsumeMessage): void {
    const receivedAt = new Date();
    this.lastSeenAt = receivedAt;
    this.counters.messages++;
    const topic =
      msg.fields.exchange === "amq.rabbitmq.event" ? EVENT_TOPIC_PREFIX + msg.fields.routingKey : LOG_TOPIC;
    // Event-exchange messages carry everything in their headers; the body is empty.
    const payload =
      topic === LOG_TOPIC ? msg.content : Buffer.from(JSON.stringify(msg.properties.headers ?? {}, jsonSafe));
    this.ingest(this.parse(topic, payload, receivedAt));
  }

  private parse(topic: string, payload: Uint8Array, receivedAt: Date): DialectOutput {
    try {
      return this.dialect.parse(topic, payload, receivedAt);
    } catch (err) {
      const raw = Buffer.from(payload).toString("utf8").slice(0, 4096);
      return { samples: [], events: [], unparsed: [{ receivedAt, topic, raw, error: `parser crashed: ${String(err)}` }] };
    }
  }

  private ingest(output: DialectOutput): void {
    const name = this.broker.name;
    if (output.version) this.emit("version", output.version);
    const samples: SampleRow[] = output.samples.map((s) => {
      const node = s.node ?? "";
      const labels = s.labels ?? {};
      const key = `${s.metric}|${node}|${JSON.stringify(labels)}`;
      this.latest.set(key, { metric: s.metric, node, labels, value: s.value, ts: s.ts });
      return { broker: name, node, metric: s.metric, labels, ts: s.ts, value: s.value };
    });
    const events = output.events.map((e) => toEventRow(name, e, this.ordinals.key(e)));
    this.counters.events += events.length;
    this.counters.unparsed += output.unparsed.length;
    this.writer.enqueue({
      events,
      samples,
      unparsed: output.unparsed.map((u) => ({ broker: name, receivedAt: u.receivedAt, topic: u.topic, raw: u.raw, error: u.error })),
    });
    if (events.length) this.emit("events", events);
  }

  private noteError(message: string): void {
    if (message === this.lastError) return;
    this.lastError = message;
    this.log(`brokerwatch: collector ${this.broker.name}: ${message}`);
  }

  private check(): void {
    const now = Date.now();
    const staleAfter = Math.max(3 * this.intervalMs, this.timing.minStaleMs);
    const scrapeFresh = !this.broker.metricsUrl || now - this.lastScrapeOkAt <= staleAfter;
    const amqpUp = !this.broker.amqpUrl || this.amqpOpen;
    const anySource = Boolean(this.broker.metricsUrl || this.broker.amqpUrl);
    const scraped = !this.broker.metricsUrl || this.lastScrapeOkAt > 0;
    let next: BrokerStatus;
    let why: string;
    if (anySource && scraped && scrapeFresh && amqpUp) {
      next = "up";
      why = this.broker.amqpUrl ? "scrape fresh and AMQP connected" : "scrape fresh";
    } else if (anySource && this.lastError === null && now - this.startedAt <= this.timing.minStaleMs) {
      next = this.status; // just started: the first scrape or the AMQP connection is still on its way
      why = "waiting for the first scrape";
    } else {
      next = anySource ? "down" : "unknown";
      why = this.lastError ?? (amqpUp ? "scrape stale" : "AMQP connection lost");
    }
    if (next !== this.status) {
      const change: StatusChange = { broker: this.broker.name, from: this.status, to: next, at: new Date(now), lastSeenAt: this.lastSeenAt, why };
      this.status = next;
      this.writeSynthetic(now);
      this.emit("status", change);
    } else if (now - this.lastSyntheticAt >= this.timing.syntheticEveryMs) {
      this.writeSynthetic(now);
    }
  }

  /** The same synthetic samples as the MQTT collector's: liveness and the configured capacity. */
  private writeSynthetic(now: number): void {
    if (this.status === "unknown") return;
    this.lastSyntheticAt = now;
    writeSyntheticSamples(this, this.writer, new Date(now));
  }
}

/** AMQP header values may be Buffers (the event exchange's `error`) or bigints: JSON as text. */
function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return Number(value);
  if (value && typeof value === "object" && (value as { type?: string }).type === "Buffer" && Array.isArray((value as { data?: unknown }).data)) {
    return Buffer.from((value as { data: number[] }).data).toString("utf8");
  }
  return value;
}
