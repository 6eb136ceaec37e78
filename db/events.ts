import "server-only";
import { and, count, desc, eq, getTableColumns, gte, inArray, lt, lte, or, sql, type Placeholder, type SQL } from "drizzle-orm";
import type { Db } from "./client";
import { oncePerDatabase } from "./prepared";
import { clientKeyOf, connectionEvents, type ConnectionEventRow } from "./schema";
import type { DisconnectReason, EventType } from "./vocabulary";

export interface EventQuery {
  type?: EventType;
  reason?: DisconnectReason;
  broker?: string;
  /** exact ClientID; `null` selects events whose ClientID the broker logged as <unknown> */
  clientId?: string | null;
  from?: Date;
  to?: Date;
  limit: number;
  /** keyset: rows strictly older than this (ts, id) */
  before?: { ts: Date; id: number };
}

/**
 * Connection events newest first, keyset-paginated on (ts, id) so deep pages stay fast.
 *
 * A prepared statement (postgres.js keeps one per connection for each text, i.e. for each set of
 * filters): planning over a month of day partitions costs 1.5–8 ms, more than running the page
 * (0.3–1 ms), and an unprepared statement with parameters also costs postgres.js a second round
 * trip (Parse/Describe, then Bind/Execute). A prepared one is planned once its generic plan is
 * as good as a custom one (Postgres prunes partitions at executor start from the parameters).
 */
export async function queryEvents(db: Db, q: EventQuery): Promise<ConnectionEventRow[]>;
/** ...with only `fields` of each row (a page that shows a few columns of thousands of rows). */
export async function queryEvents<K extends keyof ConnectionEventRow>(
  db: Db,
  q: EventQuery,
  fields: readonly K[],
): Promise<Pick<ConnectionEventRow, K>[]>;
export async function queryEvents(
  db: Db,
  q: EventQuery,
  fields?: readonly (keyof ConnectionEventRow)[],
): Promise<Partial<ConnectionEventRow>[]> {
  const filters: PageFilters = {
    type: !!q.type,
    reason: !!q.reason,
    broker: !!q.broker,
    clientId: q.clientId !== undefined && q.clientId !== null,
    from: !!q.from,
    to: !!q.to,
    before: !!q.before,
  };
  const page = eventPageQuery(db, filters, fields);
  // `all()`: the driver's rows keyed by column name, unmapped (every drizzle driver's prepared
  // query has it; drizzle's select types leave it out)
  const rows = await page.query.all({
    type: q.type,
    reason: q.reason,
    broker: q.broker,
    clientId: q.clientId,
    // as drizzle binds a Date for this column (PgTimestamp): the ISO text
    from: q.from?.toISOString(),
    to: q.to?.toISOString(),
    beforeTs: q.before?.ts.toISOString(),
    beforeId: q.before?.id,
    limit: q.limit,
  });
  return rows.map((raw) => eventRowOf(raw, page.columns));
}

/**
 * One ClientID's rows: by its bounded key, which the index holds (db/schema.ts clientKeyOf), and by
 * the whole ClientID, so two long ClientIDs whose keys agree are still told apart.
 */
export function clientIdIs(value: string | Placeholder | SQL): SQL[] {
  const text = sql`${value}::text`;
  return [sql`${clientKeyOf(connectionEvents.clientId)} = ${clientKeyOf(text)}`, sql`${connectionEvents.clientId} = ${text}`];
}

/** Which filters a page has: each set (and each choice of fields) is one statement text. */
type PageFilters = Record<"type" | "reason" | "broker" | "clientId" | "from" | "to" | "before", boolean>;

interface PreparedPage {
  query: { all(values: Record<string, unknown>): Promise<Record<string, unknown>[]> };
  columns: readonly EventColumn[];
}

/**
 * The page query of each set of filters and fields, built once per database handle with
 * placeholders (db/prepared.ts): building it on every call was ~0.15 ms of CPU per request.
 */
