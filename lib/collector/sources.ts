import amqp, { type ChannelModel, type ConsumeMessage } from "amqplib";
import { checkLiteralHost, egressLookup } from "../egress";
import { EVENT_TOPIC_PREFIX } from "./rabbitmq";
import { httpGet, type Source, type SourceSink } from "./source";
import { LOG_TOPIC, METRICS_TOPIC } from "./types";

/**
 * The transports of scrape.ts that are not NATS's (nats-sources.ts): a Prometheus endpoint polled
 * every interval, and RabbitMQ's log and event exchanges consumed over AMQP.
 */

const SCRAPE_TIMEOUT_MS = 5_000;
/** A larger answer is refused: no broker's exposition of its own counters comes near it. */
const MAX_SCRAPE_BYTES = 16 * 1024 * 1024;

/** `metricsUrl`: the broker's Prometheus exposition, its heartbeat when the dialect finds one in it. */
export class PrometheusSource implements Source {
  readonly name = "scrape";
  readonly liveness = "poll" as const;
  private timer: NodeJS.Timeout | null = null;
  private sink: SourceSink | null = null;
  private paused = false;
  private stopped = false;

  constructor(
    private readonly url: string,
    private readonly intervalMs: number,
  ) {}

  start(sink: SourceSink): void {
    this.sink = sink;
    this.stopped = false;
    void this.poll();
    this.timer = setInterval(() => void this.poll(), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  private async poll(): Promise<void> {
    const sink = this.sink;
    if (this.stopped || this.paused || !sink) return;
    const receivedAt = new Date();
    try {
      const body = await httpGet(this.url, { timeoutMs: SCRAPE_TIMEOUT_MS, maxBytes: MAX_SCRAPE_BYTES, accept: "text/plain;version=0.0.4" });
      if (this.stopped) return;
      const output = sink.record({ topic: METRICS_TOPIC, payload: body, brokerTs: null, receivedAt });
      if (output.heartbeat) sink.beat(this.name);
      else sink.failed(this.name, `scrape of ${this.url}: ${output.unparsed[0]?.error ?? "no usable sample"}`);
    } catch (err) {
      sink.failed(this.name, `scrape of ${this.url} failed: ${(err as Error).message}`);
    }
  }
}

export interface AmqpCredentials {
  username: string | null;
  password: string | null;
  /** the broker's `url`: the stored password goes only to its host (lib/crypto.ts) */
  boundTo: string;
}

export interface Backoff {
  backoffBaseMs: number;
  backoffCapMs: number;
}

/**
 * `amqpUrl` (RabbitMQ): `amq.rabbitmq.log` and `amq.rabbitmq.event` through a private,
 * auto-deleted queue. Up while connected. No acknowledgements: the queue disappears with the
 * connection, so the broker would not keep anything for us anyway.
 */
export class AmqpSource implements Source {
  readonly name = "AMQP";
  readonly liveness = "connection" as const;
  private connection: ChannelModel | null = null;
  private attempts = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private sink: SourceSink | null = null;

  constructor(
    private readonly url: string,
    private readonly credentials: AmqpCredentials,
    private readonly backoff: Backoff,
    private readonly log: (line: string) => void,
  ) {}

  start(sink: SourceSink): void {
    this.sink = sink;
    this.stopped = false;
    void this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const connection = this.connection;
    this.connection = null;
    await connection?.close().catch(() => {});
  }

  private async connect(): Promise<void> {
    const sink = this.sink;
    if (this.stopped || !sink) return;
    const url = new URL(this.url);
    const { username, password, boundTo } = this.credentials;
    if (username) url.username = encodeURIComponent(username);
    // The stored password is bound to the broker's `url` (lib/crypto.ts): it goes only to that host,
    // so an edited amqpUrl pointing elsewhere cannot carry it away.
    if (password && url.hostname.toLowerCase() === new URL(boundTo).hostname.toLowerCase()) {
      url.password = encodeURIComponent(password);
    } else if (password) {
      this.log(`AMQP: not sending the password to ${url.hostname}, which is not the host of url (${boundTo})`);
    }
    try {
      checkLiteralHost(url.hostname);
      const connection = await amqp.connect(url.toString(), { timeout: 5000, lookup: egressLookup });
      if (this.stopped) {
        await connection.close().catch(() => {});
        return;
      }
      this.connection = connection;
      connection.on("error", (err: Error) => sink.failed(this.name, `AMQP: ${err.message}`));
      connection.on("close", () => {
        if (this.connection !== connection) return;
        this.connection = null;
        sink.failed(this.name, "AMQP connection lost");
        this.scheduleReconnect();
      });
      const channel = await connection.createChannel();
      // A private queue that disappears with the connection: nothing piles up while we are away.
      const { queue } = await channel.assertQueue("", { exclusive: true, autoDelete: true, durable: false });
      await channel.bindQueue(queue, "amq.rabbitmq.log", "#");
      await channel.bindQueue(queue, "amq.rabbitmq.event", "#");
      await channel.consume(queue, (msg) => msg && this.onMessage(sink, msg), { noAck: true });
      this.attempts = 0;
      sink.connected(this.name);
    } catch (err) {
      sink.failed(this.name, `AMQP ${this.url}: ${(err as Error).message}`);
      const stale = this.connection;
      this.connection = null;
      await stale?.close().catch(() => {});
      this.scheduleReconnect();
    }
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
    const base = Math.min(this.backoff.backoffCapMs, this.backoff.backoffBaseMs * 2 ** this.attempts);
    this.attempts++;
    this.reconnectTimer = setTimeout(
      () => {
        this.reconnectTimer = null;
        void this.connect();
      },
      base * (0.5 + Math.random() / 2),
    );
    this.reconnectTimer.unref();
  }

  private onMessage(sink: SourceSink, msg: ConsumeMessage): void {
    const receivedAt = new Date();
    const topic = msg.fields.exchange === "amq.rabbitmq.event" ? EVENT_TOPIC_PREFIX + msg.fields.routingKey : LOG_TOPIC;
    // Event-exchange messages carry everything in their headers; the body is empty.
    const payload =
      topic === LOG_TOPIC ? msg.content : Buffer.from(JSON.stringify(msg.properties.headers ?? {}, jsonSafe));
    const ts = msg.properties.timestamp;
    sink.record({ topic, payload, brokerTs: typeof ts === "number" ? new Date(ts * 1000) : null, receivedAt });
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
