import { upsertBroker } from "@/db/brokers";
import { claimInstanceName, heartbeatInstance } from "@/db/instances";
import type { CollectorTiming } from "@/lib/collector/collector";
import { CollectorManager } from "@/lib/collector/manager";
import { IngestWriter } from "@/lib/collector/writer";
import type { TestDatabase } from "./db";
import type { RunningMosquitto } from "./mosquitto";
import { startTcpProxy, type TcpProxy } from "./tcp-proxy";

/**
 * Instances watching one broker together, in one process on one database: each has its own
 * writer, collector manager and TCP proxy to the broker, so a test can cut one instance's path
 * only (a network partition between that instance and the broker).
 */
export interface Watcher {
  name: string;
  proxy: TcpProxy;
  writer: IngestWriter;
  manager: CollectorManager;
}

export async function startWatchers(
  t: TestDatabase,
  mosquitto: RunningMosquitto,
  broker: string,
  instances: readonly string[],
  opts: { ttlMs: number; timing?: CollectorTiming },
): Promise<Watcher[]> {
  const db = t.database.db;
  await upsertBroker(db, { name: broker, url: mosquitto.url, dialect: "mosquitto", source: "file" });
  for (const name of instances) {
    await claimInstanceName(db, name, null, `token-${name}`, opts.ttlMs);
    await heartbeatInstance(db, name, `token-${name}`, [broker]);
  }
  const watchers: Watcher[] = [];
  for (const name of instances) {
    const proxy = await startTcpProxy(mosquitto.port);
    const writer = new IngestWriter(t.database, { flushIntervalMs: 20, log: () => {} });
    writer.start();
    const manager = new CollectorManager(t.database, writer, {
      secret: "shared-watchers-secret",
      installationId: "shared",
      instance: name,
      clientIdSuffix: `-${name}`,
      cluster: { live: () => [...instances], watchers: instances.length, ttlMs: opts.ttlMs },
      route: () => proxy.url,
      rollupEveryMs: 300,
      timing: opts.timing,
      log: () => {},
    });
    watchers.push({ name, proxy, writer, manager });
  }
  return watchers;
}

export async function stopWatchers(watchers: Watcher[]): Promise<void> {
  for (const w of watchers) {
    await w.manager.stop();
    await w.writer.stop();
    await w.proxy.close();
  }
}
