import "server-only";
import { and, asc, desc, eq, gte, isNull, lte, or, sql } from "drizzle-orm";
import type { ActiveAlert, AlertStateMap, ResolvedAlert } from "@/lib/alerts/state";
import type { Db } from "./client";
import {
  alertHistory,
  alertRules,
  alertStates,
  ruleStatus,
  silences,
  type AlertRuleRow,
  type SilenceRow,
} from "./schema";

export type AlertHistoryRow = typeof alertHistory.$inferSelect;
export type RuleStatusRow = typeof ruleStatus.$inferSelect;
export type NewAlertRuleRow = typeof alertRules.$inferInsert;
export type NewSilenceRow = typeof silences.$inferInsert;

// ---------------------------------------------------------------------------------------------
// Alert state, history and rule status: what the engine writes each round

/** Every persisted active alert, by rule name then fingerprint. */
export async function loadAlertStates(db: Db): Promise<Map<string, AlertStateMap>> {
  const rows = await db.select().from(alertStates);
  const byRule = new Map<string, AlertStateMap>();
  for (const row of rows) {
    let map = byRule.get(row.rule);
    if (!map) byRule.set(row.rule, (map = {}));
    map[row.fingerprint] = row.state as unknown as ActiveAlert;
  }
  return byRule;
}

export async function deleteAlertStates(db: Db, keys: readonly { rule: string; fingerprint: string }[]): Promise<void> {
  if (keys.length === 0) return;
  await db
    .delete(alertStates)
    .where(or(...keys.map((k) => and(eq(alertStates.rule, k.rule), eq(alertStates.fingerprint, k.fingerprint)))));
}

/** What one evaluation round changed. */
export interface RoundChanges {
  at: Date;
  /** alerts that are new or whose state changed */
  upserts: { rule: string; alert: ActiveAlert }[];
  /** alerts no longer active (dropped while pending, or resolved) */
  deletes: { rule: string; fingerprint: string }[];
  fired: { rule: string; alert: ActiveAlert }[];
  resolved: { rule: string; alert: ResolvedAlert }[];
  ruleStatus: RuleStatusRow[];
}

/**
 * One transaction per round, so a crash leaves either the old state or the new one: never an
 * alert that fired without its history row, or a history row whose alert state was lost.
 */
export async function saveRound(db: Db, changes: RoundChanges): Promise<void> {
  await db.transaction(async (tx) => {
    if (changes.upserts.length > 0) {
      await tx
        .insert(alertStates)
        .values(
          changes.upserts.map(({ rule, alert }) => ({
            rule,
            fingerprint: alert.fingerprint,
            state: alert as unknown as Record<string, unknown>,
            updatedAt: changes.at,
          })),
        )
        .onConflictDoUpdate({
          target: [alertStates.rule, alertStates.fingerprint],
          set: { state: sql`excluded.state`, updatedAt: sql`excluded.updated_at` },
        });
    }
    await deleteAlertStates(tx, changes.deletes);
    if (changes.fired.length > 0) {
      // The unique (rule, fingerprint, fired_at) index makes a replayed round a no-op.
      await tx
        .insert(alertHistory)
        .values(
          changes.fired.map(({ rule, alert }) => ({
            rule,
            fingerprint: alert.fingerprint,
            labels: alert.labels,
            annotations: alert.annotations,
            value: String(alert.value),
            activeAt: new Date(alert.activeAt),
            firedAt: new Date(alert.firedAt!),
          })),
        )
        .onConflictDoNothing();
    }
    for (const { rule, alert } of changes.resolved) {
      await tx
        .update(alertHistory)
        .set({ resolvedAt: new Date(alert.resolvedAt) })
        .where(
          and(
            eq(alertHistory.rule, rule),
            eq(alertHistory.fingerprint, alert.fingerprint),
            eq(alertHistory.firedAt, new Date(alert.firedAt!)),
            isNull(alertHistory.resolvedAt),
          ),
        );
    }
    if (changes.ruleStatus.length > 0) {
      await tx
        .insert(ruleStatus)
        .values(changes.ruleStatus)
        .onConflictDoUpdate({
          target: ruleStatus.rule,
          set: {
            lastEvaluatedAt: sql`excluded.last_evaluated_at`,
            lastDurationMs: sql`excluded.last_duration_ms`,
            lastError: sql`excluded.last_error`,
          },
        });
    }
  });
}

