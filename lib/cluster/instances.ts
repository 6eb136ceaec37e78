import { threadId } from "node:worker_threads";
import { listInstances } from "@/db/instances";
import { getRuntime } from "@/lib/runtime";
import { DEFAULT_TTL_MS } from "./cluster";

/** An instance as GET /api/instances, the Settings → Instances page and /metrics show it. */
export interface InstanceView {
  name: string;
  /** the UI on that instance */
  url: string | null;
  startedAt: Date;
  /** its last heartbeat */
  lastSeenAt: Date;
  /** set when it stopped cleanly */
  stoppedAt: Date | null;
  /** heartbeat fresher than the lease TTL and not stopped */
  up: boolean;
  /** holds the leader lease: it evaluates the alert rules */
  leader: boolean;
  /** brokers it watches, as of its last heartbeat (none once it is down) */
  watching: string[];
  /** the instance that answered this request */
  self: boolean;
}

/** Instances seen in the last day stay listed, so a dead one shows as down rather than vanishing. */
const LISTED_FOR_MS = 24 * 3600_000;

export async function instanceViews(): Promise<InstanceView[]> {
  const { database, cluster } = getRuntime();
  const rows = await listInstances(database.db, cluster?.ttlMs ?? DEFAULT_TTL_MS, LISTED_FOR_MS);
  return rows.map((r) => {
    const self = r.name === cluster?.name;
    return {
      name: r.name,
      url: r.url,
      startedAt: r.startedAt,
      lastSeenAt: r.heartbeatAt,
      stoppedAt: r.stoppedAt,
      up: r.live,
      // PGlite's single instance leads without a lease row
      leader: r.live && (r.leader || (self && cluster!.isLeader)),
      watching: r.live ? r.watching : [],
      self,
    };
  });
}

/**
 * Where this instance collects: in a worker thread of its own (server/ingest-thread.ts) or in the
 * thread that serves the web (`inline`: PGlite, or BROKERWATCH_INGEST=inline).
 */
export function ingestPlacement(): { mode: "worker" | "inline"; threadId: number; webThreadId: number } {
  const ingest = getRuntime().ingest ?? { mode: "inline", threadId };
  return { ...ingest, webThreadId: threadId };
}
