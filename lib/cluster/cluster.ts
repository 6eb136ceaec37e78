import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import type { Database } from "@/db/client";
import {
  acquireLease,
  claimInstanceName,
  heartbeatInstance,
  liveInstanceNames,
  markInstanceStopped,
  pruneInstances,
  releaseLease,
  setInstanceUrl,
} from "@/db/instances";
import type { InstanceRow } from "@/db/schema";

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

/**
 * The default instance name: the machine's hostname (a pod's name, a container's hostname) and the
 * web port. Never the bind address: `HOSTNAME=0.0.0.0` is the same on every host, and two
 * instances sharing a name share their collectors' ClientIDs and take the sessions from each other.
 */
export function defaultInstanceName(machineHostname: string, port: number): string {
  return `${machineHostname}:${port}`;
}

/** A second live process claimed this process's instance name: the start stops with this message. */
export class InstanceNameTaken extends Error {
  constructor(
    readonly name: string,
    readonly holder: Pick<InstanceRow, "url" | "startedAt" | "heartbeatAt">,
  ) {
    super(
      `instance name "${name}" is held by another live brokerwatch process (started ${holder.startedAt.toISOString()}, ` +
        `heartbeat renewed ${holder.heartbeatAt.toISOString()}${holder.url ? `, UI ${holder.url}` : ""}); ` +
        "two processes with one name would share their collectors' MQTT ClientIDs and take the sessions from each other. " +
        "Stop the other process or give this one its own name (BROKERWATCH_INSTANCE)",
    );
  }
}

export class Cluster extends EventEmitter<{ beat: [string[]]; leader: [boolean]; evicted: [] }> {
  readonly name: string;
  /** tells this process's row from another process's claiming the same name */
  readonly token = randomUUID();
  private evicted = false;
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

  /** another process claimed this instance's name (see beat) */
  get isEvicted(): boolean {
    return this.evicted;
  }

  /**
   * Claims this instance's name, registers it and runs the first heartbeat (membership known,
   * leader lease tried). A name held by another process whose heartbeat is fresh is either this
   * process's previous life (SIGKILLed less than a TTL ago: its heartbeat stops) or a second live
   * process (its heartbeat moves on): wait until one of the two shows, at most a TTL and a beat,
   * and refuse the start (InstanceNameTaken) in the second case.
   */
  async start(): Promise<void> {
    const db = this.database.db;
    if (this.opts.alone) {
      // PGlite: the data directory admits one process, so nobody else can hold the name.
      await claimInstanceName(db, this.name, this.url, this.token, 0);
    } else {
      let firstBeat: number | null = null;
      let told = false;
      for (;;) {
        const claim = await claimInstanceName(db, this.name, this.url, this.token, this.ttlMs);
        if (claim.claimed) break;
        const beat = claim.holder.heartbeatAt.getTime();
        if (firstBeat === null) firstBeat = beat;
        else if (beat > firstBeat) throw new InstanceNameTaken(this.name, claim.holder);
        if (!told) {
          told = true;
          this.log(
            `brokerwatch: instance name ${this.name} was renewed by another process ${Math.max(0, Math.round((Date.now() - beat) / 100) / 10)} s ago; ` +
              "waiting to see whether it is alive (it refuses this start) or this process's previous life (its lease runs out)",
          );
        }
        await new Promise((r) => setTimeout(r, Math.min(500, this.heartbeatMs / 2)));
      }
    }
    await pruneInstances(db, FORGET_AFTER_MS).catch(() => {});
    await this.beat();
    this.timer = setInterval(() => this.beatNow(), this.heartbeatMs);
    this.timer.unref();
  }

  setUrl(url: string): void {
    this.url = url;
    void setInstanceUrl(this.database.db, this.name, this.token, url).catch(() => {});
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
    await markInstanceStopped(db, this.name, this.token).catch(() => {});
  }

  private async beat(): Promise<void> {
    const started = Date.now();
    try {
      const db = this.database.db;
      if (!(await heartbeatInstance(db, this.name, this.token, this.watching()))) {
        // Paused (or cut off from the database) past the TTL, and meanwhile another process took
        // the name: this one must not go on as if it were that instance.
        if (!this.evicted) {
          this.evicted = true;
          this.log(
            `brokerwatch: ERROR: instance name ${this.name} was claimed by another process while this one did not renew it; ` +
              "this process stops watching brokers and leading (restart it, with its own BROKERWATCH_INSTANCE if both should run)",
          );
          this.setLeader(false);
          this.emit("evicted");
        }
        return;
      }
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
