import { EventEmitter } from "node:events";
import type { Database } from "@/db/client";
import { listBrokers, setBrokerStatus, updateBrokerDetection } from "@/db/brokers";
import { openGap, recordGap } from "@/db/gaps";
import { brokersSeenUpByOthers, forgetObservations, mergeBrokerStatus, recordObservation } from "@/db/observations";
import type { EventRow, SampleRow } from "@/db/ingest";
import type { BrokerRow } from "@/db/schema";
import { assignWatchers } from "../cluster/assign";
import { brokerSecretAddress, decryptSecret } from "../crypto";
import {
  BrokerCollector,
  brokerUpSample,
  DEFAULT_TIMING,
  type BrokerStatus,
  type CollectorTiming,
  type StatusChange,
  type UptimeBeat,
} from "./collector";
import { isScrapeDialect, type DialectSetting } from "./index";
import { ScrapeCollector } from "./scrape";
import type { IngestWriter } from "./writer";

/**
 * Runs one collector per broker this instance watches and turns what they see into the rows only
 * a view across brokers can produce: status and gaps in the database, cluster liveness, and the
 * disconnect rate by reason.
 *
 * With several instances on one database, each broker is watched by `watchers` of them (see
 * lib/cluster/assign.ts); each stores its own view of the broker (broker_observations) and the
 * broker's status and gaps are merged from the live views: down, and a gap, only when no watcher
 * sees it up.
 */
export interface ManagerOptions {
  /** service key that decrypts stored broker passwords */
  secret: string;
  /** identifies this installation in collector client ids, so two installations never share a session */
  installationId: string;
  /** credentials for the bundled broker's in-process monitor account */
  bundledCredentials?: { username: string; password: string };
  timing?: CollectorTiming;
  /** how often cluster and disconnect-rate samples and lastSeenAt are written */
  rollupEveryMs?: number;
  log?: (line: string) => void;
  /** this instance's name, under which its view of each broker is stored */
  instance?: string;
  /** the bundled broker this process runs: only this instance can watch it (it has the monitor account) */
  bundledUrl?: string;
  /** the deployment's live instances; absent: this instance watches every broker */
  cluster?: ClusterView;
  /**
   * Appended to every collector's client id when several instances may watch one broker: two
   * connections with one client id take the session from each other (MQTT 3.1.4-2), and each
   * would see the broker flap.
   */
  clientIdSuffix?: string;
  /** the suffix another instance's collectors append (clientIdSuffix of that instance), to adopt its sessions */
  clientIdSuffixOf?: (instance: string) => string;
  /**
   * The address this instance connects to for a broker's URL (default: the URL). Tests put a TCP
   * proxy between one instance and a broker to cut only that instance's path.
   */
  route?: (url: string) => string;
}

export interface ClusterView {
  /** live instance names, this one included */
  live(): string[];
  /** how many instances watch each broker (config `watchers`) */
  watchers: number;
  /** how long an instance's heartbeat stays fresh: its views count while it does */
  ttlMs: number;
}

/** Without a cluster, views are merged as if from instances alive this long (a single process). */
const SINGLE_INSTANCE_TTL_MS = 24 * 3600_000;

/**
 * What, when changed, needs a new connection. The password is compared decrypted: every instance
 * re-applies brokerwatch.yaml at its start, which encrypts the same password anew (a fresh IV),
 * and that must not make the other instances reconnect.
 */
function connectionKey(b: BrokerRow, secret: string): string {
  let password: string | null = b.passwordEnc;
  if (b.passwordEnc) {
    try {
      password = decryptSecret(b.passwordEnc, secret, brokerSecretAddress(b.url));
    } catch {
      // compared as stored; add() reports the problem
    }
  }
  return JSON.stringify([
    b.url,
    b.dialect,
    b.username,
    password,
    b.sysTopicPrefix,
    b.clientId,
    b.maxConnections,
    b.metricsUrl,
    b.amqpUrl,
    b.monitorUrl,
    b.natsUrl,
  ]);
}

/** One monitored broker's collector: over MQTT ($SYS), or by scraping (scrape.ts). */
export type Collector = BrokerCollector | ScrapeCollector;

/** Disconnects counted over this window make `mqtt_disconnects_per_minute`. */
const RATE_WINDOW_MS = 60_000;
/** A reason keeps being reported (as 0) this long after its last disconnect, so graphs fall back to 0. */
const RATE_MEMORY_MS = 10 * 60_000;
/** Brokers whose status is re-merged at once on a heartbeat (see rebalance). */
const REBALANCE_CONCURRENCY = 2;

