import { createHash } from "node:crypto";
import os from "node:os";
import { threadId } from "node:worker_threads";
import { applyFileBrokers, upsertBroker } from "@/db/brokers";
import { migrateDatabase, openDatabase, type Database } from "@/db/client";
import { DEFAULT_RETENTION, enforceRetention, rollUpSamples, type RetentionSeconds } from "@/db/maintenance";
import type { NewBrokerRow } from "@/db/schema";
import { installationId } from "@/db/settings";
import { claimGoneInstances } from "@/db/instances";
import { startBundledBroker, type BundledBroker } from "@/broker/index";
import { ensureAdminUser, ensureServiceSecret } from "@/lib/auth/bootstrap";
import { Cluster, InstanceNameTaken } from "@/lib/cluster/cluster";
import { CollectorManager } from "@/lib/collector/manager";
import { DEFAULT_SESSION_EXPIRY_SECONDS, DEFAULT_TIMING, type CollectorTiming } from "@/lib/collector/collector";
import { IngestWriter } from "@/lib/collector/writer";
import { DEFAULT_WATCHERS, loadConfigFile, resolveConfigPath, type BrokerwatchConfig } from "@/lib/config";
import { brokerSecretAddress, encryptSecret } from "@/lib/crypto";
import { shareCommittedEvents } from "@/lib/live";
import { definitionColumns } from "@/lib/settings/brokers";
import { sealStoredSecrets } from "@/lib/settings/secrets";
import { setRuntime, type Runtime } from "@/lib/runtime";
import { AlertEngine } from "@/lib/alerts/engine";
import { ruleProvider } from "@/lib/alerts/rules";
import { loadRuleFiles } from "@/lib/config/rule-files";
import { Dispatcher } from "@/lib/notify/dispatch";
import { DeliveryWorker } from "@/lib/notify/outbox";
import { applyWebhookConfig } from "@/lib/notify/webhooks";
import { IncidentTracker, type IncidentTiming } from "@/lib/incidents/tracker";
import { StartError } from "./start-error";

/**
 * The service without its web server: database, bundled broker, write queue, collectors,
 * maintenance jobs. `server/main.ts` puts Next.js on top; tests and benchmarks use it directly.
 * Data flows one way: broker → collector (dialect) → writer (batches) → database.
 */
export interface ServiceOptions {
  databaseUrl?: string;
  dataDir: string;
  /** null: no bundled broker */
  bundled: {
    port: number;
    host: string;
    sysIntervalSeconds: number;
    users?: Map<string, string>;
    /** BUNDLED_MAX_PACKET_SIZE */
    maxPacketBytes?: number;
    /** BUNDLED_MAX_RETAINED_MESSAGES */
    maxRetainedMessages?: number;
    /** BUNDLED_MAX_RETAINED_BYTES */
    maxRetainedBytes?: number;
  } | null;
  configPath?: string | null;
  env?: Record<string, string | undefined>;
  adminPassword?: string;
  secret?: string;
  timing?: Partial<CollectorTiming>;
  writer?: { flushIntervalMs?: number; maxQueued?: number; batchSize?: number };
  /** the UI's own URL, for webhook backlinks; can be set later (PORT=0) with setExternalURL */
  externalURL?: string;
  /** alert evaluation interval, ms (default 1000) */
  evaluationIntervalMs?: number;
  /** this process's name among the instances on one database (BROKERWATCH_INSTANCE; default host:pid) */
  instanceName?: string;
  /** heartbeat and lease timing of the instances (tests shorten it) */
  cluster?: { ttlMs?: number; heartbeatMs?: number };
  /** when a broker incident counts as settled and closes (lib/incidents/tracker.ts) */
  incidents?: Partial<IncidentTiming>;
  log?: (line: string) => void;
  /**
   * Called after each alert round is saved, before its notifications are dispatched: the ingest
   * thread sends the web side its state then, so no page shows less than a webhook already said.
   */
  onAlertRound?: () => void;
}

