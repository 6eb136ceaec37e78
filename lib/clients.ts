import "server-only";
import {
  clientHistory as clientEventWindow,
  recentDisconnects as recentDisconnectRows,
  searchClients as searchClientRows,
  type ClientEvent,
  type ClientEventWindow,
  type ClientMatch,
  type DisconnectFilter,
  type DisconnectPage,
  type ReasonCount,
} from "@/db/clients";
import type { ConnectionEventRow } from "@/db/schema";
import { assertVerified, type Verified } from "@/lib/auth/verified";
import { buildTimeline, pairSessions, type Session, type TimelineEntry } from "@/lib/diagnosis";
import { getRuntime } from "@/lib/runtime";

/**
 * What the clients pages read: ClientID search, one client's history paired into sessions, and the
 * recent disconnects across brokers. db/clients.ts runs the queries and returns rows; this module
 * refuses a caller requireUser()/authorize() did not check and composes the rows into what is shown.
 */
export type { ClientEvent, ClientMatch, ConnectionEventRow, DisconnectPage, ReasonCount };

export interface ClientHistory extends ClientEventWindow {
  /** the events paired into sessions, oldest first (lib/diagnosis pairSessions), for the diagnosis */
  sessions: Session<ClientEvent>[];
  /** the same sessions and the events in between, newest first */
  timeline: TimelineEntry<ClientEvent>[];
}

/** One ClientID's events over a window, paired into sessions, with counts per reason. */
export async function clientHistory(
  viewer: Verified,
  clientId: string,
  window: Parameters<typeof clientEventWindow>[2],
): Promise<ClientHistory> {
  assertVerified(viewer);
  const rows = await clientEventWindow(getRuntime().database.db, clientId, window);
  const sessions = pairSessions(rows.events);
  return { ...rows, sessions, timeline: buildTimeline(rows.events, sessions) };
}

export async function searchClients(
  viewer: Verified,
  prefix: string,
): Promise<{ clients: ClientMatch[]; more: boolean }> {
  assertVerified(viewer);
  return searchClientRows(getRuntime().database.db, prefix);
}

export async function recentDisconnects(
  viewer: Verified,
  filter: DisconnectFilter,
  page: Parameters<typeof recentDisconnectRows>[2],
): Promise<DisconnectPage> {
  assertVerified(viewer);
  return recentDisconnectRows(getRuntime().database.db, filter, page);
}
