import "server-only";
import { and, eq, notInArray, sql } from "drizzle-orm";
import type { Db } from "./client";
import { queryRows } from "./rows";
import { setBrokerStatus } from "./brokers";
import { closeGap, openGap } from "./gaps";
import { brokerObservations, brokers } from "./schema";

/**
 * Per-watcher views of a broker and the status merged from them. Several instances may watch one
 * broker; the broker is up while any live watcher sees it up, and a gap (history may miss events)
 * opens only when none does.
 */
export type ObservedStatus = "up" | "down" | "unknown";

export interface Observation {
  broker: string;
  instance: string;
  status: ObservedStatus;
  lastSeenAt: Date | null;
}

export async function recordObservation(db: Db, o: Observation): Promise<void> {
  await db
    .insert(brokerObservations)
    .values({ ...o, observedAt: sql`now()` })
    .onConflictDoUpdate({
      target: [brokerObservations.broker, brokerObservations.instance],
      set: {
        status: o.status,
        observedAt: sql`now()`,
        ...(o.lastSeenAt ? { lastSeenAt: o.lastSeenAt } : {}),
      },
    });
}

/** Drops this instance's views of brokers it no longer watches (all of them when `keep` is empty). */
export async function forgetObservations(db: Db, instance: string, keep: string[] = []): Promise<void> {
  await db
    .delete(brokerObservations)
    .where(
      keep.length
        ? and(eq(brokerObservations.instance, instance), notInArray(brokerObservations.broker, keep))
        : eq(brokerObservations.instance, instance),
    );
}

/** Live watchers' views of some brokers (for the instances page and tests). */
export async function liveObservations(db: Db, names: string[], ttlMs: number): Promise<Observation[]> {
  if (names.length === 0) return [];
  const rows = await queryRows<{ broker: string; instance: string; status: ObservedStatus; last_seen_at: unknown }>(
    db,
    sql`select o.broker, o.instance, o.status, o.last_seen_at
          from broker_observations o join instances i on i.name = o.instance
         where o.broker in (${sql.join(
           names.map((n) => sql`${n}`),
           sql`, `,
         )})
           and i.stopped_at is null and i.heartbeat_at > now() - ${ttlMs} * interval '1 millisecond'`,
  );
  return rows.map((r) => ({
    broker: r.broker,
    instance: r.instance,
    status: r.status,
    lastSeenAt: r.last_seen_at === null ? null : new Date(r.last_seen_at as string),
  }));
}

export interface MergedChange {
  broker: string;
  from: string;
  to: "up" | "down";
  lastSeenAt: Date | null;
}

/** The broker's status as its live watchers see it together, and whether this merge changed it. */
export interface MergedStatus extends MergedChange {
  changed: boolean;
}

/**
 * Recomputes a broker's status from its live watchers and records it: a gap opens (from the last
 * time any watcher saw the broker) when every watcher sees it down, and closes as soon as one sees
 * it up. Serialised per broker with a transaction-scoped advisory lock, so two watchers merging
 * at once cannot both open a gap. Returns the merged status, or null when nobody has an opinion
 * yet (every watcher is still connecting).
 */
export async function mergeBrokerStatus(
  db: Db,
  broker: string,
  ttlMs: number,
  at: Date,
  why: string,
): Promise<MergedStatus | null> {
  return db.transaction(async (tx) => {
    const t = tx as unknown as Db;
    await t.execute(sql`select pg_advisory_xact_lock(hashtext(${`brokerwatch.broker:${broker}`}))`);
    const views = await liveObservations(t, [broker], ttlMs);
    const to = views.some((v) => v.status === "up") ? "up" : views.some((v) => v.status === "down") ? "down" : null;
    if (!to) return null;
    const seen = views.map((v) => v.lastSeenAt?.getTime() ?? 0).filter((ms) => ms > 0);
    const lastSeenAt = seen.length ? new Date(Math.max(...seen)) : null;
    const [row] = await t.select({ status: brokers.status }).from(brokers).where(eq(brokers.name, broker));
    if (!row) return null;
    if (to === "down") await openGap(t, broker, lastSeenAt ?? at, why);
    else await closeGap(t, broker, at);
    await setBrokerStatus(t, broker, to, lastSeenAt);
    return { broker, from: row.status, to, lastSeenAt, changed: row.status !== to };
  });
}

/** Whether any live instance other than `except` sees these brokers up (a restart then leaves no gap). */
export async function brokersSeenUpByOthers(
  db: Db,
  names: string[],
  except: string,
  ttlMs: number,
): Promise<Set<string>> {
  const views = await liveObservations(db, names, ttlMs);
  return new Set(views.filter((v) => v.instance !== except && v.status === "up").map((v) => v.broker));
}