export interface Service {
  database: Database;
  broker: BundledBroker | null;
  writer: IngestWriter;
  collectors: CollectorManager;
  config: BrokerwatchConfig | null;
  generatedAdminPassword: string | null;
  /** the service key (BROKERWATCH_SECRET or the data directory's secret.key) */
  secret: string;
  engine: AlertEngine;
  deliveryWorker: DeliveryWorker;
  cluster: Cluster;
  incidents: IncidentTracker;
  setExternalURL(url: string): void;
  stop(): Promise<void>;
}

const ROLLUP_EVERY_MS = 60_000;
const RETENTION_EVERY_MS = 60 * 60_000;

export { StartError };

export async function startService(opts: ServiceOptions): Promise<Service> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const env = opts.env ?? process.env;

  // The config file first: an invalid file stops the start before anything else happens.
  const configPath = opts.configPath === undefined ? resolveConfigPath(env) : opts.configPath;
  const config = configPath ? await loadConfigFile(configPath, env) : null;
  // Prometheus rule files: a bad rule is logged with its file:line:col and left out, never stops the start.
  const ruleFiles = configPath ? await loadRuleFiles(config?.ruleFiles ?? [], configPath) : null;
  for (const problem of ruleFiles?.problems ?? []) log(`brokerwatch: rule file ${problem}`);

  const database = await openDatabase({ url: opts.databaseUrl, dataDir: opts.dataDir }).catch((err: Error) => {
    throw new StartError(
      `cannot open the database (${opts.databaseUrl ? "DATABASE_URL" : opts.dataDir}): ${err.message}`,
    );
  });
  try {
    await migrateDatabase(database);
  } catch (err) {
    await database.close().catch(() => {});
    throw new StartError(`database migration failed: ${(err as Error).message}`);
  }
  const secret = await ensureServiceSecret(opts.dataDir, opts.secret);
  const { generatedPassword } = await ensureAdminUser(database.db, opts.adminPassword);
  const db = database.db;

  // Applied even without a file: a deleted brokerwatch.yaml disables what it defined (never deletes).
  await applyFileBrokers(
    db,
    (config?.brokers ?? []).map((b) => brokerRow(b, secret)),
  );
  await applyWebhookConfig(db, config?.webhooks ?? [], secret, config?.receivers ?? []);
  // Secrets an earlier version stored unbound (or header values in clear) are bound to their address.
  await sealStoredSecrets(db, secret, log);

  const instanceName = opts.instanceName ?? env.BROKERWATCH_INSTANCE ?? `${os.hostname()}:${process.pid}`;

  // On Postgres, one instance of the deployment runs the bundled broker (the others turn theirs off):
  // it is a single broker named `bundled`, and only the process it lives in can watch it. A session
  // advisory lock decides; it is released the moment that process or its connection dies.
  let broker: BundledBroker | null = null;
  let releaseBundledLock = async () => {};
  if (opts.bundled && database.postgres) {
    const lockConnection = await database.postgres.reserve();
    const [{ locked }] = await lockConnection<{ locked: boolean }[]>`
      select pg_try_advisory_lock(hashtext('brokerwatch.bundled-broker')) as locked`;
    if (locked) {
      releaseBundledLock = async () => {
        await lockConnection`select pg_advisory_unlock(hashtext('brokerwatch.bundled-broker'))`.catch(() => {});
        lockConnection.release();
      };
    } else {
      lockConnection.release();
      log("brokerwatch: bundled broker off: another instance on this database runs it");
    }
    if (!locked) opts = { ...opts, bundled: null };
  }
  if (opts.bundled) {
    broker = await startBundledBroker(opts.bundled);
    await upsertBroker(db, {
      name: "bundled",
      url: broker.url,
      dialect: "bundled",
      detectedDialect: "bundled",
      source: "builtin",
      enabled: true,
    });
  }

  const writer = new IngestWriter(database, { ...opts.writer, log });
  writer.start();
  // Instances: a heartbeat row each and a leader lease (lib/cluster). PGlite admits one process,
  // which leads without a lease.
  const cluster = new Cluster(database, {
    name: instanceName,
    url: opts.externalURL ?? null,
    alone: database.kind === "pglite",
    ...opts.cluster,
    log,
  });
  const clientIdSuffixOf = (name: string) => `-${createHash("sha256").update(name).digest("hex").slice(0, 6)}`;
  const sessionExpirySeconds = sessionExpiryOf(env.BROKERWATCH_SESSION_EXPIRY);
  const collectors = new CollectorManager(database, writer, {
    secret,
    installationId: await installationId(db),
    bundledCredentials: broker?.monitorCredentials,
    bundledUrl: broker?.url,
    timing: { ...DEFAULT_TIMING, sessionExpirySeconds, ...opts.timing },
    instance: instanceName,
    // PGlite admits one process; on Postgres another instance may watch the same broker.
    clientIdSuffix: database.kind === "postgres" ? clientIdSuffixOf(instanceName) : undefined,
    // ...and a gone instance's sessions (its own suffix) are taken over: adoptGone below
    clientIdSuffixOf: database.kind === "postgres" ? clientIdSuffixOf : undefined,
    cluster: { live: () => cluster.live, watchers: config?.watchers ?? DEFAULT_WATCHERS, ttlMs: cluster.ttlMs },
    log,
  });
  cluster.watching = () => collectors.watching();

  // Alerts: rules evaluated every second and at once when a broker goes up or down; what fires
  // goes through the dispatcher (grouping, silences) into the outbox the delivery worker drains.
  const deliveryWorker = new DeliveryWorker(database, { secret, log });
  deliveryWorker.start();
  // Both keep these option objects and read externalURL at use: setExternalURL can fill it in later.
  const dispatcherOptions = { externalURL: opts.externalURL ?? "", log, onEnqueued: () => deliveryWorker.wake() };
  const dispatcher = new Dispatcher(database, dispatcherOptions);
  const engineOptions = {
    intervalMs: opts.evaluationIntervalMs,
    rules: ruleProvider(db, config?.rules ?? [], ruleFiles?.rules ?? []),
    onRound: (snapshot: Parameters<Dispatcher["onEvaluation"]>[0]) => {
      opts.onAlertRound?.();
      return dispatcher.onEvaluation(snapshot);
    },
    externalURL: opts.externalURL ?? "",
    log,
  };
  const engine = new AlertEngine(database, engineOptions);

  // Exactly one instance evaluates: the leader. The others follow what it saves, so every
  // instance's API and pages show the same alerts; any instance delivers from the outbox.
  let leadership = Promise.resolve();
  const onLeader = (leads: boolean) => {
    leadership = leadership
      .then(() => (leads ? engine.start() : engine.stop()))
      .catch((err: Error) => log(`brokerwatch: ${leads ? "starting" : "stopping"} the alert engine: ${err.message}`));
  };
  cluster.on("leader", onLeader);
  // Gone instances' broker sessions (issue 19 §2), after this instance's own collectors subscribed
  // (rebalance first), so what the drained session no longer queues, ours does. Postgres only: on
  // PGlite every life of the one process uses the same ClientIDs, whatever its name.
  let adopting: Promise<void> | null = null;
  let collecting = false;
  const adoptGone = () => {
    if (!collecting || adopting || database.kind !== "postgres" || cluster.isEvicted) return;
    adopting = claimGoneInstances(db, instanceName, cluster.ttlMs, sessionExpirySeconds * 1000)
      .then((gone) => collectors.adoptSessions(gone))
      .catch((err: Error) => log(`brokerwatch: adopting gone instances' sessions failed: ${err.message}`))
      .finally(() => (adopting = null));
  };
  cluster.on("beat", () => {
    void collectors
      .rebalance()
      .then(adoptGone)
      .catch((err: Error) => log(`brokerwatch: rebalancing brokers failed: ${err.message}`));
    if (!cluster.isLeader) void engine.follow().catch(() => {});
  });
  try {
    await cluster.start();
  } catch (err) {
    await deliveryWorker.stop().catch(() => {});
    await writer.stop().catch(() => {});
    if (broker) await broker.close().catch(() => {});
    await releaseBundledLock();
    await database.close().catch(() => {});
    throw err instanceof InstanceNameTaken ? new StartError(err.message) : err;
  }
  cluster.on("evicted", () => {
    void collectors.stop().catch(() => {});
    void engine.stop().catch(() => {});
  });
  // Incidents listen before the first collector can report a status change.
  const incidents = new IncidentTracker(database, collectors, {
    timing: opts.incidents,
    flush: () => writer.flush(),
    log,
  });
  incidents.start();
  await collectors.start();
  collecting = true;
  adoptGone();
  await leadership;
  if (!cluster.isLeader) await engine.follow().catch(() => {});
  const stopSharing = await shareCommittedEvents(database, writer, instanceName, log);
  // The round reads mqtt_broker_up from the database, where the collector's new value is only
  // queued so far: write it first, or the round sees the old value and the page waits for the next
  // interval (bench/alert-latency: kill → webhook went from up to ~1 s to ~0.1 s). flush() writes
  // what is queued now, the new value included, and waits for it.
  collectors.on("status", (change) => {
    void writer.flush().finally(() => engine.evaluateNow(`broker ${change.broker} is ${change.to}`));
  });

  const retention: RetentionSeconds = config?.retention ?? DEFAULT_RETENTION;
  const runJob = (name: string, job: () => Promise<unknown>) => () =>
    void job().catch((err: Error) => log(`brokerwatch: ${name} failed: ${err.message}`));
  const rollupTimer = setInterval(
    runJob("rollup", () => rollUpSamples(db)),
    ROLLUP_EVERY_MS,
  );
  const retentionTimer = setInterval(
    runJob("retention", () => enforceRetention(db, retention)),
    RETENTION_EVERY_MS,
  );
  rollupTimer.unref();
  retentionTimer.unref();
  runJob("retention", () => enforceRetention(db, retention))();

  const runtime: Runtime = {
    database,
    startedAt: new Date(),
    bundledBrokerUrl: broker?.url ?? null,
    collectors,
    writer,
    alertEngine: engine,
    deliveryWorker,
    secret,
    cluster,
    ingest: { mode: "inline", threadId },
  };
  setRuntime(runtime);

  return {
    database,
    broker,
    writer,
    collectors,
    config,
    generatedAdminPassword: generatedPassword,
    secret,
    engine,
    deliveryWorker,
    cluster,
    incidents,
    setExternalURL(url: string) {
      dispatcherOptions.externalURL = url;
      engineOptions.externalURL = url;
      cluster.setUrl(url);
    },
    async stop() {
      clearInterval(rollupTimer);
      clearInterval(retentionTimer);
      // Reverse order: stop reading, flush what was read, then close the broker and the database.
      cluster.off("leader", onLeader);
      await incidents.stop();
      collecting = false;
      await adopting;
      await collectors.stop();
      await engine.stop();
      // Leave: the lease and this instance's brokers go to the others at once.
      await cluster.stop();
      await deliveryWorker.stop();
      await stopSharing();
      await writer.stop();
      if (broker) await broker.close();
      await releaseBundledLock();
      setRuntime(undefined);
      await database.close();
    },
  };
}

/** BROKERWATCH_SESSION_EXPIRY (seconds, validated in server/env.ts), default a day. */
function sessionExpiryOf(value: string | undefined): number {
  const seconds = Number(value);
  return value && Number.isInteger(seconds) && seconds > 0 && seconds < 0xffffffff ? seconds : DEFAULT_SESSION_EXPIRY_SECONDS;
}

function brokerRow(b: BrokerwatchConfig["brokers"][number], secret: string): NewBrokerRow {
  return {
    name: b.name,
    ...definitionColumns(b),
    passwordEnc: b.password ? encryptSecret(b.password, secret, brokerSecretAddress(b.url)) : null,
  };
}
