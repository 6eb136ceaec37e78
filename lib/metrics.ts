/**
 * Metric names of docs/contract.md §3: the one place they are spelled.
 * Rules query them, dashboards plot them and GET /metrics exports them.
 */
export const METRIC_NAMES = [
  "mqtt_broker_up",
  "mqtt_broker_uptime_seconds",
  "mqtt_connections_current",
  "mqtt_connections_max",
  "mqtt_sessions",
  "mqtt_subscriptions",
  "mqtt_retained_messages",
  "mqtt_queued_messages",
  "mqtt_queued_own_messages",
  "mqtt_queued_own_max_messages",
  "mqtt_messages_received_per_second",
  "mqtt_messages_sent_per_second",
  "mqtt_bytes_received_per_second",
  "mqtt_bytes_sent_per_second",
  "mqtt_messages_dropped_total",
  "mqtt_memory_bytes",
  "mqtt_subscription_memory_bytes",
  "mqtt_cluster_nodes_alive",
  "mqtt_cluster_nodes_expected",
  "mqtt_disconnects_per_minute",
  "mqtt_broker_alarm",
  "mqtt_slow_consumers_total",
] as const;

export type MetricName = (typeof METRIC_NAMES)[number];

export const METRIC_HELP: Record<MetricName, string> = {
  mqtt_broker_up: "1 while the collector holds a live session and the broker's heartbeat is fresh, else 0",
  mqtt_broker_uptime_seconds: "Broker-reported uptime in seconds",
  mqtt_connections_current: "Clients connected now",
  mqtt_connections_max: "Configured capacity (maxConnections), not the observed peak",
  mqtt_sessions: "Sessions held, including disconnected persistent ones",
  mqtt_subscriptions: "Subscriptions",
  mqtt_retained_messages: "Retained messages",
  mqtt_queued_messages: "Messages stored or queued awaiting delivery",
  mqtt_queued_own_messages:
    "Of mqtt_queued_messages (Mosquitto), the least that was brokerwatch's own: log lines it had received and not yet acknowledged",
  mqtt_queued_own_max_messages:
    "Of mqtt_queued_messages (Mosquitto), the most that can have been brokerwatch's own: plus its PUBACKs still on their way, or all of it when the broker may have queued more for it",
  mqtt_messages_received_per_second: "Messages received per second",
  mqtt_messages_sent_per_second: "Messages sent per second",
  mqtt_bytes_received_per_second: "Bytes received per second",
  mqtt_bytes_sent_per_second: "Bytes sent per second",
  mqtt_messages_dropped_total: "Messages the broker dropped",
  mqtt_memory_bytes: "Broker heap or memory in use, where reported",
  mqtt_subscription_memory_bytes: "Memory used by subscriptions, where reported",
  mqtt_cluster_nodes_alive: "Cluster nodes with mqtt_broker_up == 1",
  mqtt_cluster_nodes_expected: "expectedNodes, else the number of brokers configured in the cluster",
  mqtt_disconnects_per_minute: "Disconnects per minute, from connection events, by reason",
  mqtt_broker_alarm: "1 while the broker has raised a resource alarm (label alarm: memory, disk, file_descriptors), else 0",
  mqtt_slow_consumers_total:
    "Connections the broker cut because they did not read fast enough, since it started (NATS /varz slow_consumers); a count of connections, not of messages",
};

/**
 * Metrics that are a broker's running total, exported on /metrics with `# TYPE counter`. The
 * `_per_second` and `_per_minute` gauges are rates brokerwatch computes from the broker's totals
 * (docs/contract.md §3 keeps them as a convenience; promtool accepts them as gauges).
 */
const COUNTER_METRICS: ReadonlySet<MetricName> = new Set(["mqtt_messages_dropped_total", "mqtt_slow_consumers_total"]);

export function isCounterMetric(name: MetricName): boolean {
  return COUNTER_METRICS.has(name);
}

export function isMetricName(name: string): name is MetricName {
  return (METRIC_NAMES as readonly string[]).includes(name);
}
