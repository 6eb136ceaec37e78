import v8 from "node:v8";
import { Worker } from "node:worker_threads";
import { openDatabase, type Database } from "@/db/client";
import type { EventRow } from "@/db/ingest";
import type { AlertView, EngineMetrics, RuleView } from "@/lib/alerts/engine";
import type { WriterStats } from "@/lib/collector/writer";
import type { DeliveryStats } from "@/lib/notify/outbox";
import {
  setRuntime,
  type AlertEngineView,
  type ClusterMembership,
  type CollectorsView,
  type CollectorView,
  type IngestPlacement,
  type Runtime,
  type WriterView,
} from "@/lib/runtime";
import type { ServiceOptions } from "./service";
import { StartError } from "./start-error";

const INGEST_SEMI_SPACE_MB = 16;

/**
 * Ingest off the web thread. With `npm start` on Postgres, the service's ingest side — bundled
 * broker, collectors and their dialect parsing, the write queue, incidents, the alert engine and
 * leadership, the webhook delivery worker, maintenance, this instance's heartbeat and leases —
 * runs in a worker thread (server/ingest-worker.ts) with its own event loop, so a page that takes
 * seconds to render delays no MQTT message and a burst of them slows no page. The web thread keeps
 * its own database pool for the pages and the API, and reads what only the worker knows (collector
 * status and latest gauges, alerts and rule states, writer and delivery counters, leadership) from
 * a mirror the worker refreshes over the message port; commands that change what the worker does
 * (reload the brokers after an edit, evaluate the rules now) go the other way.
 *
 * PGlite is Postgres inside this process, owned by one thread: there everything stays in one
 * thread ("inline"), as does BROKERWATCH_INGEST=inline.
 */

/** How often the worker sends its state over; also sent at once after each command. */
export const STATE_EVERY_MS = 250;

/** What the worker knows and the web side reads (structured-cloned: Maps and Dates survive). */
export interface IngestState {
  collectors: Map<string, CollectorView>;
  clusters: Map<string, { alive: number; expected: number }>;
  engine: { alerts: AlertView[]; rules: RuleView[]; metrics: EngineMetrics };
  writer: { stats: WriterStats; eventsPerSecond: number; queued: number; isFull: boolean };
  delivery: DeliveryStats;
  cluster: ClusterMembership;
}

export interface IngestStarted {
  bundledBrokerUrl: string | null;
  generatedAdminPassword: string | null;
  secret: string;
  threadId: number;
}

export type IngestCommand = { name: "reload" } | { name: "evaluate"; reason: string } | { name: "stop" };

export type ToWorker =
  | { kind: "call"; id: number; command: IngestCommand }
  | { kind: "shipped"; broker: string; events: EventRow[] }
  /** whether the web side has live streams open: only then are committed events sent over */
  | { kind: "watch-events"; on: boolean };

export type FromWorker =
  | { kind: "started"; started: IngestStarted; state: IngestState }
  | { kind: "start-failed"; message: string; code?: string; expected: boolean }
  | { kind: "state"; state: IngestState }
  | { kind: "events"; events: EventRow[] }
  | { kind: "done"; id: number; error?: string };

export interface Ingest {
  mode: IngestPlacement["mode"];
  /** the web side's database handle */
  database: Database;
  bundledBrokerUrl: string | null;
  generatedAdminPassword: string | null;
  stop(): Promise<void>;
}

/**
 * Start the service with its ingest side inline or in a worker thread, and set the runtime the
 * route handlers read. Throws StartError (or an error with `code` EADDRINUSE) as startService does.
 */
export async function startIngest(opts: ServiceOptions, mode: IngestPlacement["mode"]): Promise<Ingest> {
  if (mode === "inline") {
    // Loaded only here: in worker mode the web thread never loads the broker, collectors or engine.
    const { startService } = await import("./service");
    const service = await startService(opts);
    return {
      mode,
      database: service.database,
      bundledBrokerUrl: service.broker?.url ?? null,
      generatedAdminPassword: service.generatedAdminPassword,
      stop: () => service.stop(),
    };
  }
  if (!opts.databaseUrl) throw new StartError("ingest in a worker thread needs DATABASE_URL (Postgres)");

  // `npm start` gives the web thread a small young generation (--max-semi-space-size=2: idle RSS
  // ~50 MB lower, README "Running several instances"). V8 reads the flag when an isolate is made,
  // so raising it now gives the ingest thread V8's default (16 MB), where a storm's short-lived
  // objects die young; the web thread keeps its small one.
  v8.setFlagsFromString(`--max-semi-space-size=${INGEST_SEMI_SPACE_MB}`);
  // Workers inherit execArgv, so tsx and the `server-only` hooks are registered there too.
  const worker = new Worker(new URL("./ingest-worker-entry.mjs", import.meta.url), { workerData: opts });
  const mirror = new IngestMirror(worker);
  const started = await mirror.started;
  let database: Database;
  try {
    // The worker migrated the database; the pages and the API get a pool of their own.
    database = await openDatabase({ url: opts.databaseUrl });
  } catch (err) {
    await mirror.call({ name: "stop" }).catch(() => {});
    throw new StartError(`cannot open the database (DATABASE_URL): ${(err as Error).message}`);
  }
  const runtime: Runtime = {
    database,
    startedAt: new Date(),
    bundledBrokerUrl: started.bundledBrokerUrl,
    collectors: mirror.collectors,
    writer: mirror.writer,
    alertEngine: mirror.engine,
    deliveryWorker: mirror.delivery,
    secret: started.secret,
    cluster: mirror.cluster,
    ingest: { mode: "worker", threadId: started.threadId },
  };
  setRuntime(runtime);
  return {
    mode,
    database,
    bundledBrokerUrl: started.bundledBrokerUrl,
    generatedAdminPassword: started.generatedAdminPassword,
    async stop() {
      // The worker leaves the cluster, flushes the write queue and closes its pool first.
      await mirror.call({ name: "stop" });
      mirror.closing = true;
      setRuntime(undefined);
      await database.close();
      await worker.terminate();
    },
  };
}

