import "server-only";
import { and, desc, eq, gte, isNull, lte, or } from "drizzle-orm";
import type { Db } from "./client";
import { collectorGaps, type CollectorGapRow } from "./schema";

/** Open a gap for a broker unless one is already open (a gap is one interval, however it began). */
export async function openGap(db: Db, broker: string, startedAt: Date, reason: string): Promise<void> {
  const [open] = await db
    .select({ id: collectorGaps.id })
    .from(collectorGaps)
    .where(and(eq(collectorGaps.broker, broker), isNull(collectorGaps.endedAt)))
    .limit(1);
  if (open) return;
  await db.insert(collectorGaps).values({ broker, startedAt, reason });
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
