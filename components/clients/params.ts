import { cursorParam, encodeCursor } from "@/lib/api/params";
import { isDisconnectReason, type DisconnectReason } from "@/lib/events";

/**
 * The Clients pages keep their state in the URL so a view can be shared: what is read from the
 * query string, and the links that write it back. A value the pages do not know is ignored
 * (the default applies) rather than refused: a page is read by people, the API by programs.
 */

export type SearchParams = Record<string, string | string[] | undefined>;

function one(params: SearchParams, key: string): string | undefined {
  const value = params[key];
  return Array.isArray(value) ? value[0] : value;
}

/** Time ranges of the disconnects table, written as the API's `from` durations (`from=24h`). */
export const RANGES = ["1h", "24h", "7d", "30d"] as const;
export type Range = (typeof RANGES)[number];
export const DEFAULT_RANGE: Range = "24h";

/** Windows of the trace page. */
export const WINDOWS = ["24h", "7d", "30d"] as const;
export type TraceWindow = (typeof WINDOWS)[number];
export const DEFAULT_WINDOW: TraceWindow = "7d";

const RANGE_SECONDS: Record<Range, number> = { "1h": 3600, "24h": 86_400, "7d": 7 * 86_400, "30d": 30 * 86_400 };

export function rangeSeconds(range: Range): number {
  return RANGE_SECONDS[range];
}

/** "the last 7 days", as the empty state says it */
export function describeRange(range: Range): string {
  return { "1h": "hour", "24h": "24 hours", "7d": "7 days", "30d": "30 days" }[range];
}

export const DISCONNECT_TYPES = ["disconnected", "connect_failed"] as const;
export type DisconnectType = (typeof DISCONNECT_TYPES)[number];

export interface ClientsParams {
  /** ClientID prefix, as typed (not trimmed: a ClientID may start or end with a space) */
  q: string;
  type: DisconnectType;
  reason: DisconnectReason | undefined;
  broker: string | undefined;
  range: Range;
  before: { ts: Date; id: number } | undefined;
  after: { ts: Date; id: number } | undefined;
}

function cursor(value: string | undefined): { ts: Date; id: number } | undefined {
  if (!value) return undefined;
  const parsed = cursorParam.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

export function parseClientsParams(params: SearchParams): ClientsParams {
  const type = one(params, "type");
  const reason = one(params, "reason");
  const range = one(params, "range");
  const broker = one(params, "broker");
  return {
    q: one(params, "q") ?? "",
    type: (DISCONNECT_TYPES as readonly string[]).includes(type ?? "") ? (type as DisconnectType) : "disconnected",
    reason: reason && isDisconnectReason(reason) ? reason : undefined,
    broker: broker || undefined,
    range: (RANGES as readonly string[]).includes(range ?? "") ? (range as Range) : DEFAULT_RANGE,
    before: cursor(one(params, "before")),
    after: cursor(one(params, "after")),
  };
}

/** `/clients?…` with only what differs from the defaults. */
export function clientsHref(p: Partial<ClientsParams>): string {
  const query = new URLSearchParams();
  if (p.q) query.set("q", p.q);
  if (p.type && p.type !== "disconnected") query.set("type", p.type);
  if (p.reason) query.set("reason", p.reason);
  if (p.broker) query.set("broker", p.broker);
  if (p.range && p.range !== DEFAULT_RANGE) query.set("range", p.range);
  if (p.before) query.set("before", encodeCursor(p.before.ts, p.before.id));
  if (p.after) query.set("after", encodeCursor(p.after.ts, p.after.id));
  const text = query.toString();
  return text ? `/clients?${text}` : "/clients";
}

/** The CSV export of the disconnects table: GET /api/events with the same filters, every page. */
export function disconnectsCsvHref(p: Pick<ClientsParams, "type" | "reason" | "broker" | "range">): string {
  const query = new URLSearchParams({ format: "csv", type: p.type });
  if (p.reason) query.set("reason", p.reason);
  if (p.broker) query.set("broker", p.broker);
  query.set("from", p.range);
  return `/api/events?${query}`;
}

export function parseWindow(params: SearchParams): TraceWindow {
  const value = one(params, "window");
  return (WINDOWS as readonly string[]).includes(value ?? "") ? (value as TraceWindow) : DEFAULT_WINDOW;
}

/** A client's trace page over a window; the ClientID always goes through encodeURIComponent. */
export function traceHref(clientId: string, window: TraceWindow = DEFAULT_WINDOW): string {
  const path = `/clients/${encodeURIComponent(clientId)}`;
  return window === DEFAULT_WINDOW ? path : `${path}?window=${window}`;
}

/** One client's events over the window as CSV. */
export function clientCsvHref(clientId: string, window: TraceWindow): string {
  return `/api/events?${new URLSearchParams({ format: "csv", clientId, from: window })}`;
}

/**
 * The ClientID of a trace page URL, decoded exactly once. It is read from the raw request path
 * (server/main.ts passes it as x-brokerwatch-path), as GET /api/clients/{clientId}/events does,
 * so an id that itself holds "%25" is not decoded twice whatever the router did with `params`.
 * Null when the segment is not valid percent-encoding.
 */
export function clientIdFromPath(rawPath: string | null, routerParam: string): string | null {
  const segment = rawPath ? /^\/clients\/([^/?#]+)\/?(?:[?#]|$)/.exec(rawPath)?.[1] : undefined;
  if (segment === undefined) return routerParam;
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}