/** The web side's view of the worker: its last state, and the commands that go to it. */
class IngestMirror {
  readonly started: Promise<IngestStarted>;
  closing = false;
  private state!: IngestState;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();

  readonly collectors: CollectorsView = {
    list: () => [...this.state.collectors.values()],
    get: (name) => this.state.collectors.get(name),
    clusters: () => new Map(this.state.clusters),
    noteShippedEvents: (broker, events) => this.post({ kind: "shipped", broker, events }),
    reload: () => this.call({ name: "reload" }),
  };

  readonly engine: AlertEngineView = {
    alerts: () => this.state.engine.alerts,
    ruleStates: () => this.state.engine.rules,
    metrics: () => this.state.engine.metrics,
    evaluateNow: (reason) =>
      void this.call({ name: "evaluate", reason }).catch((err: Error) =>
        console.error(`brokerwatch: asking the alert engine to evaluate: ${err.message}`),
      ),
  };

  readonly delivery: { readonly stats: Readonly<DeliveryStats> };
  readonly cluster: ClusterMembership;
  readonly writer: MirroredWriter;

  constructor(private readonly worker: Worker) {
    const mirror = this;
    this.delivery = {
      get stats() {
        return mirror.state.delivery;
      },
    };
    this.cluster = {
      get name() {
        return mirror.state.cluster.name;
      },
      get ttlMs() {
        return mirror.state.cluster.ttlMs;
      },
      get isLeader() {
        return mirror.state.cluster.isLeader;
      },
    };
    this.writer = new MirroredWriter(
      () => this.state.writer,
      (on) => this.post({ kind: "watch-events", on }),
    );

    this.started = new Promise<IngestStarted>((resolve, reject) => {
      worker.on("message", (message: FromWorker) => {
        switch (message.kind) {
          case "started":
            this.state = message.state;
            resolve(message.started);
            break;
          case "start-failed": {
            const err: Error & { code?: string } = message.expected
              ? new StartError(message.message)
              : new Error(message.message);
            if (message.code) err.code = message.code;
            reject(err);
            break;
          }
          case "state":
            this.state = message.state;
            break;
          case "events":
            this.writer.emitWritten(message.events);
            break;
          case "done": {
            const call = this.pending.get(message.id);
            this.pending.delete(message.id);
            if (message.error === undefined) call?.resolve();
            else call?.reject(new Error(message.error));
            break;
          }
        }
      });
      // The ingest side is half the service: if it dies, the process dies with it, as it would
      // have with everything in one thread (a supervisor restarts it; another instance takes over).
      worker.on("error", (err) => {
        reject(err);
        console.error("brokerwatch: the ingest worker failed:", err);
        process.exit(1);
      });
      worker.on("exit", (code) => {
        const err = new Error(`the ingest worker exited (${code})`);
        reject(err);
        for (const call of this.pending.values()) call.reject(err);
        this.pending.clear();
        if (!this.closing) {
          console.error(`brokerwatch: ${err.message}`);
          process.exit(1);
        }
      });
    });
  }

  post(message: ToWorker): void {
    this.worker.postMessage(message);
  }

  /** A command to the worker; resolves once it is done and the state it produced is here. */
  call(command: IngestCommand): Promise<void> {
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.post({ kind: "call", id, command });
    });
  }
}

/**
 * The writer as the web side sees it: counters from the worker's last state, and committed events
 * re-emitted as "written" — sent over only while a live stream listens (lib/live.ts detaches its
 * listener when the last stream closes), so a burst costs the web thread nothing when nobody watches.
 */
class MirroredWriter implements WriterView {
  private readonly listeners = new Set<(batch: { events: EventRow[] }) => void>();

  constructor(
    private readonly current: () => IngestState["writer"],
    private readonly watch: (on: boolean) => void,
  ) {}

  on(_event: "written", listener: (batch: { events: EventRow[] }) => void): this {
    if (this.listeners.size === 0) this.watch(true);
    this.listeners.add(listener);
    return this;
  }

  off(_event: "written", listener: (batch: { events: EventRow[] }) => void): this {
    if (this.listeners.delete(listener) && this.listeners.size === 0) this.watch(false);
    return this;
  }

  emitWritten(events: EventRow[]): void {
    for (const listener of [...this.listeners]) listener({ events });
  }

  get stats(): Readonly<WriterStats> {
    return this.current().stats;
  }

  eventsPerSecond(): number {
    return this.current().eventsPerSecond;
  }

  get queued(): number {
    return this.current().queued;
  }

  get isFull(): boolean {
    return this.current().isFull;
  }
}
