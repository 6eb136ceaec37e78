import "server-only";
import { and, asc, count, desc, eq, gt, gte, inArray, lte, max, or, sql, type SQL } from "drizzle-orm";
import type { Db } from "./client";
import { clientIdIs, queryEvents } from "./events";
import { pgText } from "./ingest";
import { CLIENT_ID_KEY_PREFIX_CHARS, clientKeyOf, connectionEvents, type ConnectionEventRow } from "./schema";
import type { DisconnectReason, EventType } from "./vocabulary";

/**
 * Queries behind the Clients pages: ClientID prefix search, one client's history over a window
 * (its sessions and reason breakdown), and the recent disconnects across clients.
 */

// ---------------------------------------------------------------------------------------------
// Prefix search
// ---------------------------------------------------------------------------------------------

/**
 * A LIKE pattern matching ClientIDs that start with `prefix`, taken literally: `%`, `_` and the
 * escape character `\` in what the user typed match themselves (used with `ESCAPE '\'`).
 */
export function prefixPattern(prefix: string): string {
  // NUL is stored as U+FFFD (db/ingest.ts pgText), and Postgres text cannot hold it anyway
  return `${pgText(prefix).replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * ClientIDs starting with `prefix`, through the bounded key's index (db/schema.ts clientKeyOf): a
 * key starts with the ClientID's first CLIENT_ID_KEY_PREFIX_CHARS characters, so a prefix up to
 * that long is matched on the key alone; a longer one on the key's part and then the whole ClientID.
 */
function clientIdStartsWith(prefix: string): SQL {
  const chars = Array.from(prefix);
  const key = clientKeyOf(connectionEvents.clientId);
  if (chars.length <= CLIENT_ID_KEY_PREFIX_CHARS) return sql`${key} like ${prefixPattern(prefix)} escape '\\'`;
  const head = chars.slice(0, CLIENT_ID_KEY_PREFIX_CHARS).join("");
  return sql`${key} like ${prefixPattern(head)} escape '\\' and ${connectionEvents.clientId} like ${prefixPattern(prefix)} escape '\\'`;
}

export interface ClientMatch {
  clientId: string;
  /** events of this ClientID in the whole stored history */
  events: number;
  lastSeen: Date;
  lastType: string;
  lastReason: string | null;
  lastBroker: string;
}

/**
 * ClientIDs starting with `prefix` (case-sensitive, as ClientIDs are), most recently seen first.
 * The prefix LIKE uses the `text_pattern_ops` index whatever the database collation.
 */
export async function searchClients(
  db: Db,
  prefix: string,
  opts: { limit?: number } = {},
): Promise<{ clients: ClientMatch[]; more: boolean }> {
  const limit = opts.limit ?? 50;
  if (prefix === "") return { clients: [], more: false };
  const lastSeen = max(connectionEvents.ts);
  const matches = await db
    .select({ clientId: connectionEvents.clientId, events: count(), lastSeen })
    .from(connectionEvents)
    .where(clientIdStartsWith(prefix))
    .groupBy(connectionEvents.clientId)
    .orderBy(desc(lastSeen), asc(connectionEvents.clientId))
    .limit(limit + 1);
  const page = matches.slice(0, limit);
  if (page.length === 0) return { clients: [], more: false };
  // the newest event of each match: one index range per ClientID on (client_id, ts desc, id desc)
  const latest = await db
    .selectDistinctOn([connectionEvents.clientId], {
      clientId: connectionEvents.clientId,
      type: connectionEvents.type,
      reason: connectionEvents.reason,
      broker: connectionEvents.broker,
    })
    .from(connectionEvents)
    .where(
      and(
        inArray(
          clientKeyOf(connectionEvents.clientId),
          page.map((m) => clientKeyOf(sql`${m.clientId!}::text`)),
        ),
        inArray(
          connectionEvents.clientId,
          page.map((m) => m.clientId!),
        ),
      ),
    )
    .orderBy(connectionEvents.clientId, desc(connectionEvents.ts), desc(connectionEvents.id));
  const byId = new Map(latest.map((l) => [l.clientId, l]));
  return {
    clients: page.map((m) => {
      const last = byId.get(m.clientId)!;
      return {
        clientId: m.clientId!,
        events: m.events,
        lastSeen: new Date(m.lastSeen!),
        lastType: last.type,
        lastReason: last.reason,
        lastBroker: last.broker,
      };
    }),
    more: matches.length > limit,
  };
}

// ---------------------------------------------------------------------------------------------
// One client's history
// ---------------------------------------------------------------------------------------------

export interface ReasonCount {
  type: string;
  reason: string | null;
  count: number;
}

/**
 * What the client page reads of each event: not the raw line, the event's identity, when it was
 * received, the node, clean start, or the ClientID it was asked for. Of 2,000 rows, the raw lines
 * alone were most of the bytes the driver decoded.
 */
export const CLIENT_EVENT_FIELDS = [
  "id",
  "ts",
  "broker",
  "type",
  "reason",
  "address",
  "port",
  "username",
  "protocolVersion",
  "keepalive",
  "sessionSeconds",
  // the diagnosis reads it where the broker could not tell two causes apart (NATS: lib/diagnosis.ts)
  "raw",
] as const satisfies readonly (keyof ConnectionEventRow)[];

export type ClientEvent = Pick<ConnectionEventRow, (typeof CLIENT_EVENT_FIELDS)[number]>;

/** One ClientID's stored events over a window; lib/clients.ts pairs them into sessions. */
export interface ClientEventWindow {
  /** newest first, at most `limit` */
  events: ClientEvent[];
  /** every event in the window, counted by type and reason (not cut at `limit`), most frequent first */
  breakdown: ReasonCount[];
  /** events in the window */
  total: number;
  /** the window held more than `limit` events; `events` are the newest */
  truncated: boolean;
  /** the newest event of this ClientID at any time, even outside the window; null if none is stored */
  lastSeen: Date | null;
}

/** Events kept for one client's page: enough for weeks of a flapping device, small enough to render. */
export const CLIENT_HISTORY_LIMIT = 2000;

/** One ClientID's events over a window, with counts per reason. */
export async function clientHistory(
  db: Db,
  clientId: string,
  window: { from: Date; to?: Date; broker?: string; limit?: number },
): Promise<ClientEventWindow> {
  const limit = window.limit ?? CLIENT_HISTORY_LIMIT;
  const where = and(
    ...clientIdIs(clientId),
    gte(connectionEvents.ts, window.from),
    window.to ? lte(connectionEvents.ts, window.to) : undefined,
    window.broker ? eq(connectionEvents.broker, window.broker) : undefined,
  );
  // prepared, as queryEvents is: planning over a month of day partitions costs more than the run
  const [events, breakdown] = await Promise.all([
    queryEvents(db, { clientId, from: window.from, to: window.to, broker: window.broker, limit }, CLIENT_EVENT_FIELDS),
    db
      .select({ type: connectionEvents.type, reason: connectionEvents.reason, count: count() })
      .from(connectionEvents)
      .where(where)
      .groupBy(connectionEvents.type, connectionEvents.reason)
      .orderBy(desc(count()), asc(connectionEvents.type), asc(connectionEvents.reason))
      .prepare("client_reason_breakdown")
      .execute(),
  ]);
  // A window open towards now (no `to`, any broker) ends at the newest event there is: its newest
  // event is the client's last. Otherwise one probe of the per-client index of every partition.
  const lastSeen =
    !window.to && !window.broker && events.length > 0
      ? events[0].ts
      : ((
          await db
            .select({ ts: connectionEvents.ts })
            .from(connectionEvents)
            .where(and(...clientIdIs(clientId)))
            .orderBy(desc(connectionEvents.ts))
            .limit(1)
            .prepare("client_last_seen")
            .execute()
        )[0]?.ts ?? null);
  const total = breakdown.reduce((sum, b) => sum + b.count, 0);
  return {
    events,
    breakdown,
    total,
    truncated: total > events.length,
    lastSeen,
  };
}

// ---------------------------------------------------------------------------------------------
// Recent disconnects across clients
// ---------------------------------------------------------------------------------------------

export interface DisconnectFilter {
  /** `disconnected` (sessions that ended) or `connect_failed` (refused before a session) */
  type: Extract<EventType, "disconnected" | "connect_failed">;
  reason?: DisconnectReason;
  broker?: string;
  from?: Date;
  to?: Date;
}

export interface DisconnectPage {
  /** newest first */
  events: ConnectionEventRow[];
  /** keyset of the last row, when older rows exist */
  older: { ts: Date; id: number } | null;
  /** keyset of the first row, when newer rows exist */
  newer: { ts: Date; id: number } | null;
}

/**
 * One page of disconnects, newest first, keyset-paginated both ways on (ts, id): `before` gives
 * the page older than a row, `after` the page newer than it.
 */
export async function recentDisconnects(
  db: Db,
  filter: DisconnectFilter,
  page: { limit: number; before?: { ts: Date; id: number }; after?: { ts: Date; id: number } },
): Promise<DisconnectPage> {
  const keyOf = (row: ConnectionEventRow | undefined) => (row ? { ts: row.ts, id: row.id } : null);
  if (page.after) {
    const rows = await newerEvents(db, filter, page.after, page.limit + 1);
    const events = rows.slice(0, page.limit).reverse();
    return {
      events,
      // there is at least the row we came from
      older: keyOf(events.at(-1)) ?? page.after,
      newer: rows.length > page.limit ? keyOf(events[0]) : null,
    };
  }
  const rows = await queryEvents(db, { ...filter, limit: page.limit + 1, before: page.before });
  const events = rows.slice(0, page.limit);
  return {
    events,
    older: rows.length > page.limit ? keyOf(events.at(-1)) : null,
    newer: page.before ? (keyOf(events[0]) ?? page.before) : null,
  };
}

/** Rows strictly newer than (ts, id), oldest first: the mirror of `queryEvents`' `before`. */
function newerEvents(
  db: Db,
  filter: DisconnectFilter,
  after: { ts: Date; id: number },
  limit: number,
): Promise<ConnectionEventRow[]> {
  const where: SQL[] = [eq(connectionEvents.type, filter.type)];
  if (filter.reason) where.push(eq(connectionEvents.reason, filter.reason));
  if (filter.broker) where.push(eq(connectionEvents.broker, filter.broker));
  if (filter.from) where.push(gte(connectionEvents.ts, filter.from));
  if (filter.to) where.push(lte(connectionEvents.ts, filter.to));
  where.push(
    or(gt(connectionEvents.ts, after.ts), and(eq(connectionEvents.ts, after.ts), gt(connectionEvents.id, after.id)))!,
  );
  return db
    .select()
    .from(connectionEvents)
    .where(and(...where))
    .orderBy(asc(connectionEvents.ts), asc(connectionEvents.id))
    .limit(limit);
}
