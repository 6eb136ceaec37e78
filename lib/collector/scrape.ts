import { EventEmitter } from "node:events";
import type { EventRow, SampleRow } from "@/db/ingest";
import type { BrokerStatus, CollectedBroker, CollectorTiming, LatestValues, StatusChange } from "./collector";
import { toEventRow, writeSyntheticSamples } from "./collector";
import { EventOrdinals } from "./identity";
import { createDialect } from "./index";
import { Liveness } from "./liveness";
import { NatsMonitorSource, NatsSystemSource } from "./nats-sources";
import type { Source, SourceRecord, SourceSink } from "./source";
import { AmqpSource, PrometheusSource } from "./sources";
import type { Dialect, DialectName, DialectOutput } from "./types";
import type { IngestWriter } from "./writer";

/**
 * The collector of brokers without `$SYS` (RabbitMQ's MQTT plugin, HiveMQ, NATS): one pipeline of
 * sources → the broker's dialect → the writer (source.ts, docs/architecture.md §4). Its sources:
 * - `metricsUrl`: the Prometheus endpoint, every `scrapeIntervalMs`;
 * - `amqpUrl` (RabbitMQ): `amq.rabbitmq.log` and `amq.rabbitmq.event` through a private queue;
 * - `monitorUrl` (NATS): the HTTP monitoring port, every `scrapeIntervalMs`;
 * - `natsUrl` (NATS, with a system user): the system account's pushed events.
 * Liveness is liveness.ts over the sources; it goes through the same status events (gaps,
 * `mqtt_broker_up`) as the MQTT collector's.
 *
 * Up: every polled source answered within max(3 × interval, minStaleMs) and every connection
 * source (AMQP) is connected. Down: any not, after its first attempt.
 */
export interface ScrapedBroker extends CollectedBroker {
  metricsUrl?: string | null;
  amqpUrl?: string | null;
  monitorUrl?: string | null;
  natsUrl?: string | null;
}

export const DEFAULT_SCRAPE_INTERVAL_MS = 10_000;

