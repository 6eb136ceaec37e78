import "server-only";
import { incidentSummaries, incidentView, type IncidentSummary, type IncidentView } from "@/lib/api/incidents";
import { assertVerified, type Verified } from "@/lib/auth/verified";
import { getRuntime } from "@/lib/runtime";

/**
 * What the console pages show of incidents. Each loader takes the user requireUser() returned and
 * refuses anything else, like the other page loaders.
 */

/** A broker's incidents of the last 30 days, newest first. */
export async function loadBrokerIncidents(
  viewer: Verified,
  broker: string,
  now = Date.now(),
): Promise<IncidentSummary[]> {
  assertVerified(viewer);
  const to = new Date(now);
  return incidentSummaries(getRuntime().database.db, { broker, from: new Date(now - 30 * 86400_000), to, limit: 20 });
}

/** Incidents of every broker in the last 7 days (the overview). */
export async function loadRecentIncidents(viewer: Verified, now = Date.now()): Promise<IncidentSummary[]> {
  assertVerified(viewer);
  return incidentSummaries(getRuntime().database.db, {
    from: new Date(now - 7 * 86400_000),
    to: new Date(now),
    limit: 10,
  });
}

/** Every broker's incidents of the last `days` days, newest first (the Incidents page). */
export async function loadIncidents(viewer: Verified, days: number, now = Date.now()): Promise<IncidentSummary[]> {
  assertVerified(viewer);
  return incidentSummaries(getRuntime().database.db, {
    from: new Date(now - days * 86400_000),
    to: new Date(now),
    limit: 500,
  });
}

export async function loadIncidentPage(viewer: Verified, id: number): Promise<IncidentView | null> {
  assertVerified(viewer);
  return incidentView(getRuntime().database.db, id);
}

/** The broker's open incident, else its newest: where an alert about the broker links to. */
export async function loadLatestIncidentIds(
  viewer: Verified,
  brokers: string[],
  now = Date.now(),
): Promise<Map<string, number>> {
  assertVerified(viewer);
  const out = new Map<string, number>();
  if (brokers.length === 0) return out;
  const recent = await incidentSummaries(getRuntime().database.db, {
    from: new Date(now - 30 * 86400_000),
    to: new Date(now),
    limit: 200,
  });
  for (const i of recent) if (brokers.includes(i.broker) && !out.has(i.broker)) out.set(i.broker, i.id);
  return out;
}
