import { and, asc, eq, gt, isNull, lt, sql } from "drizzle-orm";
import type { Db } from "./client";
import { queryRows } from "./rows";
import { instances, leases, type InstanceRow } from "./schema";

/**
 * The processes of one deployment and their leases. Every time is the database's clock (`now()`),
 * so instances whose clocks disagree still agree on who is alive and who leads.
 */

export type ClaimResult = { claimed: true } | { claimed: false; holder: InstanceRow };

/**
 * Marks a start: the name begins a new life (started_at, no stopped_at) held by `token`, unless
 * another process holds it: a row with another token whose heartbeat is younger than `ttlMs` and
 * that did not stop. Then nothing changes and the holder is returned (lib/cluster/cluster.ts waits
 * to tell a live holder from this process's own previous life, killed before its lease ran out).
 */
export async function claimInstanceName(
  db: Db,
  name: string,
  url: string | null,
  token: string,
  ttlMs: number,
): Promise<ClaimResult> {
  const rows = await queryRows<{ name: string }>(
    db,
    sql`insert into ${instances} (name, url, process_token)
        values (${name}, ${url}, ${token})
        on conflict (name) do update
          set url = excluded.url, started_at = now(), heartbeat_at = now(), stopped_at = null,
              watching = '[]'::jsonb, process_token = excluded.process_token,
              adopted_by = null, adopted_at = null
          where ${instances.processToken} is null
             or ${instances.processToken} = excluded.process_token
             or ${instances.stoppedAt} is not null
             or ${instances.heartbeatAt} <= now() - ${ttlMs} * interval '1 millisecond'
        returning name`,
  );
  if (rows.length === 1) return { claimed: true };
  const [holder] = await db.select().from(instances).where(eq(instances.name, name)).limit(1);
  // gone between the two statements: try again
  if (!holder) return claimInstanceName(db, name, url, token, ttlMs);
  return { claimed: false, holder };
}

/** Sets the UI's URL of this process's row (known late with PORT=0). */
export async function setInstanceUrl(db: Db, name: string, token: string, url: string): Promise<void> {
  await db
    .update(instances)
    .set({ url })
    .where(and(eq(instances.name, name), eq(instances.processToken, token)));
}

/**
 * Renews this instance's heartbeat and says what it watches. False when the row is no longer this
 * process's: another process claimed the name while this one did not renew it (it was paused or
 * cut off from the database for longer than the TTL).
 */
export async function heartbeatInstance(db: Db, name: string, token: string, watching: string[]): Promise<boolean> {
  const rows = await db
    .update(instances)
    .set({ heartbeatAt: sql`now()`, stoppedAt: null, watching })
    .where(and(eq(instances.name, name), eq(instances.processToken, token)))
    .returning({ name: instances.name });
  return rows.length === 1;
}

/** A clean shutdown: the others need not wait for the heartbeat to go stale. */
export async function markInstanceStopped(db: Db, name: string, token: string): Promise<void> {
  await db
    .update(instances)
    .set({ stoppedAt: sql`now()`, watching: [] })
    .where(and(eq(instances.name, name), eq(instances.processToken, token)));
}

/**
 * Gone instances whose broker sessions nobody took over yet, each claimed for `adopter` in one
 * statement (so two instances never adopt the same one): stopped, or silent for longer than
 * `ttlMs`, seen within `withinMs` (older sessions have expired in the broker by now).
 */
export async function claimGoneInstances(
  db: Db,
  adopter: string,
  ttlMs: number,
  withinMs: number,
): Promise<string[]> {
  const rows = await queryRows<{ name: string }>(
    db,
    sql`update ${instances} set adopted_by = ${adopter}, adopted_at = now()
         where name <> ${adopter}
           and adopted_by is null
           and (stopped_at is not null or heartbeat_at <= now() - ${ttlMs} * interval '1 millisecond')
           and heartbeat_at > now() - ${withinMs} * interval '1 millisecond'
        returning name`,
  );
  return rows.map((r) => r.name).sort();
}

/** Names of the instances whose heartbeat is younger than `ttlMs` and that did not stop, sorted. */
export async function liveInstanceNames(db: Db, ttlMs: number): Promise<string[]> {
  const rows = await db
    .select({ name: instances.name })
    .from(instances)
    .where(
      and(isNull(instances.stoppedAt), gt(instances.heartbeatAt, sql`now() - ${ttlMs} * interval '1 millisecond'`)),
    )
    .orderBy(asc(instances.name));
  return rows.map((r) => r.name);
}

export interface InstanceStatus extends InstanceRow {
  live: boolean;
  leader: boolean;
}

/** Every instance seen within `keepMs`, live ones first, with whether it holds the leader lease. */
export async function listInstances(db: Db, ttlMs: number, keepMs: number): Promise<InstanceStatus[]> {
  const rows = await db
    .select({
      instance: instances,
      live: sql<boolean>`${instances.stoppedAt} is null and ${instances.heartbeatAt} > now() - ${ttlMs} * interval '1 millisecond'`,
    })
    .from(instances)
    .where(gt(instances.heartbeatAt, sql`now() - ${keepMs} * interval '1 millisecond'`))
    .orderBy(asc(instances.name));
  const leader = await leaseHolder(db, "leader");
  return rows
    .map((r) => ({ ...r.instance, live: Boolean(r.live), leader: Boolean(r.live) && r.instance.name === leader }))
    .sort((a, b) => Number(b.live) - Number(a.live) || a.name.localeCompare(b.name));
}

/** Forgets instances not seen for `olderThanMs` (renamed or retired), so the list stays short. */
export async function pruneInstances(db: Db, olderThanMs: number): Promise<void> {
  await db.delete(instances).where(lt(instances.heartbeatAt, sql`now() - ${olderThanMs} * interval '1 millisecond'`));
}

/**
 * Takes or renews the lease `name` for `holder`: succeeds when nobody holds it, when `holder`
 * already does, or when the holder's lease ran out. One statement, so two takers cannot both win.
 */
export async function acquireLease(db: Db, name: string, holder: string, ttlMs: number): Promise<boolean> {
  const rows = await queryRows<{ holder: string }>(
    db,
    sql`insert into ${leases} (name, holder, expires_at, acquired_at)
        values (${name}, ${holder}, now() + ${ttlMs} * interval '1 millisecond', now())
        on conflict (name) do update
          set holder = excluded.holder,
              expires_at = excluded.expires_at,
              acquired_at = case when ${leases.holder} = excluded.holder then ${leases.acquiredAt} else now() end
          where ${leases.holder} = excluded.holder or ${leases.expiresAt} < now()
        returning holder`,
  );
  return rows.length === 1 && rows[0].holder === holder;
}

export async function releaseLease(db: Db, name: string, holder: string): Promise<void> {
  await db.delete(leases).where(and(eq(leases.name, name), eq(leases.holder, holder)));
}

/** Who holds `name` now, or null when nobody does (never taken, released, or run out). */
export async function leaseHolder(db: Db, name: string): Promise<string | null> {
  const [row] = await db
    .select({ holder: leases.holder })
    .from(leases)
    .where(and(eq(leases.name, name), gt(leases.expiresAt, sql`now()`)))
    .limit(1);
  return row?.holder ?? null;
}