export class ScrapeCollector extends EventEmitter<{
  status: [StatusChange];
  version: [string];
  detected: [DialectName];
  events: [EventRow[]];
  nodes: [string[]];
  /** a source knows it missed what the broker said in [from, to] (lib/collector/source.ts) */
  gap: [{ broker: string; from: Date; to: Date; why: string }];
}> {
  private readonly dialect: Dialect;
  /** ordinals of identical lines, so another watcher's copy of an event lands on the same identity */
  private readonly ordinals = new EventOrdinals();
  readonly sources: Source[];
  private liveness: Liveness;
  private checkTimer: NodeJS.Timeout | null = null;
  private stopped = false;
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
    this.sources = this.makeSources();
    this.liveness = this.makeLiveness(Date.now());
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

  /** Each configured address is one source; what reads it is the transport's business only. */
  private makeSources(): Source[] {
    const b = this.broker;
    const credentials = { username: b.username ?? null, password: b.password ?? null, boundTo: b.url };
    const log = (line: string) => this.noteError(line);
    const sources: Source[] = [];
    if (b.metricsUrl) sources.push(new PrometheusSource(b.metricsUrl, this.intervalMs));
    if (b.amqpUrl) sources.push(new AmqpSource(b.amqpUrl, credentials, this.timing, log));
    if (b.monitorUrl) {
      const monitor = new NatsMonitorSource(b.monitorUrl, this.intervalMs);
      sources.push(monitor);
      if (b.natsUrl) sources.push(new NatsSystemSource(b.natsUrl, credentials, this.timing, () => void monitor.pollNow(), log));
    }
    return sources;
  }

  private makeLiveness(now: number): Liveness {
    const staleAfterMs = Math.max(3 * this.intervalMs, this.timing.minStaleMs);
    return new Liveness(
      this.sources
        .filter((s) => s.liveness !== "none")
        .map((s) => ({ name: s.name, staleAfterMs: s.liveness === "poll" ? staleAfterMs : null })),
      now,
      this.timing.minStaleMs,
    );
  }

  start(): void {
    this.stopped = false;
    this.liveness = this.makeLiveness(Date.now());
    if (this.sources.length === 0) {
      this.noteError(
        this.broker.dialect === "nats" ? "no monitorUrl configured: nothing to read" : "no metricsUrl configured: nothing to scrape",
      );
    }
    const sink = this.sink();
    for (const source of this.sources) source.start(sink);
    this.checkTimer = setInterval(() => this.check(), this.timing.checkIntervalMs);
    this.checkTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.checkTimer) clearInterval(this.checkTimer);
    await Promise.all(this.sources.map((s) => s.stop().catch(() => {})));
  }

  /**
   * Backpressure: polls wait until the writer drained. Pushed records keep arriving (the broker
   * would not keep them for us anyway) and are queued.
   */
  pause(): void {
    for (const source of this.sources) source.pause?.();
  }

  resume(): void {
    for (const source of this.sources) source.resume?.();
  }

  /** What the sources report into: the dialect, the writer, the liveness machine. */
  private sink(): SourceSink {
    const counts = (source: string) => this.sources.some((s) => s.name === source && s.liveness !== "none");
    return {
      record: (record) => this.onRecord(record),
      beat: (source) => {
        this.liveness.beat(source, Date.now());
        if (this.lastError?.startsWith(source)) this.lastError = null;
        this.check();
      },
      connected: (source) => {
        if (counts(source)) this.liveness.connected(source);
        this.lastError = null;
        this.check();
      },
      failed: (source, why) => {
        if (counts(source)) this.liveness.failed(source, why);
        this.noteError(why);
        this.check();
      },
      gap: (from, to, why) => {
        this.log(`brokerwatch: collector ${this.broker.name}: ${why}`);
        this.emit("gap", { broker: this.broker.name, from, to, why });
      },
    };
  }

  private onRecord(record: SourceRecord): DialectOutput {
    this.lastSeenAt = record.receivedAt;
    this.counters.messages++;
    const output = this.parse(record);
    this.ingest(output, record.ack);
    return output;
  }

  private parse({ topic, payload, receivedAt }: SourceRecord): DialectOutput {
    try {
      return this.dialect.parse(topic, payload, receivedAt);
    } catch (err) {
      const raw = Buffer.from(payload).toString("utf8").slice(0, 4096);
      return { samples: [], events: [], unparsed: [{ receivedAt, topic, raw, error: `parser crashed: ${String(err)}` }] };
    }
  }

  private ingest(output: DialectOutput, ack?: () => void): void {
    const name = this.broker.name;
    if (output.version) this.emit("version", output.version);
    const samples: SampleRow[] = [];
    for (const s of output.samples) {
      // a configured capacity wins over the one the broker reports (writeSyntheticSamples writes it)
      if (s.metric === "mqtt_connections_max" && this.broker.maxConnections) continue;
      const node = s.node ?? "";
      const labels = s.labels ?? {};
      const key = `${s.metric}|${node}|${JSON.stringify(labels)}`;
      this.latest.set(key, { metric: s.metric, node, labels, value: s.value, ts: s.ts });
      samples.push({ broker: name, node, metric: s.metric, labels, ts: s.ts, value: s.value });
    }
    const events = output.events.map((e) => toEventRow(name, e, this.ordinals.key(e)));
    this.counters.events += events.length;
    this.counters.unparsed += output.unparsed.length;
    this.writer.enqueue(
      {
        events,
        samples,
        unparsed: output.unparsed.map((u) => ({ broker: name, receivedAt: u.receivedAt, topic: u.topic, raw: u.raw, error: u.error })),
      },
      ack,
    );
    if (events.length) this.emit("events", events);
  }

  private noteError(message: string): void {
    if (message === this.lastError) return;
    this.lastError = message;
    this.log(`brokerwatch: collector ${this.broker.name}: ${message}`);
  }

  private check(): void {
    if (this.stopped) return;
    const now = Date.now();
    const verdict = this.liveness.evaluate(now);
    if (verdict.changed) {
      const change: StatusChange = {
        broker: this.broker.name,
        from: verdict.from,
        to: verdict.status,
        at: new Date(now),
        lastSeenAt: this.lastSeenAt,
        why: verdict.why,
      };
      this.status = verdict.status;
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
