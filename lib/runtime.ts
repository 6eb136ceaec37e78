import type { Database } from "@/db/client";
import type { EventRow } from "@/db/ingest";
import type { BrokerStatus } from "@/db/vocabulary";
import type { AlertView, EngineMetrics, RuleView } from "./alerts/engine";
import type { MetricName } from "./metrics";
import type { DeliveryStats } from "./notify/outbox";
import type { WriterStats } from "./collector/writer";

/**
 * The running service's shared parts. `server/main.ts` creates them once; route handlers,
 * which Next bundles separately, reach the same objects through globalThis — a module-level
 * variable would be a different copy in each bundle.
 *
 * The ingest parts (collectors, writer, alert engine, delivery worker, cluster membership) are
 * typed by what the web side reads of them, not by their classes: in one thread they are the
 * running objects themselves; when ingest runs in a worker thread (server/ingest-thread.ts) they
 * are mirrors of its state, refreshed over the thread's message port, whose commands (reload,
 * evaluate now) go to the worker.
 */
export interface Runtime {
  database: Database;
  startedAt: Date;
  /** broker URL of the bundled broker, when it runs */
  bundledBrokerUrl: string | null;
  collectors?: CollectorsView;
  writer?: WriterView;
  /** the running alert engine; absent when it is not started (GET /api/alerts then reads alert_states) */
  alertEngine?: AlertEngineView;
  deliveryWorker?: { readonly stats: Readonly<DeliveryStats> };
  /** the service key that encrypts stored broker passwords and webhook secrets (settings routes) */
  secret?: string;
  /** this instance among those sharing the database */
  cluster?: ClusterMembership;
  /** where collectors, dialect parsing and the writer run (GET /api/health) */
  ingest?: IngestPlacement;
}

export interface IngestPlacement {
  /** "worker": a worker thread of this process; "inline": the web server's thread */
  mode: "worker" | "inline";
  /** worker_threads threadId of the thread running the collectors (0 is the main thread) */
  threadId: number;
}

/** A collector as the web side reads it (lib/collector: BrokerCollector, ScrapeCollector). */
export interface CollectorView {
  readonly broker: { readonly name: string; readonly clientId: string };
  readonly status: BrokerStatus;
  readonly lastSeenAt: Date | null;
  /** latest value per metric and node */
  readonly latest: ReadonlyMap<
    string,
    { metric: MetricName; node: string; labels: Record<string, string>; value: number; ts: Date }
  >;
}

export interface CollectorsView {
  list(): CollectorView[];
  get(name: string): CollectorView | undefined;
  clusters(): Map<string, { alive: number; expected: number }>;
  /** events stored from shipped log lines count towards mqtt_disconnects_per_minute */
  noteShippedEvents(broker: string, events: EventRow[]): void;
  /** re-read the brokers table after an edit; resolves once the collectors follow it */
  reload(): Promise<void>;
}

export interface WriterView {
  readonly stats: Readonly<WriterStats>;
  eventsPerSecond(): number;
  readonly queued: number;
  readonly isFull: boolean;
  /** committed connection events, for the live streams (lib/live.ts onCommittedEvents) */
  on(event: "written", listener: (batch: { events: EventRow[] }) => void): unknown;
  off(event: "written", listener: (batch: { events: EventRow[] }) => void): unknown;
}

export interface AlertEngineView {
  alerts(): AlertView[];
  ruleStates(): RuleView[];
  metrics(): EngineMetrics;
  evaluateNow(reason: string): void;
}

export interface ClusterMembership {
  readonly name: string;
  readonly ttlMs: number;
  readonly isLeader: boolean;
}

const KEY = Symbol.for("brokerwatch.runtime");
type Holder = { [KEY]?: Runtime };

export function setRuntime(runtime: Runtime | undefined): void {
  (globalThis as Holder)[KEY] = runtime;
}

export function getRuntime(): Runtime {
  const runtime = (globalThis as Holder)[KEY];
  if (!runtime) throw new Error("brokerwatch runtime not started: run the app with `npm start`");
  return runtime;
}
