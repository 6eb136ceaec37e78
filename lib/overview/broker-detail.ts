import "server-only";
import {
  topDisconnectingClients,
  topDisconnectReasons,
  type ClientDisconnects,
  type ReasonCount,
} from "@/db/dashboards";
export type { ClientDisconnects, ReasonCount };
import { queryEvents } from "@/db/events";
import { loadBrokerCharts, type BrokerChartData } from "@/lib/charts/load";
import type { ChartRange } from "@/lib/charts/ranges";
import { assertVerified, type Verified } from "@/lib/auth/verified";
import { getRuntime } from "@/lib/runtime";
import { liveEvent, LIVE_EVENTS_BACKLOG, type LiveEvent } from "./events";
import { overviewSnapshot } from "./snapshot";
import type { OverviewBroker } from "./types";

const HOUR = 3600_000;

export interface BrokerDetail {
  /** the live view (null when the broker is disabled: no collector watches it) */
  live: OverviewBroker | null;
  charts: BrokerChartData;
  events: LiveEvent[];
  reasons: { hour: ReasonCount[]; day: ReasonCount[] };
  clients: { hour: ClientDisconnects[]; day: ClientDisconnects[] };
}

/** One broker's newest stored connection events, as the live stream and the page open with them. */
export async function eventBacklog(viewer: Verified, broker: string): Promise<LiveEvent[]> {
  assertVerified(viewer);
  const events = await queryEvents(getRuntime().database.db, { broker, limit: LIVE_EVENTS_BACKLOG });
  return events.map(liveEvent);
}

/**
 * What the broker page shows below its header, from the database and the collectors' memory: the
 * slow part of the page, which it renders behind a skeleton. Only for requireUser()'s user.
 */
export async function loadBrokerDetail(
  viewer: Verified,
  name: string,
  range: ChartRange,
  now = Date.now(),
): Promise<BrokerDetail> {
  assertVerified(viewer);
  const db = getRuntime().database.db;
  const hour = { broker: name, from: new Date(now - HOUR), to: new Date(now) };
  const day = { broker: name, from: new Date(now - 24 * HOUR), to: new Date(now) };
  const [snapshot, charts, events, reasonsHour, reasonsDay, clientsHour, clientsDay] = await Promise.all([
    overviewSnapshot(viewer),
    loadBrokerCharts(viewer, name, range, undefined, now),
    eventBacklog(viewer, name),
    topDisconnectReasons(db, hour),
    topDisconnectReasons(db, day),
    topDisconnectingClients(db, hour),
    topDisconnectingClients(db, day),
  ]);
  return {
    live: snapshot.clusters.flatMap((c) => c.brokers).find((b) => b.name === name) ?? null,
    charts,
    events,
    reasons: { hour: reasonsHour, day: reasonsDay },
    clients: { hour: clientsHour, day: clientsDay },
  };
}
