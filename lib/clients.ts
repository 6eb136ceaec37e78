import "server-only";
import {
  clientHistory as clientEventWindow,
  recentDisconnects as recentDisconnectRows,
  searchClients as searchClientRows,
  disconnectHeatmap,
  type HeatmapCell,
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

export type ClientState =
  | { state: "online" | "offline"; since: Date; broker: string }
  | { state: "unknown"; since: Date | null; broker: string | null; why: string };

/**
 * Whether a client is connected now, as far as brokerwatch can say: from its newest connect or
 * disconnect, and only while its broker is watched. A connect on a broker that is down (or not
 * watched) says nothing about now: that is "unknown", never "online". Pure.
 */
export function clientState(
  lastSession: ClientMatch["lastSession"],
  brokerStatus: (broker: string) => string | undefined,
): ClientState {
  if (!lastSession) return { state: "unknown", since: null, broker: null, why: "no connect or disconnect recorded" };
  const status = brokerStatus(lastSession.broker);
  if (lastSession.type === "connected" && status !== "up") {
    return {
      state: "unknown",
      since: lastSession.ts,
      broker: lastSession.broker,
      why: status === "down" ? `broker ${lastSession.broker} is down` : `broker ${lastSession.broker} is not watched now`,
    };
  }
  return {
    state: lastSession.type === "connected" ? "online" : "offline",
    since: lastSession.ts,
    broker: lastSession.broker,
  };
}

export interface ClientSearchMatch extends ClientMatch {
  now: ClientState;
}

export async function searchClients(
  viewer: Verified,
  prefix: string,
): Promise<{ clients: ClientSearchMatch[]; more: boolean }> {
  assertVerified(viewer);
  const runtime = getRuntime();
  const result = await searchClientRows(runtime.database.db, prefix);
  const status = (broker: string) => runtime.collectors?.get(broker)?.status;
  return { ...result, clients: result.clients.map((c) => ({ ...c, now: clientState(c.lastSession, status) })) };
}

export async function recentDisconnects(
  viewer: Verified,
  filter: DisconnectFilter,
  page: Parameters<typeof recentDisconnectRows>[2],
): Promise<DisconnectPage> {
  assertVerified(viewer);
  return recentDisconnectRows(getRuntime().database.db, filter, page);
}

export interface Heatmap {
  from: number;
  to: number;
  bucketMs: number;
  buckets: number;
  by: "prefix" | "broker";
  /** busiest first; the rest folded into one "other" row */
  rows: { name: string; total: number; cells: { total: number; reasons: Record<string, number> }[] }[];
  max: number;
}

/** Cells into rows, busiest `maxRows` first and the rest folded into "other". Pure. */
export function shapeHeatmap(
  cells: HeatmapCell[],
  opts: { from: number; to: number; buckets: number; by: "prefix" | "broker"; maxRows?: number },
): Heatmap {
  const maxRows = opts.maxRows ?? 12;
  const byRow = new Map<string, { total: number; cells: { total: number; reasons: Record<string, number> }[] }>();
  const rowOf = (name: string) => {
    let r = byRow.get(name);
    if (!r) {
      r = { total: 0, cells: Array.from({ length: opts.buckets }, () => ({ total: 0, reasons: {} })) };
      byRow.set(name, r);
    }
    return r;
  };
  for (const c of cells) {
    if (c.bucket < 0 || c.bucket >= opts.buckets) continue;
    const r = rowOf(c.row);
    const cell = r.cells[c.bucket]!;
    const reason = c.reason ?? "unknown";
    cell.total += c.count;
    cell.reasons[reason] = (cell.reasons[reason] ?? 0) + c.count;
    r.total += c.count;
  }
  const sorted = [...byRow.entries()].sort((a, b) => b[1].total - a[1].total || a[0].localeCompare(b[0]));
  const rows = sorted.slice(0, maxRows).map(([name, r]) => ({ name, ...r }));
  if (sorted.length > maxRows) {
    const other = { name: `other (${sorted.length - maxRows})`, total: 0, cells: rows[0]!.cells.map(() => ({ total: 0, reasons: {} as Record<string, number> })) };
    for (const [, r] of sorted.slice(maxRows)) {
      other.total += r.total;
      r.cells.forEach((c, i) => {
        other.cells[i]!.total += c.total;
        for (const [k, v] of Object.entries(c.reasons)) other.cells[i]!.reasons[k] = (other.cells[i]!.reasons[k] ?? 0) + v;
      });
    }
    rows.push(other);
  }
  const max = Math.max(0, ...rows.flatMap((r) => r.cells.map((c) => c.total)));
  return { from: opts.from, to: opts.to, buckets: opts.buckets, bucketMs: Math.ceil((opts.to - opts.from) / opts.buckets), by: opts.by, rows, max };
}

/** The Clients page's fleet heatmap: disconnects per ClientID family (or broker) and time bucket, by reason. */
export async function fleetHeatmap(
  viewer: Verified,
  opts: { from: Date; to: Date; by: "prefix" | "broker"; broker?: string; buckets?: number },
): Promise<Heatmap> {
  assertVerified(viewer);
  const buckets = opts.buckets ?? 48;
  const cells = await disconnectHeatmap(getRuntime().database.db, { ...opts, buckets });
  return shapeHeatmap(cells, { from: opts.from.getTime(), to: opts.to.getTime(), buckets, by: opts.by });
}