const pageQueries = oncePerDatabase((): Map<string, PreparedPage> => new Map());

function eventPageQuery(
  db: Db,
  filters: PageFilters,
  fields: readonly (keyof ConnectionEventRow)[] | undefined,
): PreparedPage {
  const byShape = pageQueries(db);
  const key = `${Object.values(filters).map(Number).join("")} ${fields?.join(",") ?? "*"}`;
  const built = byShape.get(key);
  if (built) return built;
  const p = (name: string) => sql.placeholder(name);
  const where: SQL[] = [];
  if (filters.type) where.push(eq(connectionEvents.type, p("type")));
  if (filters.reason) where.push(eq(connectionEvents.reason, p("reason")));
  if (filters.broker) where.push(eq(connectionEvents.broker, p("broker")));
  if (filters.clientId) where.push(...clientIdIs(p("clientId")));
  if (filters.from) where.push(gte(connectionEvents.ts, p("from")));
  if (filters.to) where.push(lte(connectionEvents.ts, p("to")));
  if (filters.before) {
    // the plain bound lets the planner prune the partitions newer than the cursor (it cannot from the OR)
    where.push(lte(connectionEvents.ts, p("beforeTs")));
    where.push(
      or(
        lt(connectionEvents.ts, p("beforeTs")),
        and(eq(connectionEvents.ts, p("beforeTs")), lt(connectionEvents.id, p("beforeId"))),
      )!,
    );
  }
  const columns = fields ? fields.map((key) => [key, connectionEvents[key]] as const) : EVENT_COLUMNS;
  const query = (fields ? db.select(Object.fromEntries(columns)) : db.select())
    .from(connectionEvents)
    .where(where.length ? and(...where) : undefined)
    .orderBy(desc(connectionEvents.ts), desc(connectionEvents.id))
    .limit(p("limit"))
    .prepare("connection_events_page") as unknown as PreparedPage["query"];
  const page = { query, columns };
  byShape.set(key, page);
  return page;
}

type EventColumn = readonly [string, (typeof connectionEvents)[keyof ConnectionEventRow]];

const EVENT_COLUMNS: readonly EventColumn[] = Object.entries(getTableColumns(connectionEvents));

/**
 * A stored row as drizzle's `execute()` would map it, with the same column decoders: drizzle's
 * generic mapper checks each cell's field type and walks its path, which was ~25 ms of a client
 * page's 2,000 rows (a sixth of the page's CPU time, and much of its garbage).
 */
function eventRowOf(raw: Record<string, unknown>, columns: readonly EventColumn[]): Partial<ConnectionEventRow> {
  const row: Record<string, unknown> = {};
  for (const [key, column] of columns) {
    const value = raw[column.name];
    row[key] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
  }
  return row;
}

/**
 * How many events of `broker` are stored already with each (ts, type, raw): log shipping sends a
 * line again after a failed request, and identical lines with the same time (a flapping client) are
 * told apart by their count, as the event identity's ordinal does.
 */
export async function countStoredEvents(
  db: Db,
  broker: string,
  keys: { ts: Date; type: string; raw: string }[],
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (keys.length === 0) return out;
  const times = [...new Map(keys.map((k) => [k.ts.getTime(), k.ts])).values()];
  for (let i = 0; i < times.length; i += 1000) {
    const rows = await db
      .select({ ts: connectionEvents.ts, type: connectionEvents.type, raw: connectionEvents.raw, n: count() })
      .from(connectionEvents)
      .where(and(eq(connectionEvents.broker, broker), inArray(connectionEvents.ts, times.slice(i, i + 1000))))
      .groupBy(connectionEvents.ts, connectionEvents.type, connectionEvents.raw);
    for (const row of rows) out.set(storedEventKey(row), Number(row.n));
  }
  return out;
}

export function storedEventKey(e: { ts: Date; type: string; raw: string }): string {
  return `${e.ts.getTime()}\n${e.type}\n${e.raw}`;
}
