import type { Database } from "@/db/client";
import type { AlertEngine } from "./alerts/engine";
import type { Cluster } from "./cluster/cluster";
import type { CollectorManager } from "./collector/manager";
import type { IngestWriter } from "./collector/writer";
import type { DeliveryWorker } from "./notify/outbox";

/**
 * The running service's shared parts. `server/main.ts` creates them once; route handlers,
 * which Next bundles separately, reach the same objects through globalThis — a module-level
 * variable would be a different copy in each bundle.
 */
export interface Runtime {
  database: Database;
  startedAt: Date;
  /** broker URL of the bundled broker, when it runs */
  bundledBrokerUrl: string | null;
  collectors?: CollectorManager;
  writer?: IngestWriter;
  /** the running alert engine; absent when it is not started (GET /api/alerts then reads alert_states) */
  alertEngine?: AlertEngine;
  deliveryWorker?: DeliveryWorker;
  /** the service key that encrypts stored broker passwords and webhook secrets (settings routes) */
  secret?: string;
  /** this instance among those sharing the database */
  cluster?: Cluster;
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
