import { applyFileBrokers, upsertBroker } from "@/db/brokers";
import { migrateDatabase, openDatabase, type Database } from "@/db/client";
import { DEFAULT_RETENTION, enforceRetention, rollUpSamples, type RetentionSeconds } from "@/db/maintenance";
import type { NewBrokerRow } from "@/db/schema";
import { installationId } from "@/db/settings";
import { startBundledBroker, type BundledBroker } from "@/broker/index";
import { ensureAdminUser, ensureServiceSecret } from "./auth/bootstrap";
import { CollectorManager } from "./collector/manager";
import { DEFAULT_TIMING, type CollectorTiming } from "./collector/collector";
import { IngestWriter } from "./collector/writer";
import { loadConfigFile, resolveConfigPath, type BrokerwatchConfig } from "./config";
import { brokerSecretAddress, encryptSecret } from "./crypto";
import { sealStoredSecrets } from "./settings/secrets";
import { setRuntime } from "./runtime";
import { AlertEngine } from "./alerts/engine";
import { ruleProvider } from "./alerts/rules";
import { Dispatcher } from "./notify/dispatch";
import { DeliveryWorker } from "./notify/outbox";
import { applyWebhookConfig } from "./notify/webhooks";

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
  log?: (line: string) => void;
}

export interface Service {
  database: Database;
  broker: BundledBroker | null;
  writer: IngestWriter;
  collectors: CollectorManager;
  config: BrokerwatchConfig | null;
  generatedAdminPassword: string | null;
  engine: AlertEngine;
  deliveryWorker: DeliveryWorker;
  setExternalURL(url: string): void;
  stop(): Promise<void>;
}

const ROLLUP_EVERY_MS = 60_000;
const RETENTION_EVERY_MS = 60 * 60_000;

export class StartError extends Error {}

export async function startService(opts: ServiceOptions): Promise<Service> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const env = opts.env ?? process.env;

  // The config file first: an invalid file stops the start before anything else happens.
  const configPath = opts.configPath === undefined ? resolveConfigPath(env) : opts.configPath;
  const config = configPath ? await loadConfigFile(configPath, env) : null;

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
  await applyWebhookConfig(db, config?.webhooks ?? [], secret);
  // Secrets an earlier version stored unbound (or header values in clear) are bound to their address.
  await sealStoredSecrets(db, secret, log);

  let broker: BundledBroker | null = null;
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
  const collectors = new CollectorManager(database, writer, {
    secret,
    installationId: await installationId(db),
    bundledCredentials: broker?.monitorCredentials,
    timing: { ...DEFAULT_TIMING, ...opts.timing },
    log,
  });
  await collectors.start();

  // Alerts: rules evaluated every second and at once when a broker goes up or down; what fires
  // goes through the dispatcher (grouping, silences) into the outbox the delivery worker drains.
  const deliveryWorker = new DeliveryWorker(database, { secret, log });
  deliveryWorker.start();
  // Both keep these option objects and read externalURL at use: setExternalURL can fill it in later.
  const dispatcherOptions = { externalURL: opts.externalURL ?? "", log, onEnqueued: () => deliveryWorker.wake() };
  const dispatcher = new Dispatcher(database, dispatcherOptions);
  const engineOptions = {
    intervalMs: opts.evaluationIntervalMs,
    rules: ruleProvider(db, config?.rules ?? []),
    onRound: (snapshot: Parameters<Dispatcher["onEvaluation"]>[0]) => dispatcher.onEvaluation(snapshot),
    externalURL: opts.externalURL ?? "",
    log,
  };
  const engine = new AlertEngine(database, engineOptions);
  await engine.start();
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

  setRuntime({
    database,
    startedAt: new Date(),
    bundledBrokerUrl: broker?.url ?? null,
    collectors,
    writer,
    alertEngine: engine,
    deliveryWorker,
    secret,
  });

  return {
    database,
    broker,
    writer,
    collectors,
    config,
    generatedAdminPassword: generatedPassword,
    engine,
    deliveryWorker,
    setExternalURL(url: string) {
      dispatcherOptions.externalURL = url;
      engineOptions.externalURL = url;
    },
    async stop() {
      clearInterval(rollupTimer);
      clearInterval(retentionTimer);
      // Reverse order: stop reading, flush what was read, then close the broker and the database.
      await collectors.stop();
      await engine.stop();
      await deliveryWorker.stop();
      await writer.stop();
      if (broker) await broker.close();
      setRuntime(undefined);
      await database.close();
    },
  };
}

function brokerRow(b: BrokerwatchConfig["brokers"][number], secret: string): NewBrokerRow {
  return {
    name: b.name,
    url: b.url,
    dialect: b.dialect,
    // `auto` keeps what was detected last time until the collector says otherwise
    ...(b.dialect === "auto" ? {} : { detectedDialect: b.dialect }),
    username: b.username ?? null,
    passwordEnc: b.password ? encryptSecret(b.password, secret, brokerSecretAddress(b.url)) : null,
    cluster: b.cluster ?? null,
    maxConnections: b.maxConnections ?? null,
    expectedNodes: b.expectedNodes ?? null,
    sysTopicPrefix: b.sysTopicPrefix ?? null,
    clientId: b.clientId ?? null,
    enabled: b.enabled,
  };
}
