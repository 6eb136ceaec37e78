import type { MetricName } from "../metrics";
import { lineFormatOf, readMosquittoLogPayload, type MosquittoLineFormat } from "./mosquitto-log";
import { MosquittoSessionJoiner } from "./mosquitto-sessions";
import { CounterRates } from "./rates";
import { emptyOutput, type Dialect, type DialectOutput, type OwnInFlight, type OwnMessage } from "./types";

export {
  readMosquittoLogPayload,
  type MosquittoLineFormat,
  type MosquittoLogLine,
  type MosquittoLogRecord,
} from "./mosquitto-log";

/**
 * The Mosquitto dialect: reads what a monitoring client gets on `$SYS/#` — the `$SYS/broker/...`
 * statistics and, with `log_dest topic`, the broker's log lines on `$SYS/broker/log/<level>`.
 * Facts are from docs/brokers.md §1 and §2 (Mosquitto 2.0.20–2.0.22 and 2.1.2 source) unless a
 * comment names another source.
 *
 * Three parts, and where each holds state:
 * - mosquitto-log.ts reads one log line: STATELESS (text + line format → record).
 * - mosquitto-sessions.ts joins lines into connection events: STATEFUL (open sessions, sockets
 *   awaiting CONNECT, a pending takeover, the previous line).
 * - this file reads the `$SYS/broker/...` statistics: STATEFUL too (the line format learnt from
 *   `version`, counter values for rates, the last store and retained counts, the last uptime),
 *   and routes each message to the right part.
 */

export interface MosquittoDialectOptions {
  /** sessions remembered for joining a disconnect to its connect; the oldest are forgotten beyond it */
  maxOpenSessions?: number;
}

const SYS_BROKER = "$SYS/broker/";
const LOG_TOPICS = "$SYS/broker/log/";
/** `log_type subscribe|unsubscribe` lines: `%s %d %s` of a client's subscription, nothing we export */
const SUBSCRIPTION_LOG_TOPICS = "$SYS/broker/log/M/";

/**
 * `%d` gauges (sys_tree.c), read signed and clamped at 0: `clients/connected` counts every open
 * socket, and the broker's own bookkeeping can go below zero (`clients/disconnected` = total −
 * connected is seen at -8726, issue #2466), so a negative count is a quirk, never a value.
 */
const COUNT_GAUGES: Readonly<Record<string, MetricName>> = {
  "clients/connected": "mqtt_connections_current",
  "clients/total": "mqtt_sessions",
  "subscriptions/count": "mqtt_subscriptions",
};

/** `%lu` / `%llu` running totals that become per-second rates. */
const RATE_COUNTERS: Readonly<Record<string, MetricName>> = {
  "publish/messages/received": "mqtt_messages_received_per_second",
  "publish/messages/sent": "mqtt_messages_sent_per_second",
  "bytes/received": "mqtt_bytes_received_per_second",
  "bytes/sent": "mqtt_bytes_sent_per_second",
};

/** `%lu` values exported as they are. */
const UNSIGNED_GAUGES: Readonly<Record<string, MetricName>> = {
  "publish/messages/dropped": "mqtt_messages_dropped_total",
  // only published by builds with memory tracking on glibc/macOS/FreeBSD: absent, not zero, elsewhere
  "heap/current": "mqtt_memory_bytes",
};

const RETAINED_COUNT = "retained messages/count";
/** `db.msg_store_count`: retained messages plus messages queued for durable clients. `messages/stored` is its deprecated alias, published alongside, so it is ignored. */
const STORE_COUNT = "store/messages/count";

/**
 * Every metric this dialect can emit: the topic maps above plus those `readStatistic` names itself.
 * test/dialect-metrics.test.ts replays the fixtures to check it, and that every built-in rule reads
 * a metric some dialect emits.
 */
export const MOSQUITTO_METRICS: readonly MetricName[] = [
  ...Object.values(COUNT_GAUGES),
  ...Object.values(RATE_COUNTERS),
  ...Object.values(UNSIGNED_GAUGES),
  "mqtt_broker_uptime_seconds",
  "mqtt_retained_messages",
  "mqtt_queued_messages",
  "mqtt_queued_own_messages",
  "mqtt_queued_own_max_messages",
];

/**
 * Of what the broker holds for brokerwatch's session, what its store count counts as queued: log
 * lines (never retained), and a `$SYS` value a newer one replaced (every other `$SYS/broker/` topic
 * is retained: the current value is counted as retained).
 */
function countedAsQueued(m: OwnMessage): boolean {
  return m.topic.startsWith(LOG_TOPICS) || m.superseded;
}

/** A value of a topic we use that is not what its printf format writes. */
class Unreadable extends Error {}

interface RateCounter {
  value: number;
  /** seen since the last `uptime`, i.e. in the update now being published */
  republished: boolean;
}

const lossyUtf8 = new TextDecoder("utf-8");

