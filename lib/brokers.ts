import "server-only";
import { getBroker, listBrokers } from "@/db/brokers";
import { listGaps } from "@/db/gaps";
import type { BrokerRow, CollectorGapRow } from "@/db/schema";
import { redactUrlsForViewer, urlForViewer } from "@/lib/auth/redact";
import { assertVerified, isAdmin, type Verified } from "@/lib/auth/verified";
import { getRuntime } from "@/lib/runtime";

/**
 * The monitored brokers as pages and route handlers read them, disabled ones included. Only for a
 * caller requireUser() or authorize() checked; db/brokers.ts holds the queries.
 */
export type { BrokerRow };

export async function brokerList(viewer: Verified): Promise<BrokerRow[]> {
  assertVerified(viewer);
  const rows = await listBrokers(getRuntime().database.db, { includeDisabled: true });
  return isAdmin(viewer) ? rows : rows.map(rowForViewer);
}

/** A viewer sees where a broker is, not the credentials its URLs may carry (user info, `?token=`). */
function rowForViewer(row: BrokerRow): BrokerRow {
  return { ...row, url: urlForViewer(row.url), metricsUrl: urlForViewer(row.metricsUrl), amqpUrl: urlForViewer(row.amqpUrl) };
}

export async function brokerNames(viewer: Verified): Promise<string[]> {
  return (await brokerList(viewer)).map((b) => b.name);
}

/** One broker by name, enabled or not; undefined when none has that name. */
export async function findBroker(viewer: Verified, name: string): Promise<BrokerRow | undefined> {
  assertVerified(viewer);
  const row = await getBroker(getRuntime().database.db, name);
  if (!row || isAdmin(viewer)) return row;
  return rowForViewer(row);
}

/** The intervals in [from, to] in which the collector could not see the broker. */
export async function brokerGaps(viewer: Verified, name: string, from: Date, to: Date): Promise<CollectorGapRow[]> {
  assertVerified(viewer);
  const gaps = await listGaps(getRuntime().database.db, name, from, to);
  return isAdmin(viewer) ? gaps : gaps.map((g) => ({ ...g, reason: redactUrlsForViewer(g.reason) }));
}
