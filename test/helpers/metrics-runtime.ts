import { METRIC_NAMES } from "@/lib/metrics";
import { renderMetrics } from "@/lib/metrics-export";
import { setRuntime, type CollectorView, type Runtime } from "@/lib/runtime";
import { freshDatabase } from "./db";

/**
 * GET /metrics's body with every series it can export present: a broker reporting every metric of
 * docs/contract.md §3, the writer, the alert engine with a firing alert, the delivery worker.
 * Renders in-process on a fresh database, then undoes the runtime.
 */
export async function renderEveryMetric(): Promise<string> {
  const t = await freshDatabase();
  try {
    const latest = new Map<string, CollectorView["latest"] extends ReadonlyMap<string, infer V> ? V : never>();
    for (const metric of METRIC_NAMES) {
      const labels: Record<string, string> =
        metric === "mqtt_disconnects_per_minute" ? { reason: "keepalive_timeout" } : {};
      latest.set(metric, { metric, node: "", labels, value: 7, ts: new Date() });
    }
    const collector: CollectorView = {
      broker: { name: "plant-a", clientId: "brokerwatch-1" },
      status: "up",
      lastSeenAt: new Date(),
      latest,
    };
    const runtime: Runtime = {
      database: t.database,
      startedAt: new Date(),
      bundledBrokerUrl: null,
      collectors: {
        list: () => [collector],
        get: () => collector,
        clusters: () => new Map([["plant", { alive: 1, expected: 2 }]]),
        noteShippedEvents: () => {},
        reload: async () => {},
      },
      writer: {
        stats: {
          eventsWritten: 10,
          samplesWritten: 20,
          unparsedWritten: 1,
          writeErrors: 0,
          duplicatesDropped: 0,
          backpressureEpisodes: 0,
          lastLagMs: 12,
          lastFlushMs: 3,
          rowsRejected: 0,
          rowsDropped: 0,
          waitingSince: null,
          lastError: null,
          lastErrorAt: null,
        },
        eventsPerSecond: () => 2,
        queued: 0,
        isFull: false,
        on: () => undefined,
        off: () => undefined,
      },
      alertEngine: {
        alerts: () => [],
        ruleStates: () => [],
        metrics: () => ({
          alerts: [{ labels: { alertname: "MQTT_Broker_Down", alertstate: "firing", broker: "plant-a" }, value: 1 }],
          ruleEvaluationSeconds: [{ rule: "MQTT_Broker_Down", seconds: 0.002 }],
          ruleEvaluationFailures: [{ rule: "MQTT_Broker_Down", count: 1 }],
          lastRoundSeconds: 0.01,
        }),
      } as unknown as Runtime["alertEngine"],
      deliveryWorker: { stats: { delivered: 3, failedAttempts: 1, permanentFailures: 0, pending: 2 } },
    };
    setRuntime(runtime);
    return (await renderMetrics()).body;
  } finally {
    setRuntime(undefined);
    await t.drop();
  }
}