export function createMosquittoDialect(options: MosquittoDialectOptions = {}): Dialect {
  return new MosquittoDialect(new MosquittoSessionJoiner(options.maxOpenSessions));
}

class MosquittoDialect implements Dialect {
  readonly name = "mosquitto";
  readonly subscriptions = ["$SYS/#"];

  /** null until `$SYS/broker/version` (retained, so it comes first on subscribe) says which */
  private format: MosquittoLineFormat | null = null;

  private readonly rates = new CounterRates();
  private readonly rateCounters = new Map<MetricName, RateCounter>();
  private lastUptime: number | null = null;
  private lastUptimeAt: Date | null = null;
  private storeCount: number | null = null;
  private retainedCount: number | null = null;
  /** when a store count arrived whose queued value is not yet emitted */
  private storeCountChangedAt: Date | null = null;
  /** what our own session had in flight when the store count arrived: the least and the most counted as queued */
  private ownAtStoreCount: OwnCounted | null = null;
  /** whether the update now being published republished the store count */
  private storeCountRepublished = false;
  /** ...and what our session had in flight when that update began (its `uptime`) */
  private ownAtUpdate: { at: Date; own: OwnCounted } | null = null;

  constructor(private readonly sessions: MosquittoSessionJoiner) {}

  parse(topic: string, payload: Uint8Array, receivedAt: Date, own?: () => OwnInFlight): DialectOutput {
    let raw = "";
    const out = emptyOutput();
    try {
      raw = lossyUtf8.decode(payload);
      if (topic.startsWith(LOG_TOPICS) && !topic.startsWith(SUBSCRIPTION_LOG_TOPICS)) {
        this.readLog(topic, raw, receivedAt, out);
      } else {
        this.sessions.otherMessage(out);
        if (topic.startsWith(SYS_BROKER)) this.readStatistic(topic.slice(SYS_BROKER.length), raw, receivedAt, out, own);
      }
      return out;
    } catch (err) {
      const error = err instanceof Unreadable ? err.message : `parser error: ${String(err)}`;
      // keep what was already produced, e.g. a takeover resolved before the unreadable value
      return { ...out, unparsed: [...out.unparsed, { receivedAt, topic, raw, error }] };
    }
  }

  // ----- $SYS statistics -------------------------------------------------------------------

  private readStatistic(
    name: string,
    text: string,
    receivedAt: Date,
    out: DialectOutput,
    own?: () => OwnInFlight,
  ): void {
    const sample = (metric: MetricName, value: number, ts = receivedAt) => {
      out.samples.push({ metric, node: null, value, ts });
    };
    if (name === "version") {
      const said = /^mosquitto version (\S+)$/.exec(text);
      if (!said) throw new Unreadable('expected "mosquitto version <version>"');
      out.version = said[1];
      this.format = lineFormatOf(said[1]) ?? this.format;
    } else if (name === "uptime") {
      const said = /^(\d{1,20}) seconds$/.exec(text);
      if (!said) throw new Unreadable('expected "<n> seconds"');
      const uptimeSeconds = Number(said[1]);
      this.startUpdate(uptimeSeconds, receivedAt, sample, own);
      sample("mqtt_broker_uptime_seconds", uptimeSeconds);
      out.heartbeat = { node: null, uptimeSeconds };
    } else if (Object.hasOwn(COUNT_GAUGES, name)) {
      sample(COUNT_GAUGES[name], Math.max(0, readInteger(text, true)));
    } else if (Object.hasOwn(UNSIGNED_GAUGES, name)) {
      sample(UNSIGNED_GAUGES[name], readInteger(text, false));
    } else if (Object.hasOwn(RATE_COUNTERS, name)) {
      const metric = RATE_COUNTERS[name];
      const value = readInteger(text, false);
      this.rateCounters.set(metric, { value, republished: true });
      const rate = this.rates.observe(metric, value, receivedAt);
      if (rate !== null) sample(metric, rate);
    } else if (name === STORE_COUNT) {
      this.storeCount = Math.max(0, readInteger(text, true));
      this.storeCountChangedAt = receivedAt;
      this.storeCountRepublished = true;
      this.ownAtStoreCount = own ? ownCounted(own()) : null;
    } else if (name === RETAINED_COUNT) {
      this.retainedCount = Math.max(0, readInteger(text, true));
      sample("mqtt_retained_messages", this.retainedCount);
      // sys_tree.c publishes the store count before the retained count in the same update, so both are current here
      if (this.storeCount !== null) {
        // the store count unchanged in this update: its value now, with what was in flight as it began
        if (!this.storeCountRepublished) this.ownAtStoreCount = this.ownAtUpdate?.own ?? null;
        this.queuedSamples(sample);
        this.storeCountChangedAt = null;
      }
    }
    // anything else (load averages, clients/maximum, clients/disconnected, heap/maximum, …) carries nothing we export
  }

