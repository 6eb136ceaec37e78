import "server-only";
import { and, desc, eq, gte, isNull, lte, or } from "drizzle-orm";
import type { Db } from "./client";
import { collectorGaps, type CollectorGapRow } from "./schema";

/** Open a gap for a broker unless one is already open (a gap is one interval, however it began). */
export async function openGap(
  db: Db,
  broker: string,
  startedAt: Date,
  reason: string,
  cause: GapCause = "broker",
): Promise<void> {
  const [open] = await db
    .select({ id: collectorGaps.id })
    .from(collectorGaps)
    .where(and(eq(collectorGaps.broker, broker), isNull(collectorGaps.endedAt)))
    .limit(1);
  if (open) return;
  await db.insert(collectorGaps).values({ broker, startedAt, reason, cause });
}

/**
 * Whose blindness a gap is: `broker` (it went away while we were reading) or `brokerwatch` (we
 * were not running or not reading). Only the first is evidence of an outage.
 */
export type GapCause = "broker" | "brokerwatch";

/** A window of brokerwatch's own blindness (a pause, a stall), known only once it is over: stored closed. */
export async function recordOwnGap(db: Db, broker: string, from: Date, to: Date, reason: string): Promise<void> {
  await db.insert(collectorGaps).values({ broker, startedAt: from, endedAt: to, reason, cause: "brokerwatch" });
}

/**
 * Was brokerwatch blind for `broker` at any moment in [from, to]? The windows, oldest first, each
 * clipped to [from, to]: a client's absence, an alert on a client, a "never came back" over such a
 * window is unknown, not a fact (issue 19 §6–7). Every gap counts, whoever's cause: in both, what
 * happened on the broker then was not observed.
 */
export async function brokerwatchBlindWindows(
  db: Db,
  broker: string,
  from: Date,
  to: Date,
): Promise<{ from: Date; to: Date; cause: GapCause; reason: string }[]> {
  const gaps = await listGaps(db, broker, from, to);
  return gaps
    .map((g) => ({
      from: new Date(Math.max(g.startedAt.getTime(), from.getTime())),
      to: new Date(Math.min((g.endedAt ?? to).getTime(), to.getTime())),
      cause: g.cause as GapCause,
      reason: g.reason,
    }))
    .filter((w) => w.to.getTime() >= w.from.getTime())
    .reverse();
}

/** Whether brokerwatch was blind for `broker` at any moment in [from, to] (see brokerwatchBlindWindows). */
export async function wasBrokerwatchBlind(db: Db, broker: string, from: Date, to: Date): Promise<boolean> {
  return (await brokerwatchBlindWindows(db, broker, from, to)).length > 0;
}

/** A gap already over, known after the fact (a source whose history wrapped between two reads). */
export async function recordGap(db: Db, broker: string, startedAt: Date, endedAt: Date, reason: string): Promise<void> {
  await db.insert(collectorGaps).values({ broker, startedAt, endedAt, reason });
}

export async function closeGap(db: Db, broker: string, endedAt: Date): Promise<void> {
  await db
    .update(collectorGaps)
    .set({ endedAt })
    .where(and(eq(collectorGaps.broker, broker), isNull(collectorGaps.endedAt)));
}

/** Gaps overlapping [from, to], newest first: where history may be missing events. */
export async function listGaps(db: Db, broker: string, from: Date, to: Date): Promise<CollectorGapRow[]> {
  return db
    .select()
    .from(collectorGaps)
    .where(
      and(
        eq(collectorGaps.broker, broker),
        lte(collectorGaps.startedAt, to),
        or(isNull(collectorGaps.endedAt), gte(collectorGaps.endedAt, from)),
      ),
    )
    .orderBy(desc(collectorGaps.startedAt));
}
