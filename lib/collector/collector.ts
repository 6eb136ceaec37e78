import { EventEmitter } from "node:events";
import type { IPublishPacket, MqttClient } from "mqtt";
import { connectMqtt } from "../egress-mqtt";
import type { EventRow, SampleRow } from "@/db/ingest";
import type { MetricName } from "../metrics";
import { EventOrdinals, type Taken } from "./identity";
import { createDialect, type DialectSetting } from "./index";
import { OwnMessages } from "./own-inflight";
import type { ConnectionEvent, Dialect, DialectName, DialectOutput } from "./types";
import type { IngestWriter } from "./writer";

/**
 * One monitored broker: an mqtt.js connection with a stable client id and a persistent
 * session (clean start 0, QoS 1), so log lines published while the collector was briefly
 * away are still delivered (Mosquitto keeps them 20 s: docs/brokers.md §2.1, README "Reliability and broker-side
 * limits"). Each message goes through the broker's dialect into the write queue; nothing here
 * waits on the database, but a QoS 1 message is acknowledged (PUBACK) only once the writer has
 * committed its rows, so a crash never loses a message the broker has let go of.
 */
export interface CollectedBroker {
  name: string;
  url: string;
  dialect: DialectSetting;
  username?: string | null;
  password?: string | null;
  /** `plant-a/` when the `$SYS` tree arrives through a bridge under a prefix */
  sysTopicPrefix?: string | null;
  maxConnections?: number | null;
  /** the collector's MQTT client id; stable across restarts so the session persists */
  clientId: string;
}

import type { BrokerStatus } from "@/db/vocabulary";
export type { BrokerStatus };

export interface StatusChange {
  broker: string;
  from: BrokerStatus;
  to: BrokerStatus;
  at: Date;
  /** last time anything arrived from the broker */
  lastSeenAt: Date | null;
  why: string;
}

export interface UptimeBeat {
  node: string;
  uptimeSeconds: number;
  at: Date;
}

export interface CollectorTiming {
  /** minimum heartbeat staleness before a broker counts as down (issue: max(3 × interval, 5 s)) */
  minStaleMs: number;
  backoffBaseMs: number;
  backoffCapMs: number;
  /** how often up/down is re-evaluated */
  checkIntervalMs: number;
  /** how often mqtt_broker_up / mqtt_connections_max are written while nothing changes */
  syntheticEveryMs: number;
  /** how often the scrape collector (rabbitmq, hivemq) reads `metricsUrl`; default 10 s */
  scrapeIntervalMs?: number;
  /** MQTT keepalive of the collector's connection; default 10 s */
  keepaliveSeconds?: number;
  /**
   * After another client took this collector's session (its ClientID in use elsewhere), wait this
   * long before connecting again, rather than taking it back at once and fighting; default 30 s.
   */
  clashRetryMs?: number;
  /**
   * The broker keeps the collector's session this long after the connection ends (MQTT 5 Session
   * Expiry Interval), so a restart under the same name reads what was queued meanwhile, while a
   * session nobody comes back to still ends; default a day (BROKERWATCH_SESSION_EXPIRY).
   */
  sessionExpirySeconds?: number;
}

export const DEFAULT_SESSION_EXPIRY_SECONDS = 24 * 3600;

export const DEFAULT_TIMING: CollectorTiming = {
  minStaleMs: 5000,
  backoffBaseMs: 500,
  // A monitor reconnects to one broker, not a fleet to a server: a broker back from a restart is
  // seen within the cap (plus jitter), not up to 30 s later.
  backoffCapMs: 2_000,
  checkIntervalMs: 250,
  syntheticEveryMs: 10_000,
};

interface Heartbeat {
  lastAt: number;
  intervalMs: number | null;
}