export class CollectorManager extends EventEmitter<{
  /** this instance's collector saw the broker go up or down */
  status: [StatusChange];
  /**
   * The broker's status merged over every live watcher changed (brokers.status): down only when
   * no watcher sees it up. Emitted by the one instance whose view made the change, so once per
   * change across instances (mergeBrokerStatus runs under a per-broker lock).
   */
  merged: [StatusChange];
  heartbeat: [string, UptimeBeat];
}> {
  private readonly collectors = new Map<string, Collector>();
  private brokers: BrokerRow[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly disconnects = new Map<string, Map<string, number[]>>();
  private readonly log: (line: string) => void;
  private readonly instance: string;
  private reloading: Promise<void> = Promise.resolve();
  /** brokers this instance watches together with other instances (see BrokerCollector.sharedView) */
  private shared = new Set<string>();
  private started = false;
  /** the heartbeat's re-merge under way, if any: a slow one is not stacked on by the next beat */
  private rebalancing: Promise<void> | null = null;
  /** the live instances (sorted, joined) every view was last re-merged for by rebalance() */
  private mergedForLive: string | null = null;

  constructor(
    private readonly database: Database,
    private readonly writer: IngestWriter,
    private readonly opts: ManagerOptions,
  ) {
    super();
    this.log = opts.log ?? ((line) => console.log(line));
    this.instance = opts.instance ?? "local";
    writer.on("full", () => this.collectors.forEach((c) => c.pause()));
    writer.on("drained", () => this.collectors.forEach((c) => c.resume()));
  }

  list(): Collector[] {
    return [...this.collectors.values()];
  }

  get(name: string): Collector | undefined {
    return this.collectors.get(name);
  }

  /** Names of the brokers this instance watches now. */
  watching(): string[] {
    return [...this.collectors.keys()].sort();
  }

  async start(): Promise<void> {
    const rows = await listBrokers(this.database.db);
    const seenByOthers = await brokersSeenUpByOthers(
      this.database.db,
      rows.map((b) => b.name),
      this.instance,
      this.ttlMs,
    );
    for (const broker of rows) {
      // Nobody was watching while brokerwatch was stopped: say so, from the last time it saw the
      // broker. Another live instance that sees it up was watching, so there is no gap.
      if (broker.lastSeenAt && !seenByOthers.has(broker.name))
        await openGap(this.database.db, broker.name, broker.lastSeenAt, "brokerwatch was not running");
    }
    await this.reload();
    this.started = true;
    this.timer = setInterval(() => void this.tick(), this.opts.rollupEveryMs ?? 5000);
    this.timer.unref();
  }

  /**
   * Re-read the brokers table after an edit (UI or API): start collectors for new or re-enabled
   * brokers, stop disabled ones, restart those whose connection settings changed.
   */
  reload(): Promise<void> {
    // One at a time: an edit in the UI and a cluster heartbeat may ask at once.
    const run = this.reloading.then(() => this.reloadNow());
    this.reloading = run.catch(() => {});
    return run;
  }

  /**
   * Cluster heartbeat: re-read brokers and live instances, watch what is now ours, and refresh
   * our view of each broker we watch (which re-merges its status: a watcher that died no longer
   * counts once its heartbeat is stale).
   */
  async rebalance(): Promise<void> {
    if (!this.started || this.rebalancing) return;
    const run = (async () => {
      await this.reload();
      // Every view is re-merged every few seconds by tick() anyway; a heartbeat adds something only
      // when the live instances changed (a watcher died or joined). Re-merging 100 brokers at once
      // on every beat (each a transaction of ~7 statements) held the whole connection pool for
      // hundreds of ms every 2 s, so a request arriving then waited behind them (history p99 over
      // HTTP 1.3 s against 90 ms for its query alone, in bench/history.ts).
      const live = [...(this.opts.cluster?.live() ?? [])].sort().join("\n");
      if (live === this.mergedForLive) return;
      // a few brokers at a time, so the pool keeps connections free for requests
      const queue = this.list();
      const next = async (): Promise<void> => {
        for (let c = queue.shift(); c; c = queue.shift())
          await this.observe(c.broker.name, c.status, c.lastSeenAt, "no watcher sees it");
      };
      await Promise.all(Array.from({ length: REBALANCE_CONCURRENCY }, next));
      this.mergedForLive = live;
    })();
    this.rebalancing = run;
    try {
      await run;
    } finally {
      this.rebalancing = null;
    }
  }

  private async reloadNow(): Promise<void> {
    const rows = await listBrokers(this.database.db, { includeDisabled: true });
    const enabled = rows.filter((b) => b.enabled);
    const mine = this.assignment(enabled);
    const wanted = new Map(enabled.filter((b) => mine.has(b.name)).map((b) => [b.name, b]));
    const dropped: string[] = [];
    for (const [name, collector] of this.collectors) {
      const row = wanted.get(name);
      const old = this.brokers.find((b) => b.name === name);
      if (!row || !old || connectionKey(row, this.opts.secret) !== connectionKey(old, this.opts.secret)) {
        await collector.stop();
        this.collectors.delete(name);
        if (!row) dropped.push(name);
        if (!rows.some((b) => b.name === name && b.enabled))
          await setBrokerStatus(this.database.db, name, "unknown", null);
      }
    }
    this.brokers = enabled;
    for (const row of wanted.values()) if (!this.collectors.has(row.name)) this.add(row);
    if (dropped.length) {
      this.log(`brokerwatch: instance ${this.instance} no longer watches ${dropped.join(", ")}`);
      await forgetObservations(this.database.db, this.instance, this.watching());
    }
  }

  /** The enabled brokers this instance should watch. */
  private assignment(enabled: BrokerRow[]): Set<string> {
    const cluster = this.opts.cluster;
    const mine = new Set<string>();
    const shared: string[] = [];
    for (const b of enabled) {
      // The bundled broker lives in one process, which alone has its monitor account: it watches it.
      if (b.source === "builtin" && b.dialect === "bundled" && this.opts.bundledUrl !== undefined) {
        if (b.url === this.opts.bundledUrl) mine.add(b.name);
      } else shared.push(b.name);
    }
    if (!cluster) {
      for (const name of shared) mine.add(name);
      return mine;
    }
    const together = new Set<string>();
    for (const [broker, watchers] of assignWatchers(shared, cluster.live(), cluster.watchers)) {
      if (!watchers.includes(this.instance)) continue;
      mine.add(broker);
      if (watchers.length > 1) together.add(broker);
    }
    this.shared = together;
    return mine;
  }

  private get ttlMs(): number {
    return this.opts.cluster?.ttlMs ?? SINGLE_INSTANCE_TTL_MS;
  }

  /** Stores this instance's view of a broker and re-merges the broker's status from every live view. */
  private async observe(
    broker: string,
    status: StatusChange["to"],
    lastSeenAt: Date | null,
    why: string,
  ): Promise<void> {
    const db = this.database.db;
    try {
      await recordObservation(db, { broker, instance: this.instance, status, lastSeenAt });
      const merged = await mergeBrokerStatus(db, broker, this.ttlMs, new Date(), why);
      if (merged?.changed && this.opts.cluster)
        this.log(`brokerwatch: broker ${broker} is ${merged.to} as its watchers see it (was ${merged.from})`);
      if (merged?.changed)
        this.emit("merged", {
          broker,
          from: merged.from as BrokerStatus,
          to: merged.to,
          at: new Date(),
          lastSeenAt: merged.lastSeenAt,
          why,
        });
      // A shared watcher that sees the broker down stores the 0 only when no live watcher sees it up.
      const collector = this.collectors.get(broker);
      if (merged?.to === "down" && status === "down" && collector?.sharedView()) {
        const sample = brokerUpSample(broker, "down", new Date());
        collector.latest.set("mqtt_broker_up|", { ...sample, metric: "mqtt_broker_up" });
        this.writer.enqueue({ samples: [sample] });
      }
    } catch (err) {
      this.log(`brokerwatch: recording ${broker}'s status failed: ${(err as Error).message}`);
    }
  }

  async stop(): Promise<void> {
    this.started = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.reloading;
    await Promise.all(this.list().map((c) => c.stop()));
    await this.tick().catch(() => {});
    this.collectors.clear();
    // The others take over at once; our views must not keep the brokers "up" meanwhile.
    if (this.opts.cluster) await forgetObservations(this.database.db, this.instance).catch(() => {});
  }

  /**
   * Takes over gone instances' broker sessions (issue 19 §2): for every broker watched over MQTT,
   * connects with each gone instance's collector ClientID, stores what was queued there and ends
   * the session (BrokerCollector.drain). The caller claimed these instances (db/instances.ts
   * claimGoneInstances), so each is adopted once, by one instance. Not the bundled broker: only
   * the process running it has its monitor account, and it went with that process.
   */
  async adoptSessions(gone: string[]): Promise<void> {
    const suffixOf = this.opts.clientIdSuffixOf;
    if (!suffixOf || gone.length === 0) return;
    const rows = (await listBrokers(this.database.db)).filter(
      (b) => b.enabled && !isScrapeDialect(b.dialect) && !(b.source === "builtin" && b.dialect === "bundled"),
    );
    for (const instance of gone) {
      for (const row of rows) {
        const collector = this.build(row, {
          clientId: (row.clientId ?? `brokerwatch-${this.opts.installationId}-${row.name}`) + suffixOf(instance),
        });
        if (!(collector instanceof BrokerCollector)) continue;
        const result = await collector.drain();
        if (result.messages > 0 || !result.ended)
          this.log(
            `brokerwatch: adopted instance ${instance}'s session on ${row.name}: ${result.messages} queued message(s) stored` +
              (result.ended ? ", session ended" : ", session left to expire"),
          );
      }
    }
  }

  private add(broker: BrokerRow): void {
    const collector = this.build(broker);
    collector.sharedView = () => this.shared.has(broker.name);
    collector.on("status", (change) => void this.onStatus(change));
    // broker incidents (lib/incidents/tracker.ts) watch uptime for restarts the connection did not show
    if (collector instanceof BrokerCollector)
      collector.on("heartbeat", (beat) => this.emit("heartbeat", broker.name, beat));
    collector.on("events", (events) => this.countDisconnects(broker.name, events));
    if (collector instanceof ScrapeCollector) collector.on("gap", (gap) => void this.recordMissed(gap));
    collector.on("version", (version) => void this.detection(broker.name, { version }));
    collector.on("detected", (dialect) => void this.detection(broker.name, { detectedDialect: dialect }));
    if (this.writer.isFull) collector.pause();
    this.collectors.set(broker.name, collector);
    collector.start();
  }

  private build(broker: BrokerRow, override: { clientId?: string } = {}): Collector {
    let password: string | null = null;
    if (broker.passwordEnc) {
      try {
        password = decryptSecret(broker.passwordEnc, this.opts.secret, brokerSecretAddress(broker.url));
      } catch (err) {
        this.log(`brokerwatch: broker ${broker.name}: ${(err as Error).message}; connecting without a password`);
      }
    }
    const bundled =
      broker.source === "builtin" && broker.dialect === "bundled" ? this.opts.bundledCredentials : undefined;
    const collected = {
      name: broker.name,
      url: this.opts.route?.(broker.url) ?? broker.url,
      dialect: broker.dialect as DialectSetting,
      username: bundled?.username ?? broker.username,
      password: bundled?.password ?? password,
      sysTopicPrefix: broker.sysTopicPrefix,
      maxConnections: broker.maxConnections,
      clientId:
        override.clientId ??
        (broker.clientId ?? `brokerwatch-${this.opts.installationId}-${broker.name}`) + (this.opts.clientIdSuffix ?? ""),
    };
    const timing = this.opts.timing ?? DEFAULT_TIMING;
    // Brokers without $SYS (rabbitmq, hivemq) are scraped, not subscribed to: scrape.ts
    return isScrapeDialect(broker.dialect)
      ? new ScrapeCollector(
          {
            ...collected,
            metricsUrl: broker.metricsUrl,
            amqpUrl: broker.amqpUrl,
            monitorUrl: broker.monitorUrl,
            natsUrl: broker.natsUrl,
          },
          this.writer,
          timing,
          this.log,
        )
      : new BrokerCollector(collected, this.writer, timing, this.log);
  }

  /** A source knows it missed events (a NATS ring that wrapped): kept as a closed gap, shown where history is. */
  private async recordMissed(gap: { broker: string; from: Date; to: Date; why: string }): Promise<void> {
    await recordGap(this.database.db, gap.broker, gap.from, gap.to, gap.why).catch((err: Error) =>
      this.log(`brokerwatch: recording a gap for ${gap.broker} failed: ${err.message}`),
    );
  }

  private async detection(name: string, change: Parameters<typeof updateBrokerDetection>[2]): Promise<void> {
    await updateBrokerDetection(this.database.db, name, change).catch((err: Error) =>
      this.log(`brokerwatch: recording ${name}'s version/dialect failed: ${err.message}`),
    );
  }

  private async onStatus(change: StatusChange): Promise<void> {
    if (change.to === "down" || change.to === "up") {
      this.log(`brokerwatch: broker ${change.broker} is ${change.to} (${change.why})`);
    }
    // A shared watcher's "down" is stored (as mqtt_broker_up 0) only after the merge: announce it
    // after that, so the alert round it triggers reads the merged value.
    const mergeFirst = change.to === "down" && this.collectors.get(change.broker)?.sharedView();
    if (!mergeFirst) this.emit("status", change);
    await this.observe(change.broker, change.to, change.lastSeenAt, change.why);
    if (mergeFirst) this.emit("status", change);
  }

  /** Events stored from shipped log lines count towards mqtt_disconnects_per_minute like collected ones. */
  noteShippedEvents(broker: string, events: EventRow[]): void {
    this.countDisconnects(broker, events);
  }

  private countDisconnects(broker: string, events: EventRow[]): void {
    let byReason = this.disconnects.get(broker);
    for (const e of events) {
      if (e.type !== "disconnected") continue;
      if (!byReason) this.disconnects.set(broker, (byReason = new Map()));
      const reason = e.reason ?? "unknown";
      const times = byReason.get(reason) ?? [];
      times.push(e.receivedAt.getTime());
      byReason.set(reason, times);
    }
  }

  /** Periodic rows: lastSeenAt, cluster liveness, disconnects per minute by reason. */
  private async tick(): Promise<void> {
    const now = Date.now();
    const ts = new Date(now);
    const samples: SampleRow[] = [];

    for (const [broker, byReason] of this.disconnects) {
      for (const [reason, times] of byReason) {
        while (times.length && times[0] < now - RATE_MEMORY_MS) times.shift();
        if (times.length === 0) {
          byReason.delete(reason);
          continue;
        }
        const lastMinute = times.filter((t) => t > now - RATE_WINDOW_MS).length;
        samples.push({
          broker,
          node: "",
          metric: "mqtt_disconnects_per_minute",
          labels: { reason },
          ts,
          value: lastMinute,
        });
      }
    }

    for (const [cluster, { alive, expected }] of this.clusters()) {
      samples.push({ broker: "", node: "", metric: "mqtt_cluster_nodes_alive", labels: { cluster }, ts, value: alive });
      samples.push({
        broker: "",
        node: "",
        metric: "mqtt_cluster_nodes_expected",
        labels: { cluster },
        ts,
        value: expected,
      });
    }
    if (samples.length) this.writer.enqueue({ samples });

    for (const collector of this.collectors.values()) {
      if (collector.lastSeenAt)
        await this.observe(collector.broker.name, collector.status, collector.lastSeenAt, "no watcher sees it");
    }
  }

  /**
   * Clusters and their liveness. Brokers sharing `cluster` are its nodes (one collector each);
   * an EMQX connection sees every node of its cluster through `$SYS/brokers`, so there the nodes
   * are counted from their heartbeats.
   */
  clusters(): Map<string, { alive: number; expected: number }> {
    const out = new Map<string, { alive: number; expected: number }>();
    const groups = new Map<string, BrokerRow[]>();
    for (const b of this.brokers) {
      if (!b.enabled) continue;
      const collector = this.collectors.get(b.name);
      const multiNode = collector?.detectedDialect === "emqx";
      const key = b.cluster ?? (multiNode || b.expectedNodes ? b.name : null);
      if (!key) continue;
      groups.set(key, [...(groups.get(key) ?? []), b]);
    }
    for (const [cluster, members] of groups) {
      let alive = 0;
      let seen = 0;
      for (const m of members) {
        const c = this.collectors.get(m.name);
        if (c?.detectedDialect === "emqx") {
          alive += c.nodesAlive;
          seen += Math.max(c.knownNodes.length, c.nodesAlive, 1);
        } else {
          // A node another instance watches counts as its merged status says (brokers.status).
          alive += (c?.status ?? m.status) === "up" ? 1 : 0;
          seen += 1;
        }
      }
      const configured = Math.max(0, ...members.map((m) => m.expectedNodes ?? 0));
      out.set(cluster, { alive, expected: configured || seen });
    }
    return out;
  }
}
