import { EventEmitter } from "node:events";
import type { Database } from "@/db/client";
import {
  acquireLease,
  heartbeatInstance,
  liveInstanceNames,
  markInstanceStopped,
  pruneInstances,
  registerInstance,
  releaseLease,
} from "@/db/instances";

/**
 * This process's membership of its deployment: every instance sharing one database renews a
 * heartbeat row, and at most one holds the `leader` lease (it runs the alert rules). Both are
 * leases on the database clock with a TTL: an instance that dies (SIGKILL, power, partition) stops
 * renewing, and within the TTL the others see it gone and take over its brokers and, if it led,
 * the evaluation. A clean stop marks the row stopped and releases the lease, so the others take
 * over at their next heartbeat instead of after the TTL. See the README, "Running several
 * instances".
 */
export interface ClusterOptions {
  /** BROKERWATCH_INSTANCE, or host:port of the web listener */
  name: string;
  url?: string | null;
  /** how long a heartbeat or a lease stays valid without renewal (≤ 10 s) */
  ttlMs?: number;
  /** how often heartbeats and the leader lease are renewed */
  heartbeatMs?: number;
  /**
   * The only process there can be (embedded PGlite, whose directory admits one process): it leads
   * without a lease, so a restart under a new name need not wait out the old one's lease.
   */
  alone?: boolean;
  log?: (line: string) => void;
}

export const DEFAULT_TTL_MS = 8000;
export const DEFAULT_HEARTBEAT_MS = 2000;
/** Instances not seen for a day drop off the list. */
const FORGET_AFTER_MS = 24 * 3600_000;

export const LEADER_LEASE = "leader";

export class Cluster extends EventEmitter<{ beat: [string[]]; leader: [boolean] }> {
  readonly name: string;
  readonly ttlMs: number;
  readonly heartbeatMs: number;
  private readonly log: (line: string) => void;
  private timer: NodeJS.Timeout | null = null;
  private beating: Promise<void> | null = null;
  private leader = false;
  /** local deadline of the leader lease: past it, stop acting as leader even if the database is unreachable */
  private leaderUntil = 0;
  private failure: string | null = null;
  private url: string | null;
  /** live instance names as of the last heartbeat, this one included */
  live: string[] = [];
  /** what this instance watches, reported with each heartbeat */
  watching: () => string[] = () => [];

  constructor(
    private readonly database: Database,
    private readonly opts: ClusterOptions,
  ) {
    super();
    this.name = opts.name;
    this.ttlMs = opts.ttlMs ?? DEFAULT_TTL_MS;
    this.heartbeatMs = opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.log = opts.log ?? ((line) => console.log(line));
    this.live = [this.name];
    this.url = opts.url ?? null;
  }

  get isLeader(): boolean {
    return this.leader;
  }

  /** Registers this instance and runs the first heartbeat (membership known, leader lease tried). */
  async start(): Promise<void> {
    await registerInstance(this.database.db, this.name, this.url);
    await pruneInstances(this.database.db, FORGET_AFTER_MS).catch(() => {});
    await this.beat();
    this.timer = setInterval(() => this.beatNow(), this.heartbeatMs);
    this.timer.unref();
  }

  setUrl(url: string): void {
    this.url = url;
    void registerInstance(this.database.db, this.name, url).catch(() => {});
  }

  /** Runs a heartbeat now unless one is running. */
  beatNow(): Promise<void> {
    this.beating ??= this.beat().finally(() => (this.beating = null));
    return this.beating;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.beating;
    this.setLeader(false);
    const db = this.database.db;
    await releaseLease(db, LEADER_LEASE, this.name).catch(() => {});
    await markInstanceStopped(db, this.name).catch(() => {});
  }

  private async beat(): Promise<void> {
    const started = Date.now();
    try {
      const db = this.database.db;
      await heartbeatInstance(db, this.name, this.watching());
      const leads = this.opts.alone || (await acquireLease(db, LEADER_LEASE, this.name, this.ttlMs));
      // The lease runs from when the database granted it, at the latest `started`: count from there.
      if (leads) this.leaderUntil = started + this.ttlMs;
      const live = await liveInstanceNames(db, this.ttlMs);
      this.live = live.includes(this.name) ? live : [...live, this.name].sort();
      this.setLeader(leads);
      if (this.failure) this.log("brokerwatch: cluster heartbeat works again");
      this.failure = null;
      this.emit("beat", this.live);
    } catch (err) {
      const message = (err as Error).message;
      if (message !== this.failure) this.log(`brokerwatch: cluster heartbeat failed: ${message}`);
      this.failure = message;
      // Unable to renew: give up leadership once the lease may have run out, so two never evaluate.
      if (this.leader && Date.now() >= this.leaderUntil) this.setLeader(false);
    }
  }

  private setLeader(leads: boolean): void {
    if (leads === this.leader) return;
    this.leader = leads;
    this.log(
      `brokerwatch: instance ${this.name} ${leads ? "is now the leader (evaluates alert rules)" : "is no longer the leader"}`,
    );
    this.emit("leader", leads);
  }
}