export class BrokerCollector extends EventEmitter<{
  status: [StatusChange];
  /** every uptime heartbeat, before it counts towards up/down: a smaller uptime means the broker restarted */
  heartbeat: [UptimeBeat];
  version: [string];
  detected: [DialectName];
  events: [EventRow[]];
  nodes: [string[]];
  /** subscribed (SUBACK) on a new connection: the broker is watched from this moment */
  watching: [Date];
  /**
   * This process was not reading (a pause, a stall: SIGSTOP, GC, a throttled container) for long
   * enough to lose the connection: brokerwatch's blindness, not the broker's outage. Emitted once
   * watched again, with the window.
   */
  ownGap: [{ from: Date; to: Date; why: string }];
}> {
  private client: MqttClient | null = null;
  private readonly dialect: Dialect & { detected?: DialectName | null };
  private connected = false;
  private connectedAt = 0;
  private attempts = 0;
  private everTried = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private checkTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private paused = false;
  private readonly heartbeats = new Map<string, Heartbeat>();
  private lastSyntheticAt = 0;
  private lastTickAt = 0;
  private lastError: string | null = null;
  private detectedReported: DialectName | null = null;
  /**
   * Another connection with our ClientID took our session (MQTT 5 DISCONNECT 0x8E, or the
   * broker's takeover log line naming our ClientID): a name clash, not an outage. Until we are
   * connected again the broker's status is unknown to us, not down.
   */
  private clash: string | null = null;
  private clashLogged = 0;
  /**
   * When the broker itself closed our last connection (a clean TCP end, not an error or our
   * keepalive): a broker going away, or another connection taking our ClientID (Mosquitto 2.0
   * sends 3.1.1 and 5 clients no reason, it closes the socket). Until the next connect attempt
   * tells which, the status is held; a takeover line for our ClientID right after we are back
   * tells the second.
   */
  private closedByBrokerAt = 0;
  /** when a connection that was up was lost: the fast probe runs for FAST_PROBE_FOR_MS after it */
  private lostAt = 0;
  /** the last stall of this process the check timer noticed (see tick) */
  private lastStall: { from: number; to: number } | null = null;
  /** set when a connection was lost to our own stall: the gap it opened, closed once watched again */
  private ownBlindSince: number | null = null;
  private holdStatusUntil = 0;
  private readonly prefix: string;
  private readonly ordinals = new EventOrdinals();
  /**
   * MQTT 5 where the broker speaks it: its Receive Maximum lets the broker send as many QoS 1
   * messages unacknowledged as we allow, whatever its `max_inflight_messages` (Mosquitto's 20
   * applies to 3.1.1 clients). Acknowledging after commit then costs no throughput, and a connect
   * storm stays in flight to us instead of overflowing the broker's `max_queued_messages` queue
   * (docs/brokers.md, README "Reliability and broker-side limits"). 3.1.1 for the bundled broker
   * (Aedes) and for a broker that refuses 5.
   */
  private protocolVersion: 4 | 5;
  /**
   * The current connection's messages the broker may still hold for our session (its store count
   * counts them: own-inflight.ts), each unacknowledged one with the ordinals it took.
   */
  private readonly own = new OwnMessages<Taken[]>();
  /** cluster members the broker listed (EMQX `$SYS/brokers`) */
  knownNodes: string[] = [];
  status: BrokerStatus = "unknown";
  lastSeenAt: Date | null = null;
  /** latest value per metric and node, for the API and /metrics */
  readonly latest: LatestValues = new Map();
  readonly counters = { messages: 0, events: 0, unparsed: 0 };
  /**
   * Whether other instances watch this broker too. Then this collector's "down" is one view among
   * several (a partition between this instance and the broker, say): it does not store
   * `mqtt_broker_up` 0 itself, the manager stores it once the merged status is down. With a single
   * watcher the 0 is stored at once, without asking the database.
   */
  sharedView: () => boolean = () => false;
  /** set in drain mode (see drain()) */
  private draining: { resolve: (r: DrainResult) => void; messages: number; lastAt: number; ready: boolean } | null =
    null;

  constructor(
    readonly broker: CollectedBroker,
    private readonly writer: IngestWriter,
    private readonly timing: CollectorTiming = DEFAULT_TIMING,
    private readonly log: (line: string) => void = console.log,
  ) {
    super();
    this.dialect = createDialect(broker.dialect);
    this.prefix = broker.sysTopicPrefix ?? "";
    this.protocolVersion = broker.dialect === "bundled" ? 4 : 5;
  }

  /** the MQTT protocol level of the current (or next) connection: 5, or 4 for 3.1.1 */
  get mqttProtocol(): 4 | 5 {
    return this.protocolVersion;
  }

  /** nodes whose heartbeat is fresh (an EMQX connection sees every node of its cluster) */
  get nodesAlive(): number {
    const now = Date.now();
    let alive = 0;
    for (const hb of this.heartbeats.values()) if (this.connected && !this.isStale(hb, now)) alive++;
    return alive;
  }

  get detectedDialect(): DialectName | null {
    return this.dialect.detected ?? (this.broker.dialect === "auto" ? null : (this.broker.dialect as DialectName));
  }

  start(): void {
    this.stopped = false;
    this.connect();
    this.lastTickAt = Date.now();
    this.checkTimer = setInterval(() => this.tick(), this.timing.checkIntervalMs);
    this.checkTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.checkTimer) clearInterval(this.checkTimer);
    const client = this.client;
    this.client = null;
    if (client) await new Promise<void>((resolve) => client.end(true, {}, () => resolve()));
    this.connected = false;
  }

  /**
   * Adopts a gone instance's broker session (this collector's ClientID is that instance's) instead
   * of watching: connects to it, stops new messages being queued there (UNSUBSCRIBE), stores what
   * was queued (acknowledged after commit, like any message; event identities drop what this
   * instance's own session also delivered), and once nothing more arrives ends the session (MQTT 5:
   * Session Expiry 0 on DISCONNECT; 3.1.1: a clean-session connect). Status, heartbeats and
   * reconnects are not this mode's business; a failure leaves the session to expire.
   */
  drain(timeoutMs = 120_000): Promise<DrainResult> {
    return new Promise<DrainResult>((resolve) => {
      const started = Date.now();
      const finish = (r: Omit<DrainResult, "ms">) => {
        clearInterval(poll);
        clearTimeout(limit);
        this.draining = null;
        resolve({ ...r, ms: Date.now() - started });
      };
      this.draining = { resolve: () => {}, messages: 0, lastAt: Date.now(), ready: false };
      const state = this.draining;
      state.resolve = (r) => finish(r);
      const poll = setInterval(() => {
        const client = this.client;
        if (!client || !state.ready || this.paused) return;
        if (Date.now() - state.lastAt < DRAIN_QUIET_MS || this.own.unacknowledgedCount > 0) return;
        void this.endSession(client).then(() => finish({ ended: true, messages: state.messages }));
      }, 100);
      const limit = setTimeout(() => {
        this.log(`brokerwatch: adopting session ${this.broker.clientId} on ${this.broker.name}: still receiving after ${timeoutMs / 1000} s; left to expire`);
        void this.stop().then(() => finish({ ended: false, messages: state.messages }));
      }, timeoutMs);
      this.stopped = false;
      this.connect();
    });
  }

  /** Ends the session for good on this connection (see drain). */
  private async endSession(client: MqttClient): Promise<void> {
    this.stopped = true;
    this.client = null;
    if (this.protocolVersion === 5) {
      // §3.14.2.2.2: the Session Expiry Interval may be set on DISCONNECT when it was not 0 at CONNECT.
      await new Promise<void>((resolve) =>
        client.end(false, { reasonCode: 0, properties: { sessionExpiryInterval: 0 } }, () => resolve()),
      );
      return;
    }
    await new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
    // 3.1.1: a clean-session connect discards the stored session (§3.1.2.4).
    const clean = connectMqtt(this.broker.url, {
      clientId: this.broker.clientId,
      clean: true,
      protocolVersion: 4,
      username: this.broker.username ?? undefined,
      password: this.broker.password ?? undefined,
      reconnectPeriod: 0,
      connectTimeout: 5000,
    });
    await new Promise<void>((resolve) => {
      clean.once("connect", () => clean.end(false, {}, () => resolve()));
      clean.once("error", () => resolve());
      clean.once("close", () => resolve());
    });
    clean.end(true);
  }

  /** Backpressure from the writer: stop reading the socket; the broker holds the messages for us. */
  pause(): void {
    this.paused = true;
    (this.client?.stream as { pause?: () => void } | undefined)?.pause?.();
  }

  resume(): void {
    this.paused = false;
    (this.client?.stream as { resume?: () => void } | undefined)?.resume?.();
  }

  private connect(): void {
    if (this.stopped) return;
    this.everTried = true;
    const keepaliveSeconds = this.timing.keepaliveSeconds ?? KEEPALIVE_SECONDS;
    const client = connectMqtt(this.broker.url, {
      clientId: this.broker.clientId,
      clean: false,
      protocolVersion: this.protocolVersion,
      ...(this.protocolVersion === 5
        ? {
            properties: {
              // the session outlives a disconnect as a 3.1.1 clean-session-0 one does
              sessionExpiryInterval: this.timing.sessionExpirySeconds ?? DEFAULT_SESSION_EXPIRY_SECONDS,
              receiveMaximum: RECEIVE_MAXIMUM,
            },
          }
        : {}),
      username: this.broker.username ?? undefined,
      password: this.broker.password ?? undefined,
      // Our own capped backoff with jitter (below), not mqtt.js' fixed period.
      reconnectPeriod: 0,
      connectTimeout: 5000,
      keepalive: keepaliveSeconds,
      resubscribe: false,
    });
    this.client = client;
    // mqtt.js counts only a PINGRESP (and acks) as a sign of life, and the PINGRESP queues behind
    // every PUBLISH the broker sent before it: under a storm, or while our socket is paused for
    // backpressure, it arrives late and mqtt.js drops a healthy connection ("Keepalive timeout").
    // Any packet read within the keepalive proves the connection alive; pings go on being sent.
    let lastReadAt = Date.now();
    client.on("packetreceive", () => {
      lastReadAt = Date.now();
    });
    const keepaliveTimeout = client.onKeepaliveTimeout.bind(client);
    client.onKeepaliveTimeout = () => {
      if (this.paused || Date.now() - lastReadAt < keepaliveSeconds * 1000) client.reschedulePing(true);
      else keepaliveTimeout();
    };
    client.on("disconnect", (packet) => {
      // MQTT 5 §3.14.2.1: 0x8E "Session taken over", another connection with this ClientID.
      if (packet.reasonCode === SESSION_TAKEN_OVER) this.nameClash("the broker ended this connection: session taken over (MQTT 5 reason 0x8E)");
    });
    let endedByBroker = false;
    client.on("connect", (connack) => {
      (client.stream as NodeJS.EventEmitter).once("end", () => (endedByBroker = true));
      this.connected = true;
      this.holdStatusUntil = 0;
      this.connectedAt = Date.now();
      this.attempts = 0;
      if (this.lastError) this.log(`brokerwatch: collector ${this.broker.name}: connected to ${this.broker.url}`);
      this.lastError = null;
      if (this.paused) this.pause();
      const topics = this.dialect.subscriptions.map((t) => this.prefix + t);
      const draining = this.draining;
      if (draining) {
        if (!connack.sessionPresent) {
          // nothing left of that session: end the one this connect just made
          void this.endSession(client).then(() => draining.resolve({ ended: true, messages: 0, ms: 0 }));
          return;
        }
        // what is queued stays queued; nothing new joins it
        client.unsubscribe(topics, () => {
          draining.lastAt = Date.now();
          draining.ready = true;
        });
        return;
      }
      // With a present session the broker still has our subscriptions, but subscribing again is
      // harmless and covers a dialect whose subscriptions changed.
      client.subscribe(topics, { qos: 1 }, (err) => {
        if (err) this.noteError(`subscribing to ${topics.join(", ")} failed: ${err.message}`);
        // from here on the broker's log reaches us: what happened before was not seen
        else {
          const at = new Date();
          this.emit("watching", at);
          if (this.ownBlindSince !== null) {
            const from = new Date(this.ownBlindSince);
            this.ownBlindSince = null;
            const seconds = Math.round((at.getTime() - from.getTime()) / 100) / 10;
            this.log(`brokerwatch: collector ${this.broker.name}: this process did not read for ${seconds} s (paused or stalled); recorded as brokerwatch's gap, not the broker's outage`);
            this.emit("ownGap", { from, to: at, why: "brokerwatch was paused or stalled" });
          }
        }
      });
    });
    // mqtt.js sends PUBACK when the callback given to handleMessage is called, and reads the next
    // packet only after that (lib/client.js work → handlers/publish.js). Holding the callback until
    // the commit would serialise every message behind a database round trip. An error passed to it
    // skips the PUBACK and goes on reading: the PUBACK is then sent by `acknowledge` after commit.
    //
    // Every READ_BURST messages the callback waits for the next turn of the event loop. Node reads a
    // flooded socket in up to 32 chunks of 64 KB per turn, and mqtt.js handles every packet it holds
    // before it lets go: a quarter of a second of work at 50,000 events/s, during which the writer's
    // round trips to Postgres wait. A write round takes several (the COPY, its data, the samples'
    // transaction), so the writer fell to a fifth of its speed exactly when it was needed (README,
    // "Ingest throughput"). Yielding keeps each turn to a few ms; the broker holds what is unread.
    let burst = 0;
    client.handleMessage = (packet, callback) => {
      const result = packet.qos > 0 ? ACK_AFTER_COMMIT : undefined;
      if (++burst < READ_BURST) return callback(result);
      burst = 0;
      setImmediate(() => callback(result));
    };
    client.on("message", (topic, payload, packet) => this.onMessage(client, topic, payload, packet));
    let fallingBack = false;
    client.on("error", (err: Error & { code?: unknown }) => {
      if (this.protocolVersion === 5 && !this.connected && refusesMqtt5(err)) {
        // A broker before MQTT 5 (Mosquitto < 1.6, RabbitMQ < 3.13): speak 3.1.1 from now on.
        this.protocolVersion = 4;
        this.log(`brokerwatch: collector ${this.broker.name}: the broker refuses MQTT 5; using 3.1.1`);
        fallingBack = true;
        return;
      }
      this.noteError(err.message);
      // A reset of a live connection (a write after the broker closed it: ECONNRESET) is the broker
      // ending it, as a FIN would be: the close below asks again at once to tell outage from clash.
      if (this.connected) {
        endedByBroker = true;
        return;
      }
      // the attempt after a close by the broker failed: the broker is really gone
      this.holdStatusUntil = 0;
    });
    client.on("close", () => {
      if (this.client !== client) return;
      const wasConnected = this.connected;
      this.connected = false;
      const stall = this.ownStall();
      if (wasConnected && stall) {
        // We stopped reading (keepalive ran out on one side or the other): our gap, not an outage.
        // Hold the status and ask again at once; a refused connect still says "down".
        this.ownBlindSince ??= stall.from;
        this.holdStatusUntil = Date.now() + HOLD_AFTER_BROKER_CLOSE_MS;
        endedByBroker = false;
      }
      if (wasConnected) this.lostAt = Date.now();
      // a connection that held for a minute: whatever clashed with it has gone
      if (wasConnected && Date.now() - this.connectedAt > 60_000) this.clash = null;
      if (wasConnected && endedByBroker && !this.clash) {
        // Ask again at once: a refused connect says "down" within ms, a takeover says "clash".
        this.closedByBrokerAt = Date.now();
        this.holdStatusUntil = Date.now() + HOLD_AFTER_BROKER_CLOSE_MS;
      } else if (wasConnected) this.closedByBrokerAt = 0;
      this.forgetUnacknowledged();
      client.removeAllListeners();
      client.on("error", () => {});
      client.end(true);
      this.client = null;
      // A refusal of MQTT 5 is not an outage: ask again at once, in 3.1.1.
      if (fallingBack) return this.connect();
      if (this.draining) {
        // gone before it was drained (the owner came back and took it, or the broker went): its expiry ends it
        const draining = this.draining;
        void this.stop().then(() => draining.resolve({ ended: false, messages: draining.messages, ms: 0 }));
        return;
      }
      this.check();
      this.scheduleReconnect(
        this.clash ? (this.timing.clashRetryMs ?? CLASH_RETRY_MS) : this.holdStatusUntil > Date.now() ? 0 : undefined,
      );
    });
  }

  /**
   * The connection is gone with messages not yet acknowledged: their rows are still written, but
   * the broker will deliver them again on the next connection (same session). They must get the
   * same ordinals then, so the copies land on the same keys and are dropped.
   */
  private forgetUnacknowledged(): void {
    const pending = this.own.forget();
    for (let i = pending.length - 1; i >= 0; i--) this.ordinals.giveBack(pending[i] ?? []);
  }

  /** PUBACK once the message's rows are committed, on the connection that delivered it. */
  private acknowledge(client: MqttClient, key: number | null, messageId: number | undefined): void {
    // A PUBACK on a later connection could acknowledge a different message reusing the id.
    if (this.client !== client || key === null || messageId === undefined) return;
    if (!this.own.acknowledged(key, Date.now())) return;
    (client as unknown as MqttInternals)._sendPacket({ cmd: "puback", messageId });
  }

  /**
   * Our own ClientID taken over: one clear error per clash (not one per reconnect), and no "down":
   * the broker answered, someone else is connected as us. server log and README "Running several
   * instances" say what to do.
   */
  private nameClash(evidence: string): void {
    this.clash = evidence;
    const now = Date.now();
    if (now - this.clashLogged < 10 * 60_000) return;
    this.clashLogged = now;
    this.log(
      `brokerwatch: ERROR: collector ${this.broker.name}: ClientID clash: another client is connected with this collector's ClientID ` +
        `"${this.broker.clientId}" (${evidence}). This is a name clash, not a broker outage: two brokerwatch instances with one name ` +
        "(BROKERWATCH_INSTANCE), or the ClientID configured elsewhere. The broker's status stays unknown here until this collector " +
        `is connected again; retrying every ${Math.round((this.timing.clashRetryMs ?? CLASH_RETRY_MS) / 1000)} s`,
    );
  }

  /** whether this collector's ClientID is in use by another connection (see nameClash) */
  get clientIdClash(): boolean {
    return this.clash !== null;
  }

  private scheduleReconnect(fixedDelayMs?: number): void {
    if (this.stopped || this.reconnectTimer) return;
    // Capped exponential backoff with full jitter in [50%, 100%]: a fleet of collectors that lost
    // the same broker does not reconnect in lockstep.
    const base = Math.min(this.timing.backoffCapMs, this.timing.backoffBaseMs * 2 ** this.attempts);
    // Right after losing a broker, probe it fast: a refused TCP connect costs nothing, and a broker
    // back from a restart is then watched within ~100 ms instead of up to the backoff cap, so the
    // clients reconnecting in its first seconds are seen (issue 19 §4; bench fast-probe).
    const fast = this.lostAt > 0 && Date.now() - this.lostAt < FAST_PROBE_FOR_MS;
    const delay = fixedDelayMs ?? (fast ? FAST_PROBE_EVERY_MS : base * (0.5 + Math.random() / 2));
    this.attempts++;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
    this.reconnectTimer.unref();
  }

  private noteError(message: string): void {
    if (message === this.lastError) return;
    this.lastError = message;
    this.log(`brokerwatch: collector ${this.broker.name} (${this.broker.url}): ${message}`);
  }

  private onMessage(client: MqttClient, fullTopic: string, payload: Buffer, packet: IPublishPacket): void {
    const receivedAt = new Date();
    this.lastSeenAt = receivedAt;
    if (this.draining) {
      this.draining.messages++;
      this.draining.lastAt = receivedAt.getTime();
    }
    this.counters.messages++;
    let taken: Taken[] | undefined;
    let onCommitted: (() => void) | undefined;
    // set once the message is registered below, before its rows are queued (which may acknowledge it)
    let ownKey: number | null = null;
    if (packet.qos > 0) {
      taken = [];
      // only the id: the packet (and its payload) is not kept alive while the rows wait
      const messageId = packet.messageId;
      onCommitted = () => this.acknowledge(client, ownKey, messageId);
    }
    if (this.prefix && !fullTopic.startsWith(this.prefix)) {
      ownKey = this.own.received(fullTopic, packet.qos > 0, taken);
      this.writer.enqueue({}, onCommitted);
      return;
    }
    const topic = this.prefix ? fullTopic.slice(this.prefix.length) : fullTopic;
    let output: DialectOutput;
    try {
      // What was in flight before this message, for the dialect that asks. Not for a retained value
      // sent because we subscribed (RETAIN 1: MQTT 3.1.1 and 5, §3.3.1.3): it was published before whatever we read
      // since we connected, so what we have in flight says nothing about what the broker held then.
      const own = packet.retain ? undefined : () => this.own.snapshot(receivedAt.getTime());
      output = this.dialect.parse(topic, payload, receivedAt, own);
    } catch (err) {
      // Dialects promise not to throw; if one does anyway, keep the message rather than lose it.
      output = {
        samples: [],
        events: [],
        unparsed: [{ receivedAt, topic, raw: payload.toString("utf8"), error: `parser crashed: ${String(err)}` }],
      };
    }
    ownKey = this.own.received(topic, packet.qos > 0, taken);
    this.ingest(output, receivedAt, taken, onCommitted);
  }

  private ingest(output: DialectOutput, receivedAt: Date, taken?: Taken[], onCommitted?: () => void): void {
    const name = this.broker.name;
    // a drained session's $SYS values are old news: only its events and samples are stored
    if (output.heartbeat && !this.draining) {
      this.emit("heartbeat", { node: output.heartbeat.node ?? "", uptimeSeconds: output.heartbeat.uptimeSeconds, at: receivedAt });
      this.beat(output.heartbeat.node ?? "", receivedAt.getTime());
    }
    if (output.version) this.emit("version", output.version);
    if (output.nodes) {
      this.knownNodes = output.nodes;
      this.emit("nodes", output.nodes);
    }
    const detected = this.dialect.detected;
    if (detected && detected !== this.detectedReported) {
      this.detectedReported = detected;
      this.emit("detected", detected);
    }
    // a drained session's samples were stamped on reading, not when the broker sent them: dropped
    const samples: SampleRow[] = (this.draining ? [] : output.samples).map((s) => {
      const node = s.node ?? "";
      const labels = s.labels ?? {};
      this.latest.set(`${s.metric}|${node}`, { metric: s.metric, node, labels, value: s.value, ts: s.ts });
      return { broker: name, node, metric: s.metric, labels, ts: s.ts, value: s.value };
    });
    const events = output.events.map((e) => toEventRow(name, e, this.ordinals.key(e, taken)));
    for (const e of events) {
      // The broker's log says a connection with our ClientID took over an older one while we are
      // connected: either we took it from another holder of our ClientID or (3.1.1, no DISCONNECT
      // reason) it is about to take ours. Both are a clash.
      // Our own connect's takeover of our stale session is logged before our CONNACK (its second
      // at the latest): only a later one counts, or one right after the broker closed our previous
      // connection (then the "stale session" was another connection's: it had taken ours).
      if (e.reason !== "takenover" || e.clientId !== this.broker.clientId) continue;
      const at = e.ts.getTime();
      const from = e.address ? ` from ${e.address}${e.port ? `:${e.port}` : ""}` : "";
      if (at >= this.connectedAt + 2000) this.nameClash(`the broker logged a takeover of ClientID "${e.clientId}"${from}`);
      else if (this.closedByBrokerAt && at >= this.closedByBrokerAt - 1000)
        this.nameClash(
          `the broker closed this collector's connection, and when it came back the broker logged that another connection held its ClientID`,
        );
    }
    this.counters.events += events.length;
    this.counters.unparsed += output.unparsed.length;
    this.writer.enqueue(
      {
        events,
        samples,
        unparsed: output.unparsed.map((u) => ({
          broker: name,
          receivedAt: u.receivedAt,
          topic: u.topic,
          raw: u.raw,
          error: u.error,
        })),
      },
      onCommitted,
    );
    if (events.length) this.emit("events", events);
  }

  private beat(node: string, at: number): void {
    const hb = this.heartbeats.get(node);
    if (!hb) {
      this.heartbeats.set(node, { lastAt: at, intervalMs: null });
    } else {
      const interval = at - hb.lastAt;
      // Retained values replayed on subscribe arrive in a burst; only a real gap is an interval.
      if (interval >= 100) hb.intervalMs = interval;
      hb.lastAt = at;
    }
    this.check();
  }

  private staleAfter(hb: Heartbeat): number {
    return Math.max(3 * (hb.intervalMs ?? 0), this.timing.minStaleMs);
  }

  private isStale(hb: Heartbeat, now: number): boolean {
    return now - hb.lastAt > this.staleAfter(hb);
  }

  /**
   * The periodic check. If this timer itself ran late, our process was stalled (GC, a busy
   * machine), not the broker: nothing could have been read in that time, so the stall is not
   * counted against any heartbeat. Otherwise a hiccup of ours would page "broker down".
   */
  private tick(): void {
    const now = Date.now();
    const stalledMs = now - this.lastTickAt - this.timing.checkIntervalMs;
    this.lastTickAt = now;
    if (stalledMs > 500) {
      for (const hb of this.heartbeats.values()) hb.lastAt += stalledMs;
      this.lastStall = { from: now - stalledMs - this.timing.checkIntervalMs, to: now };
    }
    this.check();
  }

  /** A stall of this process that just ended (or is being noticed now), long enough to lose a connection. */
  private ownStall(): { from: number } | null {
    const now = Date.now();
    const overdue = now - this.lastTickAt - this.timing.checkIntervalMs;
    if (this.checkTimer && overdue > OWN_STALL_MS) return { from: this.lastTickAt };
    if (this.lastStall && now - this.lastStall.to < 2000 && this.lastStall.to - this.lastStall.from > OWN_STALL_MS)
      return { from: this.lastStall.from };
    return null;
  }

  /** Re-evaluate up/down: a broker is down when the connection is lost or its heartbeat went stale. */
  private check(): void {
    const now = Date.now();
    let next: BrokerStatus;
    let why: string;
    if (!this.connected && this.clash) {
      next = "unknown";
      why = `ClientID clash: ${this.clash}`;
    } else if (!this.connected && now < this.holdStatusUntil) {
      next = this.status;
      why = "the broker closed the connection; asking again";
    } else if (!this.connected) {
      next =
        this.everTried && (this.status !== "unknown" || this.lastError !== null || this.attempts > 0)
          ? "down"
          : "unknown";
      why = this.lastError ? `connection lost: ${this.lastError}` : "connection lost";
    } else {
      const beats = [...this.heartbeats.values()];
      const fresh = beats.some((hb) => !this.isStale(hb, now));
      if (fresh) {
        next = "up";
        why = "heartbeat fresh";
      } else if (beats.length === 0 && now - this.connectedAt <= this.timing.minStaleMs) {
        next = this.status; // just connected: give the first heartbeat time to arrive
        why = "waiting for the first heartbeat";
      } else {
        next = "down";
        why =
          beats.length === 0
            ? "connected, but no heartbeat arrived: is $SYS readable by this user?"
            : "heartbeat stale: the broker is connected but not publishing (hung?)";
      }
    }
    if (next !== this.status) {
      const change: StatusChange = {
        broker: this.broker.name,
        from: this.status,
        to: next,
        at: new Date(now),
        lastSeenAt: this.lastSeenAt,
        why,
      };
      this.status = next;
      this.writeSynthetic(now);
      this.emit("status", change);
    } else if (now - this.lastSyntheticAt >= this.timing.syntheticEveryMs) {
      this.writeSynthetic(now);
    }
  }

  private writeSynthetic(now: number): void {
    if (this.status === "unknown") return;
    this.lastSyntheticAt = now;
    writeSyntheticSamples(this, this.writer, new Date(now));
  }
}

