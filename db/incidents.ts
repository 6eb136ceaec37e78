import "server-only";
import { and, asc, desc, eq, gte, inArray, isNull, like, lte, or } from "drizzle-orm";
import type { Db } from "./client";
import {
  brokerIncidents,
  connectionEvents,
  metricSamples,
  unparsedRecords,
  type BrokerIncidentRow,
  type NewBrokerIncidentRow,
} from "./schema";

/**
 * Broker incidents (lib/incidents/): the rows, and the reads an incident's analysis needs from
 * the store (samples, connection events and log lines around it).
 */

/**
 * Open an incident unless the broker already has one open: the partial unique index
 * `broker_incidents_one_open` decides, so two instances or a repeated status event open one.
 * Returns the open incident, new or existing.
 */
export async function openIncident(db: Db, row: NewBrokerIncidentRow): Promise<BrokerIncidentRow> {
  return (await openIncidentOnce(db, row)).row;
}

/** openIncident, saying whether this call opened it (so one instance logs it). */
export async function openIncidentOnce(
  db: Db,
  row: NewBrokerIncidentRow,
): Promise<{ row: BrokerIncidentRow; opened: boolean }> {
  const [inserted] = await db.insert(brokerIncidents).values(row).onConflictDoNothing().returning();
  if (inserted) return { row: inserted, opened: true };
  const open = await openIncidentOf(db, row.broker);
  if (!open) throw new Error(`no open incident for ${row.broker} after a conflicting insert`);
  return { row: open, opened: false };
}

/** Close an open incident with its numbers; false when another instance closed it first. */
export async function closeIncident(
  db: Db,
  id: number,
  patch: Partial<Omit<NewBrokerIncidentRow, "id" | "broker">> & { endedAt: Date },
): Promise<boolean> {
  const closed = await db
    .update(brokerIncidents)
    .set(patch)
    .where(and(eq(brokerIncidents.id, id), isNull(brokerIncidents.endedAt)))
    .returning({ id: brokerIncidents.id });
  return closed.length > 0;
}

/**
 * The broker's newest incident that began, or was up again, at or after `since`: a watcher that saw
 * the broker's uptime go back since its last heartbeat at `since` (the old process was alive then,
 * so the new one started later) finds there the restart another watcher already recorded.
 */
export async function incidentSince(db: Db, broker: string, since: Date): Promise<BrokerIncidentRow | null> {
  const [row] = await db
    .select()
    .from(brokerIncidents)
    .where(
      and(
        eq(brokerIncidents.broker, broker),
        or(gte(brokerIncidents.startedAt, since), gte(brokerIncidents.upAt, since)),
      ),
    )
    .orderBy(desc(brokerIncidents.startedAt), desc(brokerIncidents.id))
    .limit(1);
  return row ?? null;
}

export async function openIncidentOf(db: Db, broker: string): Promise<BrokerIncidentRow | null> {
  const [row] = await db
    .select()
    .from(brokerIncidents)
    .where(and(eq(brokerIncidents.broker, broker), isNull(brokerIncidents.endedAt)))
    .limit(1);
  return row ?? null;
}

export async function listOpenIncidents(db: Db): Promise<BrokerIncidentRow[]> {
  return db.select().from(brokerIncidents).where(isNull(brokerIncidents.endedAt)).orderBy(asc(brokerIncidents.id));
}

export async function updateIncident(
  db: Db,
  id: number,
  patch: Partial<Omit<NewBrokerIncidentRow, "id" | "broker">>,
): Promise<void> {
  await db.update(brokerIncidents).set(patch).where(eq(brokerIncidents.id, id));
}

export async function getIncident(db: Db, id: number): Promise<BrokerIncidentRow | null> {
  const [row] = await db.select().from(brokerIncidents).where(eq(brokerIncidents.id, id)).limit(1);
  return row ?? null;
}

/** A broker's incidents overlapping [from, to], newest first. */
export async function listIncidents(
  db: Db,
  q: { broker?: string; from: Date; to: Date; limit: number },
): Promise<BrokerIncidentRow[]> {
  return db
    .select()
    .from(brokerIncidents)
    .where(
      and(
        q.broker === undefined ? undefined : eq(brokerIncidents.broker, q.broker),
        lte(brokerIncidents.startedAt, q.to),
        or(isNull(brokerIncidents.endedAt), gte(brokerIncidents.endedAt, q.from)),
      ),
    )
    .orderBy(desc(brokerIncidents.startedAt), desc(brokerIncidents.id))
    .limit(q.limit);
}

/** When the broker's restarts in [from, to) began: the crash-loop finding counts them. */
export async function restartsBetween(db: Db, broker: string, from: Date, to: Date, exceptId: number): Promise<Date[]> {
  const rows = await db
    .select({ id: brokerIncidents.id, startedAt: brokerIncidents.startedAt })
    .from(brokerIncidents)
    .where(
      and(
        eq(brokerIncidents.broker, broker),
        eq(brokerIncidents.kind, "restart"),
        gte(brokerIncidents.startedAt, from),
        lte(brokerIncidents.startedAt, to),
      ),
    );
  return rows.filter((r) => r.id !== exceptId).map((r) => r.startedAt);
}

