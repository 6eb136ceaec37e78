import "server-only";
import { getBroker, listBrokers } from "@/db/brokers";
import { listGaps } from "@/db/gaps";
import type { BrokerRow, CollectorGapRow } from "@/db/schema";
import { assertVerified, type Verified } from "@/lib/auth/verified";
import { getRuntime } from "@/lib/runtime";

/**
 * The monitored brokers as pages and route handlers read them, disabled ones included. Only for a
 * caller requireUser() or authorize() checked; db/brokers.ts holds the queries.
 */
export type { BrokerRow };

export async function brokerList(viewer: Verified): Promise<BrokerRow[]> {
  assertVerified(viewer);
  return listBrokers(getRuntime().database.db, { includeDisabled: true });
}

export async function brokerNames(viewer: Verified): Promise<string[]> {
  return (await brokerList(viewer)).map((b) => b.name);
}

/** One broker by name, enabled or not; undefined when none has that name. */
export async function findBroker(viewer: Verified, name: string): Promise<BrokerRow | undefined> {
  assertVerified(viewer);
  return getBroker(getRuntime().database.db, name);
}

/** The intervals in [from, to] in which the collector could not see the broker. */
export async function brokerGaps(viewer: Verified, name: string, from: Date, to: Date): Promise<CollectorGapRow[]> {
  assertVerified(viewer);
  return listGaps(getRuntime().database.db, name, from, to);
}
