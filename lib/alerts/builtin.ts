/**
 * The alert rules brokerwatch ships on by default (docs/contract.md §6), and the defaults every
 * rule gets. A rule in brokerwatch.yaml with one of these names replaces it; `enabled: false`
 * turns it off (lib/alerts/rules.ts applies that precedence).
 */
import type { BuiltinRuleName } from "@/lib/config/schema";
import type { Labels } from "./promql";

/** What a rule says, before its expression is parsed: the Prometheus alerting-rule shape. */
export interface RuleDefinition {
  name: string;
  expr: string;
  forSeconds: number;
  keepFiringForSeconds: number;
  labels: Labels;
  annotations: Labels;
  /** "record" for a recording rule (from a Prometheus rule file); alerting rule when absent */
  kind?: "alert" | "record";
  /** the rule file group it came from, for the export (lib/alerts/rule-file.ts) */
  group?: string | null;
  /** the group's `interval`: how often a recording rule records; null for the default */
  intervalSeconds?: number | null;
  /** the group's `limit`: the most alerts or series one evaluation may produce; 0 for none */
  limit?: number;
}

/**
 * Every alert carries `severity` (docs/contract.md §6), so receivers can route on it; a rule that
 * sets none gets this one. Prometheus has no default, but its users conventionally use "warning"
 * for "look at it today" and "critical" for "page someone".
 */
export const DEFAULT_SEVERITY = "warning";

const builtin = (rule: Omit<RuleDefinition, "name" | "keepFiringForSeconds"> & { name: BuiltinRuleName }) => ({
  ...rule,
  keepFiringForSeconds: 0,
});

export const BUILTIN_RULES: readonly RuleDefinition[] = [
  builtin({
    name: "MQTT_Connection_Saturation",
    // docs/contract.md §6: mqtt_connections_current / mqtt_connections_max > 0.85. EMQX (and the bundled
    // broker, which publishes its layout) report connections per node (`node` label) while
    // `maxConnections` is configured per broker entry, so the sides only match once the nodes are
    // summed; for a single broker without a `node` label the sum is the value itself.
    expr: "sum without (node) (mqtt_connections_current) / mqtt_connections_max > 0.85",
    forSeconds: 5 * 60,
    labels: { severity: "warning" },
    annotations: {
      summary: "{{ $labels.broker }} at {{ $value | humanizePercentage }} of its connection capacity",
      description:
        "Broker {{ $labels.broker }} has held more than 85% of its configured maxConnections for 5 minutes " +
        "(now {{ $value | humanizePercentage }}). Once it is full, new clients are refused with max_connections. " +
        "Raise maxConnections on the broker (and in brokerwatch.yaml) or move clients elsewhere.",
    },
  }),
  builtin({
    name: "MQTT_Message_Queue_Backlog",
    expr: "mqtt_queued_messages > 100000",
    forSeconds: 2 * 60,
    labels: { severity: "critical" },
    annotations: {
      summary: "{{ $labels.broker }} has {{ $value | humanize }} messages queued",
      description:
        "Broker {{ $labels.broker }} has held more than 100k messages awaiting delivery for 2 minutes " +
        "(now {{ $value | humanize }}). Subscribers are slow or offline with persistent sessions; the broker " +
        "will start dropping messages or run out of memory. Check which clients' queues grow.",
    },
  }),
  builtin({
    name: "MQTT_Cluster_Node_Down",
    expr: "mqtt_cluster_nodes_alive < mqtt_cluster_nodes_expected",
    forSeconds: 30,
    labels: { severity: "critical" },
    annotations: {
      summary: "Cluster {{ $labels.cluster }} has only {{ $value }} nodes alive",
      description:
        "Cluster {{ $labels.cluster }} has had fewer live nodes than expected for 30 seconds " +
        "({{ $value }} alive). Clients of the missing nodes reconnect to the others, which raises their load. " +
        "Check the brokers of this cluster in brokerwatch.",
    },
  }),
  builtin({
    name: "MQTT_Broker_Down",
    expr: "mqtt_broker_up == 0",
    forSeconds: 30,
    labels: { severity: "critical" },
    annotations: {
      summary: "Broker {{ $labels.broker }} is down",
      description:
        "brokerwatch has had no live session with {{ $labels.broker }}, or no fresh $SYS heartbeat from it, " +
        "for 30 seconds. Its clients cannot connect or publish through it. Its other metrics are ignored " +
        "by the alert rules until it is up again.",
    },
  }),
  builtin({
    // The name is the contract's, the metric is not: no broker we read reports the memory its
    // subscriptions take (Mosquitto's `heap/current` is the whole process heap, EMQX's $SYS tree has
    // no memory figure, the bundled broker publishes its JS heap), so a rule on
    // mqtt_subscription_memory_bytes could never fire. It watches the broker's memory instead,
    // which subscriptions and the sessions holding them dominate on a broker with many clients.
    // See docs/contract.md §6.
    name: "MQTT_Subscription_Memory",
    expr: "mqtt_memory_bytes > 4294967296",
    forSeconds: 5 * 60,
    labels: { severity: "warning" },
    annotations: {
      summary: "{{ $labels.broker }} uses {{ $value | humanize1024 }}B of memory",
      description:
        "Broker {{ $labels.broker }} has used more than 4 GiB of memory for 5 minutes " +
        "(now {{ $value | humanize1024 }}B). On an MQTT broker this is mostly subscriptions and the " +
        "sessions holding them: look for clients subscribing with many distinct topics or persistent " +
        "sessions that are never cleaned up.",
    },
  }),
  builtin({
    // The least-squares line through the last hour of connections, 4 h ahead, against the configured
    // capacity. Per-node projections are summed (a regression is linear, so the sum of the nodes'
    // lines is the line of their sum) to compare with the per-broker maxConnections, as
    // MQTT_Connection_Saturation does. `for: 15m` keeps a short burst from paging.
    name: "MQTT_Connection_Saturation_Predicted",
    expr: "sum without (node) (predict_linear(mqtt_connections_current[1h], 4 * 3600)) >= mqtt_connections_max",
    forSeconds: 15 * 60,
    labels: { severity: "warning" },
    annotations: {
      summary: "{{ $labels.broker }} is projected to reach its connection capacity within 4 hours",
      description:
        "At the rate connections to {{ $labels.broker }} grew over the last hour, they reach its configured " +
        "maxConnections within 4 hours (projected {{ $value | humanize }}). Once it is full, new clients are " +
        "refused with max_connections. Raise maxConnections or add capacity before then.",
    },
  }),
];
