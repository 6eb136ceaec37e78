import type { Database } from "@/db/client";
import {
  closeIncident,
  incidentSince,
  lastConnectSince,
  listOpenIncidents,
  openIncidentOf,
  openIncidentOnce,
  updateIncident,
} from "@/db/incidents";
import type { BrokerIncidentRow } from "@/db/schema";
import type { StatusChange, UptimeBeat } from "../collector/collector";
import type { CollectorManager } from "../collector/manager";
import { detectedByOf } from "./findings";
import { loadIncident } from "./load";

/**
 * Opens and closes broker incidents from what the collector manager reports (I/O edge; the
 * analysis is pure, in findings.ts):
 * - the broker's merged status going down opens one (`connection_lost` / `heartbeat_stale`); up
 *   again records `upAt`. Merged over every live watcher (manager `merged`): with several instances
 *   one watcher losing its connection is a partition of that instance, not an outage, and the one
 *   instance whose view changed the merged status is the one that records it;
 * - an uptime smaller than the last one marks the open incident a restart, or opens one
 *   (`uptime_reset`) when the connection never showed it (a bridge, or a restart between two reads),
 *   unless an incident since this watcher's last heartbeat already records it (another watcher saw
 *   it first, or this one was cut off while it happened);
 * - the closing job closes an incident once the broker is up and its clients have settled (no
 *   reconnect for `quietMs`, at least `minSettleMs` and at most `maxSettleMs` after up) and stores
 *   the cost and findings. Every instance runs it; the first to close an incident closes it.
 * The database keeps one open incident per broker (`broker_incidents_one_open`), whoever inserts.
 */
export interface IncidentTiming {
  /** an incident stays open at least this long after up, so late reconnects are counted */
  minSettleMs: number;
  /** ...closes once no client reconnected for this long */
  quietMs: number;
  /** ...and closes at this age after up whatever the reconnects (clients back within 5 min are counted) */
  maxSettleMs: number;
  /** how often the closing job runs */
  tickMs: number;
}

export const DEFAULT_INCIDENT_TIMING: IncidentTiming = {
  minSettleMs: 60_000,
  quietMs: 60_000,
  maxSettleMs: 5 * 60_000,
  tickMs: 10_000,
};

export interface IncidentTrackerOptions {
  timing?: Partial<IncidentTiming>;
  /** write what the collectors queued, so the analysis reads every event up to now */
  flush: () => Promise<void>;
  log?: (line: string) => void;
  now?: () => number;
}

export class IncidentTracker {
  private readonly timing: IncidentTiming;
  private readonly lastUptime = new Map<string, UptimeBeat>();
  /** per broker, so a heartbeat and a status change are applied in the order they happened */
  private readonly chains = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private closing: Promise<void> = Promise.resolve();
  private readonly log: (line: string) => void;
  private readonly now: () => number;
  private readonly onStatus = (change: StatusChange) => this.serial(change.broker, () => this.statusChanged(change));
  private readonly onHeartbeat = (broker: string, beat: UptimeBeat) =>
    this.serial(broker, () => this.heartbeat(broker, beat));

  constructor(
    private readonly database: Database,
    private readonly manager: CollectorManager,
    private readonly opts: IncidentTrackerOptions,
  ) {
    this.timing = { ...DEFAULT_INCIDENT_TIMING, ...opts.timing };
    this.log = opts.log ?? ((line) => console.log(line));
    this.now = opts.now ?? Date.now;
  }