/** Alert episodes active at some point in [from, to] (fired before `to`, not resolved before `from`), newest first. */
export async function listAlertHistory(db: Db, q: { from: Date; to: Date; limit: number }): Promise<AlertHistoryRow[]> {
  return db
    .select()
    .from(alertHistory)
    .where(
      and(lte(alertHistory.firedAt, q.to), or(isNull(alertHistory.resolvedAt), gte(alertHistory.resolvedAt, q.from))),
    )
    .orderBy(desc(alertHistory.firedAt), desc(alertHistory.id))
    .limit(q.limit);
}

export async function listRuleStatus(db: Db): Promise<RuleStatusRow[]> {
  return db.select().from(ruleStatus);
}

// ---------------------------------------------------------------------------------------------
// Rules created in the UI

export async function listAlertRules(db: Db): Promise<AlertRuleRow[]> {
  return db.select().from(alertRules).orderBy(asc(alertRules.name));
}

export async function createAlertRule(db: Db, rule: NewAlertRuleRow): Promise<AlertRuleRow> {
  const [row] = await db.insert(alertRules).values(rule).returning();
  return row;
}

/**
 * Rules imported from a rule file, all or none, skipping any whose name is taken meanwhile (the
 * unique name index decides a race with another import): the rows stored.
 */
export async function importAlertRules(db: Db, rules: readonly NewAlertRuleRow[]): Promise<AlertRuleRow[]> {
  if (rules.length === 0) return [];
  return db
    .insert(alertRules)
    .values([...rules])
    .onConflictDoNothing({ target: alertRules.name })
    .returning();
}

/** The updated rule, or null when there is none with this id. */
export async function updateAlertRule(
  db: Db,
  id: number,
  patch: Partial<Omit<NewAlertRuleRow, "id" | "createdAt" | "updatedAt">>,
): Promise<AlertRuleRow | null> {
  const [row] = await db
    .update(alertRules)
    .set({ ...patch, updatedAt: sql`now()` })
    .where(eq(alertRules.id, id))
    .returning();
  return row ?? null;
}

export async function deleteAlertRule(db: Db, id: number): Promise<boolean> {
  const rows = await db.delete(alertRules).where(eq(alertRules.id, id)).returning({ id: alertRules.id });
  return rows.length > 0;
}

// ---------------------------------------------------------------------------------------------
// Silences

/** Every silence, expired ones too (as Alertmanager lists them), newest first. */
export async function listSilences(db: Db): Promise<SilenceRow[]> {
  return db.select().from(silences).orderBy(desc(silences.createdAt), desc(silences.id));
}

export async function createSilence(db: Db, silence: NewSilenceRow): Promise<SilenceRow> {
  const [row] = await db.insert(silences).values(silence).returning();
  return row;
}

/**
 * Ends a silence at `now` (Alertmanager's expire): one that has not started yet ends before it
 * starts, one already over keeps its end. Null when there is no silence with this id.
 */
export async function expireSilence(db: Db, id: string, now: Date): Promise<SilenceRow | null> {
  const [row] = await db
    .update(silences)
    .set({
      startsAt: sql`least(${silences.startsAt}, ${now.toISOString()}::timestamptz)`,
      endsAt: sql`least(${silences.endsAt}, ${now.toISOString()}::timestamptz)`,
    })
    .where(eq(silences.id, id))
    .returning();
  return row ?? null;
}
