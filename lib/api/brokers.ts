import { listBrokers } from "@/db/brokers";
import { fetchSeries, type StoredSeries } from "@/db/metrics";
import { computeCapacity, type Capacity } from "@/lib/capacity";
import { urlForViewer } from "@/lib/auth/redact";
import { assertVerified, isAdmin, type Verified } from "@/lib/auth/verified";
import { getRuntime } from "@/lib/runtime";

/** The window the capacity projection is fitted over (as MQTT_Connection_Saturation_Predicted's [1h]). */
const CAPACITY_WINDOW_MS = 3600_000;

export interface Headroom {
  capacity: Capacity;
  /** connections over the last hour, summed over nodes: [ms, value] */
  connections: [number, number][];
  from: number;
  now: number;
}

/**
 * The broker page's headroom panel: the capacity of one broker and the connections it was fitted
 * to. Multi-node brokers: the nodes' latest values within each 10 s are summed for the drawing.
 */
export async function loadHeadroom(broker: {
  name: string;
  dialect: string;
  detectedDialect: string | null;
  maxConnections: number | null;
}): Promise<Headroom> {
  const now = Date.now();
  const from = now - CAPACITY_WINDOW_MS;
  const [capacity, series] = await Promise.all([
    brokerCapacities([broker], now),
    fetchSeries(getRuntime().database.db, "mqtt_connections_current", from, now),
  ]);
  const mine = series.filter((s) => s.labels.broker === broker.name);
  let connections: [number, number][];
  if (mine.length <= 1) connections = (mine[0]?.points ?? []).map((p) => [p.t, p.v]);
  else {
    const buckets = new Map<number, Map<number, number>>();
    mine.forEach((s, i) => {
      for (const p of s.points) {
        const bucket = Math.floor(p.t / 10_000) * 10_000;
        const row = buckets.get(bucket) ?? new Map<number, number>();
        row.set(i, p.v);
        buckets.set(bucket, row);
      }
    });
    connections = [...buckets.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([t, row]) => [t, [...row.values()].reduce((a, b) => a + b, 0)]);
  }
  return { capacity: capacity.get(broker.name)!, connections, from, now };
}

/**
 * `capacity` of every broker (docs/contract.md §7): the last hour of connections and message rates,
 * read once for all brokers, through lib/capacity.ts.
 */
export async function brokerCapacities(
  brokers: { name: string; dialect: string; detectedDialect: string | null; maxConnections: number | null }[],
  now = Date.now(),
): Promise<Map<string, Capacity>> {
  const db = getRuntime().database.db;
  const from = now - CAPACITY_WINDOW_MS;
  const [connections, received, sent] = await Promise.all([
    fetchSeries(db, "mqtt_connections_current", from, now),
    fetchSeries(db, "mqtt_messages_received_per_second", from, now),
    fetchSeries(db, "mqtt_messages_sent_per_second", from, now),
  ]);
  const of = (series: StoredSeries[], broker: string) =>
    series.filter((s) => s.labels.broker === broker).map((s) => s.points);
  const out = new Map<string, Capacity>();
  for (const b of brokers) {
    out.set(
      b.name,
      computeCapacity({
        now,
        dialect: b.detectedDialect ?? b.dialect,
        maxConnections: b.maxConnections,
        connections: of(connections, b.name),
        messageRates: [...of(received, b.name), ...of(sent, b.name)],
      }),
    );
  }
  return out;
}

/**
 * Brokers as the API and the overview show them: stored definition plus the collector's live
 * view (status, last seen, latest value of each metric). A metric the broker doesn't report is
 * absent, not zero; for a multi-node broker (EMQX) gauges are summed over nodes.
 */
/** GET /api/brokers' list: for a viewer, URLs without credentials, query or fragment. */
export async function brokerList(viewer: Verified) {
  assertVerified(viewer);
  const brokers = await brokerSummaries();
  return isAdmin(viewer) ? brokers : brokers.map((b) => ({ ...b, url: urlForViewer(b.url) }));
}

export async function brokerSummaries() {
  const runtime = getRuntime();
  const rows = await listBrokers(runtime.database.db);
  return rows.map((b) => {
    const collector = runtime.collectors?.get(b.name);
    const metrics: Record<string, number> = {};
    if (collector) {
      for (const { metric, value, labels } of collector.latest.values()) {
        if (Object.keys(labels).length) continue;
        // uptime and liveness are per node, not additive
        if (
          metric === "mqtt_broker_uptime_seconds" ||
          metric === "mqtt_broker_up" ||
          metric === "mqtt_connections_max"
        ) {
          metrics[metric] = Math.max(metrics[metric] ?? value, value);
        } else {
          metrics[metric] = (metrics[metric] ?? 0) + value;
        }
      }
    }
    return {
      name: b.name,
      url: b.url,
      dialect: b.dialect,
      detectedDialect: b.detectedDialect,
      version: b.version,
      cluster: b.cluster,
      source: b.source,
      status: collector?.status ?? b.status,
      statusSince: b.statusSince?.toISOString() ?? null,
      lastSeenAt: (collector?.lastSeenAt ?? b.lastSeenAt)?.toISOString() ?? null,
      maxConnections: b.maxConnections,
      metrics,
    };
  });
}