/** A collector's latest value per metric and node (and labels), for the API and /metrics. */
export type LatestValues = Map<
  string,
  { metric: MetricName; node: string; labels: Record<string, string>; value: number; ts: Date }
>;

/**
 * Samples the broker doesn't report itself, written by either kind of collector: our view of its
 * liveness (a shared view's "down" is left to the manager, see sharedView) and its configured
 * capacity. They become the latest values too.
 */
export function writeSyntheticSamples(
  collector: { broker: CollectedBroker; status: BrokerStatus; sharedView: () => boolean; latest: LatestValues },
  writer: IngestWriter,
  ts: Date,
): void {
  const { broker, status } = collector;
  const rows: SampleRow[] = [];
  if (status === "up" || !collector.sharedView()) rows.push(brokerUpSample(broker.name, status, ts));
  if (broker.maxConnections) {
    rows.push({ broker: broker.name, node: "", metric: "mqtt_connections_max", labels: {}, ts, value: broker.maxConnections });
  }
  for (const row of rows) {
    collector.latest.set(`${row.metric}|`, { metric: row.metric as MetricName, node: "", labels: {}, value: row.value, ts });
  }
  writer.enqueue({ samples: rows });
}

/** The stored liveness sample: 1 while the broker is up. */
export function brokerUpSample(broker: string, status: BrokerStatus, ts: Date): SampleRow {
  return { broker, node: "", metric: "mqtt_broker_up", labels: {}, ts, value: status === "up" ? 1 : 0 };
}

