import { EventEmitter } from "node:events";
import type { Database } from "@/db/client";
import { listBrokers, setBrokerStatus, updateBrokerDetection } from "@/db/brokers";
import { closeGap, openGap } from "@/db/gaps";
import type { EventRow, SampleRow } from "@/db/ingest";
import type { BrokerRow } from "@/db/schema";
import { brokerSecretAddress, decryptSecret } from "../crypto";
import { BrokerCollector, DEFAULT_TIMING, type CollectorTiming, type StatusChange } from "./collector";
import type { DialectSetting } from "./index";
import type { IngestWriter } from "./writer";

/**
 * Runs one collector per enabled broker and turns what they see into the rows only a view
 * across brokers can produce: status and gaps in the database, cluster liveness, and the
 * disconnect rate by reason.
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
}

/** What, when changed, needs a new connection. */
function connectionKey(b: BrokerRow): string {
  return JSON.stringify([b.url, b.dialect, b.username, b.passwordEnc, b.sysTopicPrefix, b.clientId, b.maxConnections]);
}

/** Disconnects counted over this window make `mqtt_disconnects_per_minute`. */
const RATE_WINDOW_MS = 60_000;
/** A reason keeps being reported (as 0) this long after its last disconnect, so graphs fall back to 0. */
const RATE_MEMORY_MS = 10 * 60_000;

export class CollectorManager extends EventEmitter<{ status: [StatusChange] }> {
  private readonly collectors = new Map<string, BrokerCollector>();
  private brokers: BrokerRow[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly disconnects = new Map<string, Map<string, number[]>>();
  private readonly log: (line: string) => void;

  constructor(
    private readonly database: Database,
    private readonly writer: IngestWriter,
    private readonly opts: ManagerOptions,
  ) {
    super();
    this.log = opts.log ?? ((line) => console.log(line));
    writer.on("full", () => this.collectors.forEach((c) => c.pause()));
    writer.on("drained", () => this.collectors.forEach((c) => c.resume()));
  }

  list(): BrokerCollector[] {
    return [...this.collectors.values()];
  }

  get(name: string): BrokerCollector | undefined {
    return this.collectors.get(name);
  }

  async start(): Promise<void> {
    this.brokers = await listBrokers(this.database.db);
    for (const broker of this.brokers) {
      // The service was not watching while it was stopped: say so, from the last time it saw the broker.
      if (broker.lastSeenAt)
        await openGap(this.database.db, broker.name, broker.lastSeenAt, "brokerwatch was not running");
      this.add(broker);
    }
    this.timer = setInterval(() => void this.tick(), this.opts.rollupEveryMs ?? 5000);
    this.timer.unref();
  }

  /**
   * Re-read the brokers table after an edit (UI or API): start collectors for new or re-enabled
   * brokers, stop disabled ones, restart those whose connection settings changed.
   */
  async reload(): Promise<void> {
    const rows = await listBrokers(this.database.db, { includeDisabled: true });
    const wanted = new Map(rows.filter((b) => b.enabled).map((b) => [b.name, b]));
    for (const [name, collector] of this.collectors) {
      const row = wanted.get(name);
      const old = this.brokers.find((b) => b.name === name);
      if (!row || !old || connectionKey(row) !== connectionKey(old)) {
        await collector.stop();
        this.collectors.delete(name);
        if (!row) await setBrokerStatus(this.database.db, name, "unknown", null);
      }
    }
    this.brokers = [...wanted.values()];
    for (const row of this.brokers) if (!this.collectors.has(row.name)) this.add(row);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await Promise.all(this.list().map((c) => c.stop()));
    await this.tick().catch(() => {});
    this.collectors.clear();
  }

  private add(broker: BrokerRow): void {
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
    const collector = new BrokerCollector(
      {
        name: broker.name,
        url: broker.url,
        dialect: broker.dialect as DialectSetting,
        username: bundled?.username ?? broker.username,
        password: bundled?.password ?? password,
        sysTopicPrefix: broker.sysTopicPrefix,
        maxConnections: broker.maxConnections,
        clientId: broker.clientId ?? `brokerwatch-${this.opts.installationId}-${broker.name}`,
      },
      this.writer,
      this.opts.timing ?? DEFAULT_TIMING,
      this.log,
    );
    collector.on("status", (change) => void this.onStatus(change));
    collector.on("events", (events) => this.countDisconnects(broker.name, events));
    collector.on("version", (version) => void this.detection(broker.name, { version }));
    collector.on("detected", (dialect) => void this.detection(broker.name, { detectedDialect: dialect }));
    if (this.writer.isFull) collector.pause();
    this.collectors.set(broker.name, collector);
    collector.start();
  }

  private async detection(name: string, change: { version?: string; detectedDialect?: string }): Promise<void> {
    await updateBrokerDetection(this.database.db, name, change).catch((err: Error) =>
      this.log(`brokerwatch: recording ${name}'s version/dialect failed: ${err.message}`),
    );
  }

  private async onStatus(change: StatusChange): Promise<void> {
    if (change.to === "down" || change.to === "up") {
      this.log(`brokerwatch: broker ${change.broker} is ${change.to} (${change.why})`);
    }
    this.emit("status", change);
    try {
      const db = this.database.db;
      if (change.to === "down") await openGap(db, change.broker, change.lastSeenAt ?? change.at, change.why);
      if (change.to === "up") await closeGap(db, change.broker, change.at);
      await setBrokerStatus(db, change.broker, change.to, change.lastSeenAt);
    } catch (err) {
      this.log(`brokerwatch: recording ${change.broker}'s status failed: ${(err as Error).message}`);
    }
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
      if (collector.lastSeenAt) {
        await setBrokerStatus(this.database.db, collector.broker.name, collector.status, collector.lastSeenAt).catch(
          () => {},
        );
      }
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
          alive += c?.status === "up" ? 1 : 0;
          seen += 1;
        }
      }
      const configured = Math.max(0, ...members.map((m) => m.expectedNodes ?? 0));
      out.set(cluster, { alive, expected: configured || seen });
    }
    return out;
  }
}