  /**
   * `uptime` opens every update and is the only topic published whether or not it changed; every
   * other topic is republished only when its value changed (sys_tree.c). So at each `uptime`:
   * a counter absent from the previous update had not moved (its rate was 0, which a gauge that
   * kept its last rate would hide), and a store count not followed by a retained count can now be
   * turned into a queued count. And on a live connection, a store count absent from the previous
   * update is emitted again at that update's start, with what brokerwatch had in flight then: the
   * count changes at a busy moment (a client publishing, connecting: log lines in flight to us) and
   * an incident wants it also from the quiet moments after, when brokerwatch's share is known exactly.
   */
  private startUpdate(
    uptimeSeconds: number,
    receivedAt: Date,
    sample: (metric: MetricName, value: number, ts?: Date) => void,
    own?: () => OwnInFlight,
  ): void {
    const restarted = this.lastUptime !== null && uptimeSeconds < this.lastUptime;
    if (restarted) this.brokerRestarted();
    const previousUpdateAt = this.lastUptimeAt;
    if (previousUpdateAt) {
      for (const [metric, counter] of this.rateCounters) {
        if (counter.republished) continue;
        const rate = this.rates.observe(metric, counter.value, previousUpdateAt);
        if (rate !== null) sample(metric, rate, previousUpdateAt);
      }
    }
    for (const counter of this.rateCounters.values()) counter.republished = false;
    if (this.storeCountChangedAt) {
      this.queuedSamples(sample, this.storeCountChangedAt);
      this.storeCountChangedAt = null;
    } else if (!this.storeCountRepublished && this.storeCount !== null && this.ownAtUpdate && own && !restarted) {
      // (only when this `uptime` came live on the same process: after a reconnect it is a retained
      // value, and the previous update may have been cut off before its store count reached us)
      this.ownAtStoreCount = this.ownAtUpdate.own;
      this.queuedSamples(sample, this.ownAtUpdate.at);
    }
    this.storeCountRepublished = false;
    // Everything the broker published before this `uptime` was read before it (QoS 1 is delivered
    // in order), so what is in flight now is what it held for us as it began this update.
    this.ownAtUpdate = own ? { at: receivedAt, own: ownCounted(own()) } : null;
    this.lastUptime = uptimeSeconds;
    this.lastUptimeAt = receivedAt;
  }

  private queuedMessages(): number {
    return Math.max(0, (this.storeCount ?? 0) - (this.retainedCount ?? 0));
  }

  /**
   * The queued count, and beside it (same timestamp) the least and the most of it that were messages
   * in flight to brokerwatch's own session (types.ts OwnInFlight): an incident compares the count
   * before and after a restart and must not read brokerwatch's own traffic as the clients' queues
   * (lib/incidents/findings.ts). None of it is ours beyond the count.
   */
  private queuedSamples(sample: (metric: MetricName, value: number, ts?: Date) => void, ts?: Date): void {
    const queued = this.queuedMessages();
    sample("mqtt_queued_messages", queued, ts);
    const own = this.ownAtStoreCount;
    if (!own) return;
    sample("mqtt_queued_own_messages", Math.min(queued, own.least), ts);
    sample("mqtt_queued_own_max_messages", Math.min(queued, own.most), ts);
  }

  /** Uptime went back, or the log said `starting`: sockets and counters of the old process are gone. */
  private brokerRestarted(): void {
    this.sessions.reset();
    this.rates.reset();
    this.rateCounters.clear();
    this.lastUptimeAt = null;
  }

  // ----- log lines ---------------------------------------------------------------------------

  private readLog(topic: string, raw: string, receivedAt: Date, out: DialectOutput): void {
    const record = readMosquittoLogPayload(raw, this.format);
    this.sessions.read(record?.line ?? null, { ts: record?.brokerTime ?? receivedAt, receivedAt, raw }, out);
    if (!record) {
      out.unparsed.push({ receivedAt, topic, raw, error: "unrecognised log line" });
      return;
    }
    if (record.line.kind === "broker_version") {
      out.version = record.line.version;
      this.format = lineFormatOf(record.line.version) ?? this.format;
      if (record.line.starting) this.brokerRestarted();
    }
  }
}

interface OwnCounted {
  least: number;
  most: number;
}

function ownCounted(own: OwnInFlight): OwnCounted {
  const least = own.unacknowledged.filter(countedAsQueued).length;
  return { least, most: least + own.acknowledgedRecently.filter(countedAsQueued).length };
}

/** `%d` (signed) or `%lu`/`%llu` (unsigned) as sys_tree.c prints them; anything else is unreadable, never NaN. */
function readInteger(text: string, signed: boolean): number {
  if (!(signed ? /^-?\d{1,20}$/ : /^\d{1,20}$/).test(text)) {
    throw new Unreadable(signed ? "expected an integer" : "expected a non-negative integer");
  }
  return Number(text);
}