/** A dialect's event as the write queue stores it: the same fields, plus the broker's name and its identity. */
export function toEventRow(broker: string, e: ConnectionEvent, key: string): EventRow {
  // Spelled out rather than spread: every row gets the same shape, which the write path reads
  // field by field for each of tens of thousands of rows a second (a spread copy was 3 µs an event).
  return {
    ts: e.ts,
    receivedAt: e.receivedAt,
    broker,
    node: e.node,
    clientId: e.clientId,
    type: e.type,
    reason: e.reason,
    address: e.address,
    port: e.port,
    username: e.username,
    protocolVersion: e.protocolVersion,
    cleanStart: e.cleanStart,
    keepalive: e.keepalive,
    sessionSeconds: e.sessionSeconds,
    raw: e.raw,
    eventKey: key,
  };
}

const KEEPALIVE_SECONDS = 10;
/** messages handled before the event loop gets a turn: a few ms of work (handleMessage in connect) */
const READ_BURST = 500;
/** a drained session is ended once nothing arrived for this long (see drain) */
const DRAIN_QUIET_MS = 1000;

export interface DrainResult {
  /** the session was ended (false: it is left to its expiry) */
  ended: boolean;
  /** messages read from it */
  messages: number;
  ms: number;
}
/** MQTT 5 reason code "Session taken over" (§2.4, table 2-6) */
const SESSION_TAKEN_OVER = 0x8e;
const CLASH_RETRY_MS = 30_000;
/** a stall of this process at least this long can cost the connection (mqtt.js' keepalive, the broker's 1.5 × keepalive) */
const OWN_STALL_MS = 2000;
/** after a lost connection, a connect attempt this often, for this long; then the capped backoff */
const FAST_PROBE_EVERY_MS = 100;
const FAST_PROBE_FOR_MS = 60_000;
/** how long a close by the broker waits for the immediate reconnect to say outage or clash */
const HOLD_AFTER_BROKER_CLOSE_MS = 3000;
/** the most a 16-bit Receive Maximum allows; the write queue's own limit pauses reading before this matters */
const RECEIVE_MAXIMUM = 65_535;

/** A CONNACK refusing protocol level 5: 3.1.1's "unacceptable protocol version" (1) or 5's 0x84. */
export function refusesMqtt5(err: { code?: unknown; message?: string }): boolean {
  return err.code === 1 || err.code === 0x84 || /unsupported protocol version|unacceptable protocol version/i.test(err.message ?? "");
}

/** Passed to mqtt.js' handleMessage callback: no PUBACK now, `acknowledge` sends it after commit. */
const ACK_AFTER_COMMIT = new Error("acknowledged after commit");

/** The one mqtt.js internal used: sending a packet mqtt.js builds no public call for (PUBACK). */
interface MqttInternals {
  _sendPacket(packet: { cmd: "puback"; messageId: number }): void;
}