  start(): void {
    this.manager.on("merged", this.onStatus);
    this.manager.on("heartbeat", this.onHeartbeat);
    this.timer = setInterval(() => void this.closeSettled(), this.timing.tickMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.manager.off("merged", this.onStatus);
    this.manager.off("heartbeat", this.onHeartbeat);
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await Promise.all([...this.chains.values(), this.closing]);
  }

  /** Everything queued so far has been applied (tests). */
  async idle(): Promise<void> {
    await Promise.all([...this.chains.values(), this.closing]);
  }

  private serial(broker: string, step: () => Promise<void>): void {
    const next = (this.chains.get(broker) ?? Promise.resolve())
      .then(step)
      .catch((err: Error) => this.log(`brokerwatch: incident of ${broker}: ${err.message}`));
    this.chains.set(broker, next);
  }

  private get db() {
    return this.database.db;
  }

  private async statusChanged(change: StatusChange): Promise<void> {
    if (change.to === "down" && change.from === "up") {
      const { row, opened } = await openIncidentOnce(this.db, {
        broker: change.broker,
        kind: "outage",
        detectedBy: detectedByOf(change.why),
        lastGoodAt: change.lastSeenAt ?? change.at,
        startedAt: change.at,
      });
      if (opened) this.log(`brokerwatch: incident ${row.id} opened: ${change.broker} is down (${change.why})`);
      else if (row.detectedBy === "uptime_reset" && row.upAt) {
        // The new process's first heartbeat was read before the merged "down" was recorded (a quick
        // restart while the database was busy): one restart, noticed first as the lost connection.
        await updateIncident(this.db, row.id, {
          detectedBy: detectedByOf(change.why),
          lastGoodAt: earliest(row.lastGoodAt, change.lastSeenAt ?? change.at),
        });
      }
    } else if (change.to === "up") {
      const open = await openIncidentOf(this.db, change.broker);
      if (open && !open.upAt) {
        await updateIncident(this.db, open.id, {
          upAt: change.at,
          downSeconds: Math.max(0, (change.at.getTime() - open.startedAt.getTime()) / 1000),
        });
      }
    }
  }

  private async heartbeat(broker: string, beat: UptimeBeat): Promise<void> {
    const key = `${broker}\u0000${beat.node}`;
    const previous = this.lastUptime.get(key);
    this.lastUptime.set(key, beat);
    if (!previous || beat.uptimeSeconds >= previous.uptimeSeconds) return;
    const open = await openIncidentOf(this.db, broker);
    if (open) {
      if (open.kind !== "restart") await updateIncident(this.db, open.id, { kind: "restart" });
      return;
    }
    if (await incidentSince(this.db, broker, previous.at)) return;
    // The connection never dropped (or came back before a status check): the uptime says when it started.
    const startedAgain = new Date(Math.max(previous.at.getTime(), beat.at.getTime() - beat.uptimeSeconds * 1000));
    const { row, opened } = await openIncidentOnce(this.db, {
      broker,
      kind: "restart",
      detectedBy: "uptime_reset",
      lastGoodAt: previous.at,
      startedAt: previous.at,
      upAt: startedAgain,
      downSeconds: (startedAgain.getTime() - previous.at.getTime()) / 1000,
    });
    if (opened) this.log(`brokerwatch: incident ${row.id} opened: ${broker} restarted (uptime went back)`);
  }

  /** The closing job: one run at a time. */
  closeSettled(): Promise<void> {
    this.closing = this.closing.then(() =>
      this.closeSettledNow().catch((err: Error) => this.log(`brokerwatch: closing incidents failed: ${err.message}`)),
    );
    return this.closing;
  }

  private async closeSettledNow(): Promise<void> {
    const now = this.now();
    const due: BrokerIncidentRow[] = [];
    for (const row of await listOpenIncidents(this.db)) {
      if (!row.upAt) continue;
      const sinceUp = now - row.upAt.getTime();
      if (sinceUp < this.timing.minSettleMs) continue;
      if (sinceUp < this.timing.maxSettleMs) {
        const last = await lastConnectSince(this.db, row.broker, row.upAt);
        if (last && now - last.getTime() < this.timing.quietMs) continue;
      }
      due.push(row);
    }
    if (due.length === 0) return;
    await this.opts.flush();
    for (const row of due) await this.close(row, new Date(now));
  }

  private async close(row: BrokerIncidentRow, now: Date): Promise<void> {
    const own = this.manager.get(row.broker)?.broker.clientId ?? null;
    const { input, analysis, detail } = await loadIncident(this.db, row, now, own);
    const { cost, findings } = analysis;
    const closed = await closeIncident(this.db, row.id, {
      kind: input.timeline.kind,
      endedAt: now,
      downSeconds: cost.downSeconds,
      clientsBefore: round(cost.clientsBefore),
      clientsDropped: cost.clientsDropped,
      clientsBack1m: cost.clientsBack1m,
      clientsBack5m: cost.clientsBack5m,
      clientsUnknown: cost.clientsUnknown.length,
      blindSeconds: cost.blindSeconds,
      sessionsBefore: round(cost.sessionsBefore),
      sessionsAfter: round(cost.sessionsAfter),
      queuedBefore: round(cost.queuedBefore),
      queuedAfter: round(cost.queuedAfter),
      findings,
      detail,
    });
    if (!closed) return;
    this.log(
      `brokerwatch: incident ${row.id} of ${row.broker} closed: ${findings.map((f) => f.code).join(", ") || "no findings"}`,
    );
  }
}

const round = (n: number | null) => (n === null ? null : Math.round(n));
const earliest = (a: Date, b: Date) => (a.getTime() <= b.getTime() ? a : b);