/** Samples of the given metrics of one broker in [from, to], oldest first (node-less, label-less series only). */
export async function incidentSamples(
  db: Db,
  broker: string,
  metrics: readonly string[],
  from: Date,
  to: Date,
): Promise<{ metric: string; ts: Date; value: number }[]> {
  const rows = await db
    .select({
      metric: metricSamples.metric,
      ts: metricSamples.ts,
      value: metricSamples.value,
      labels: metricSamples.labels,
    })
    .from(metricSamples)
    .where(
      and(
        eq(metricSamples.broker, broker),
        inArray(metricSamples.metric, [...metrics]),
        gte(metricSamples.ts, from),
        lte(metricSamples.ts, to),
      ),
    )
    .orderBy(asc(metricSamples.ts));
  return rows.filter((r) => Object.keys(r.labels).length === 0).map(({ metric, ts, value }) => ({ metric, ts, value }));
}

/** The broker's connection events in [from, to], oldest first, at most `limit`. */
export async function incidentEvents(db: Db, broker: string, from: Date, to: Date, limit = 50_000) {
  return db
    .select({
      id: connectionEvents.id,
      ts: connectionEvents.ts,
      clientId: connectionEvents.clientId,
      type: connectionEvents.type,
      reason: connectionEvents.reason,
      address: connectionEvents.address,
    })
    .from(connectionEvents)
    .where(and(eq(connectionEvents.broker, broker), gte(connectionEvents.ts, from), lte(connectionEvents.ts, to)))
    .orderBy(asc(connectionEvents.ts), asc(connectionEvents.receivedAt), asc(connectionEvents.id))
    .limit(limit);
}

/** How far an event's broker timestamp may lie from its receive time and still be found by it. */
const SKEW_MS = 86_400_000;

/**
 * The clients whose last connect/disconnect received in [since, at] was a connect: connected at
 * `at`, as far as the events tell. Read by received_at, our clock: Mosquitto logs whole seconds,
 * so a client back within the second the broker went down would otherwise count as connected
 * before it, and a connect and its disconnect in one second would tie.
 */
export async function clientsConnectedAt(db: Db, broker: string, at: Date, since: Date): Promise<string[]> {
  const rows = await db
    .selectDistinctOn([connectionEvents.clientId], { clientId: connectionEvents.clientId, type: connectionEvents.type })
    .from(connectionEvents)
    .where(
      and(
        eq(connectionEvents.broker, broker),
        inArray(connectionEvents.type, ["connected", "disconnected"]),
        gte(connectionEvents.receivedAt, since),
        lte(connectionEvents.receivedAt, at),
        // received_at prunes no partition: bound ts too, a day wider than the window on each side
        // for a broker clock that is off or lines that arrived late
        gte(connectionEvents.ts, new Date(since.getTime() - SKEW_MS)),
        lte(connectionEvents.ts, new Date(at.getTime() + SKEW_MS)),
      ),
    )
    .orderBy(connectionEvents.clientId, desc(connectionEvents.receivedAt), desc(connectionEvents.id));
  return rows.filter((r) => r.type === "connected" && r.clientId !== null).map((r) => r.clientId!);
}

/** The newest connect on the broker since `since`: reconnects still coming in keep an incident open. */
export async function lastConnectSince(db: Db, broker: string, since: Date): Promise<Date | null> {
  const [row] = await db
    .select({ ts: connectionEvents.ts })
    .from(connectionEvents)
    .where(
      and(eq(connectionEvents.broker, broker), eq(connectionEvents.type, "connected"), gte(connectionEvents.ts, since)),
    )
    .orderBy(desc(connectionEvents.ts))
    .limit(1);
  return row?.ts ?? null;
}

/**
 * The broker's own log lines no parser turned into an event (`Out of memory.`, `Error: …`): they
 * are kept as unparsed records on the broker's log topics.
 */
export async function incidentLogLines(db: Db, broker: string, from: Date, to: Date, limit = 500) {
  return db
    .select({ ts: unparsedRecords.receivedAt, topic: unparsedRecords.topic, text: unparsedRecords.raw })
    .from(unparsedRecords)
    .where(
      and(
        eq(unparsedRecords.broker, broker),
        like(unparsedRecords.topic, "%/log/%"),
        gte(unparsedRecords.receivedAt, from),
        lte(unparsedRecords.receivedAt, to),
      ),
    )
    .orderBy(asc(unparsedRecords.receivedAt))
    .limit(limit);
}

/** The broker's newest incident that began at or before `at`: the one an alert fired at `at` is about. */
export async function latestIncidentBefore(db: Db, broker: string, at: Date): Promise<number | null> {
  const [row] = await db
    .select({ id: brokerIncidents.id })
    .from(brokerIncidents)
    .where(and(eq(brokerIncidents.broker, broker), lte(brokerIncidents.startedAt, at)))
    .orderBy(desc(brokerIncidents.startedAt), desc(brokerIncidents.id))
    .limit(1);
  return row?.id ?? null;
}
