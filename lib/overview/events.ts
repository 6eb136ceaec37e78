import type { ConnectionEvent } from "@/lib/collector/types";

/**
 * A connection event as the live event stream sends it: the stored row without the raw log line
 * (which can be long and is on the client's trace page), times as ISO strings.
 */
export interface LiveEvent extends Pick<
  ConnectionEvent,
  "node" | "clientId" | "type" | "reason" | "address" | "port" | "username" | "sessionSeconds"
> {
  /** identifies the event across the backlog and the stream, which overlap when a stream opens */
  key: string;
  ts: string;
  /** as stored (any number), not narrowed to the levels a dialect emits */
  protocolVersion: number | null;
}

/** How many stored events a stream opens with, and how many the page keeps. */
export const LIVE_EVENTS_BACKLOG = 50;
export const LIVE_EVENTS_KEPT = 200;

/** A stored event row, or anything with its fields: times as Dates, before they become ISO strings. */
type EventLike = Omit<LiveEvent, "key" | "ts"> & { ts: Date; receivedAt: Date };

export function liveEvent(e: EventLike): LiveEvent {
  const ts = e.ts.toISOString();
  return {
    key: JSON.stringify([ts, e.receivedAt.toISOString(), e.node, e.clientId, e.type, e.reason]),
    ts,
    node: e.node,
    clientId: e.clientId,
    type: e.type,
    reason: e.reason,
    address: e.address,
    port: e.port,
    username: e.username,
    protocolVersion: e.protocolVersion,
    sessionSeconds: e.sessionSeconds,
  };
}

/** Newest first, without duplicates, at most `LIVE_EVENTS_KEPT`. */
export function mergeEvents(current: readonly LiveEvent[], incoming: readonly LiveEvent[]): LiveEvent[] {
  const seen = new Set<string>();
  const out: LiveEvent[] = [];
  for (const e of [...incoming, ...current]) {
    if (seen.has(e.key)) continue;
    seen.add(e.key);
    out.push(e);
  }
  // stable: events with the same timestamp keep their arrival order
  return out.sort((a, b) => (a.ts < b.ts ? 1 : a.ts > b.ts ? -1 : 0)).slice(0, LIVE_EVENTS_KEPT);
}
