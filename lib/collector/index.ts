import type { MetricName } from "../metrics";
import { createAutoDialect } from "./auto";
import { BUNDLED_METRICS, createBundledDialect } from "./bundled";
import { EMQX_METRICS, createEmqxDialect } from "./emqx";
import { HIVEMQ_METRICS, createHivemqDialect } from "./hivemq";
import { RABBITMQ_METRICS, createRabbitMqDialect } from "./rabbitmq";
import { MOSQUITTO_METRICS, createMosquittoDialect } from "./mosquitto";
import { NATS_METRICS, createNatsDialect } from "./nats";
import type { Dialect, DialectName } from "./types";

/** What each dialect can read off its broker (`auto` becomes one of these). */
export const DIALECT_METRICS: Readonly<Record<DialectName, readonly MetricName[]>> = {
  mosquitto: MOSQUITTO_METRICS,
  emqx: EMQX_METRICS,
  bundled: BUNDLED_METRICS,
  hivemq: HIVEMQ_METRICS,
  rabbitmq: RABBITMQ_METRICS,
  nats: NATS_METRICS,
};

/**
 * Dialects of brokers without `$SYS`: read by the scrape collector (scrape.ts) from `metricsUrl`
 * (and, for RabbitMQ, `amqpUrl`; for NATS, `monitorUrl` and `natsUrl`), not over MQTT. Their log lines may also be shipped to
 * `POST /api/brokers/{name}/log`.
 */
export const SCRAPE_DIALECTS: readonly DialectName[] = ["hivemq", "rabbitmq", "nats"];

export function isScrapeDialect(name: string): boolean {
  return (SCRAPE_DIALECTS as readonly string[]).includes(name);
}

/**
 * Metrics no broker reports, which the collector writes itself for every broker: liveness and the
 * configured capacity (collector.ts `writeSynthetic`), disconnects per minute from the stored
 * events and the cluster node counts (manager.ts).
 */
export const COLLECTOR_METRICS: readonly MetricName[] = [
  "mqtt_broker_up",
  "mqtt_connections_max",
  "mqtt_disconnects_per_minute",
  "mqtt_cluster_nodes_alive",
  "mqtt_cluster_nodes_expected",
];

/** The `dialect:` of a broker in brokerwatch.yaml (docs/contract.md §2). */
export type DialectSetting = DialectName | "auto";

/** A fresh dialect (with its own counter state) for one monitored broker connection. */
export function createDialect(name: DialectSetting): Dialect {
  switch (name) {
    case "mosquitto":
      return createMosquittoDialect();
    case "emqx":
      return createEmqxDialect();
    case "bundled":
      return createBundledDialect();
    case "hivemq":
      return createHivemqDialect();
    case "rabbitmq":
      return createRabbitMqDialect();
    case "nats":
      return createNatsDialect();
    case "auto":
      return createAutoDialect();
  }
}
