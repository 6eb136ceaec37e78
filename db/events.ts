import "server-only";
import { and, desc, eq, gte, lt, lte, or, type SQL } from "drizzle-orm";
import type { Db } from "./client";
import { connectionEvents, type ConnectionEventRow } from "./schema";

export interface EventQuery {
  type?: string;
  reason?: string;
  broker?: string;
  /** exact ClientID; `null` selects events whose ClientID the broker logged as <unknown> */
  clientId?: string | null;
  from?: Date;
  to?: Date;
  limit: number;
  /** keyset: rows strictly older than this (ts, id) */
  before?: { ts: Date; id: number };
}

/** Connection events newest first, keyset-paginated on (ts, id) so deep pages stay fast. */
export async function queryEvents(db: Db, q: EventQuery): Promise<ConnectionEventRow[]> {
  const where: SQL[] = [];
  if (q.type) where.push(eq(connectionEvents.type, q.type));
  if (q.reason) where.push(eq(connectionEvents.reason, q.reason));
  if (q.broker) where.push(eq(connectionEvents.broker, q.broker));
  if (q.clientId !== undefined && q.clientId !== null) where.push(eq(connectionEvents.clientId, q.clientId));
  if (q.from) where.push(gte(connectionEvents.ts, q.from));
  if (q.to) where.push(lte(connectionEvents.ts, q.to));
  if (q.before) {
    // the plain bound lets the planner prune the partitions newer than the cursor (it cannot from the OR)
    where.push(lte(connectionEvents.ts, q.before.ts));
    where.push(
      or(
        lt(connectionEvents.ts, q.before.ts),
        and(eq(connectionEvents.ts, q.before.ts), lt(connectionEvents.id, q.before.id)),
      )!,
    );
  }
  return db
    .select()
    .from(connectionEvents)
    .where(where.length ? and(...where) : undefined)
    .orderBy(desc(connectionEvents.ts), desc(connectionEvents.id))
    .limit(q.limit);
}
