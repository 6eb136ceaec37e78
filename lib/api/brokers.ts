import { listBrokers } from "@/db/brokers";
import { getRuntime } from "@/lib/runtime";

/**
 * Brokers as the API and the overview show them: stored definition plus the collector's live
 * view (status, last seen, latest value of each metric). A metric the broker doesn't report is
 * absent, not zero; for a multi-node broker (EMQX) gauges are summed over nodes.
 */
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
