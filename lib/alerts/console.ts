import "server-only";
import {
  createSilence,
  expireSilence,
  listAlertHistory,
  listAlertRules,
  listSilences,
  loadAlertStates,
  type AlertHistoryRow,
} from "@/db/alerts";
import type { AlertRuleRow, SilenceRow } from "@/db/schema";
import { alertViews, type AlertView, type RuleView } from "@/lib/alerts/engine";
import { assertVerified, type Verified } from "@/lib/auth/verified";
import { isSilenced } from "@/lib/notify/silences";
import { getRuntime } from "@/lib/runtime";

/**
 * What the alerts pages read, from the running engine (or, without one, from what it last saved,
 * as GET /api/alerts does). Server-only: the pages pass plain data to the client components.
 * Each loader takes the user requireUser() returned and refuses without one.
 */
export async function activeAlerts(viewer: Verified): Promise<AlertView[]> {
  assertVerified(viewer);
  const { database, alertEngine } = getRuntime();
  return alertEngine ? alertEngine.alerts() : alertViews(await loadAlertStates(database.db));
}

/** Every rule as the engine sees it; empty when the engine is not running. */
export function ruleViews(viewer: Verified): RuleView[] {
  assertVerified(viewer);
  return getRuntime().alertEngine?.ruleStates() ?? [];
}

export type SilenceStatus = "pending" | "active" | "expired";

/** Alertmanager's silence status: pending before startsAt, active until endsAt, then expired. */
export function silenceStatus(silence: SilenceRow, now: Date): SilenceStatus {
  return now < silence.startsAt ? "pending" : now < silence.endsAt ? "active" : "expired";
}

export async function silences(viewer: Verified): Promise<SilenceRow[]> {
  assertVerified(viewer);
  return listSilences(getRuntime().database.db);
}

/** POST /api/silences, for an admin the route authorised. */
export async function addSilence(admin: Verified, silence: Parameters<typeof createSilence>[1]): Promise<SilenceRow> {
  assertVerified(admin);
  return createSilence(getRuntime().database.db, silence);
}

/** DELETE /api/silences/{id}: expires it at `now`; null when there is no such silence. */
export async function endSilence(admin: Verified, id: string, now: Date): Promise<SilenceRow | null> {
  assertVerified(admin);
  return (await expireSilence(getRuntime().database.db, id, now)) ?? null;
}

/** The active silences that mute an alert with these labels. */
export function silencesMuting(labels: Record<string, string>, all: readonly SilenceRow[], now: Date): SilenceRow[] {
  return all.filter((s) => isSilenced(labels, [s], now));
}

/** A switched-on rule with something to fix: refused at load, a template error, or a failing evaluation. */
export function hasProblem(rule: RuleView): boolean {
  return rule.enabled && (rule.loadErrors.length > 0 || rule.lastError !== null);
}

/** Refused at load (bad expression, name clash): switched on, yet never evaluated. */
export function isRefused(rule: RuleView): boolean {
  return rule.enabled && rule.lastEvaluatedAt === null && rule.loadErrors.length > 0;
}

/** Alerts that fired in [from, to], newest first: the history page and GET /api/alerts/history. */
export async function alertHistory(
  viewer: Verified,
  q: { from: Date; to: Date; limit: number },
): Promise<AlertHistoryRow[]> {
  assertVerified(viewer);
  return listAlertHistory(getRuntime().database.db, q);
}

/** The rules made in the UI or the API (the file's and the built-in ones are in ruleViews). */
export async function uiAlertRules(viewer: Verified): Promise<AlertRuleRow[]> {
  assertVerified(viewer);
  return listAlertRules(getRuntime().database.db);
}
