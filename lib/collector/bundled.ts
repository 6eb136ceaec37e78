import type { MetricName } from "../metrics";
import { EMQX_METRICS, EMQX_STATS, createBrokersTreeDialect } from "./emqx";
import type { Dialect } from "./types";

/** `stats/<name>` gauges of the bundled broker: EMQX's plus two it adds. */
const BUNDLED_STATS: Readonly<Record<string, MetricName>> = {
  ...EMQX_STATS,
  // EMQX has no queue gauge in $SYS; the bundled broker counts stored QoS 1/2 messages
  "queued/count": "mqtt_queued_messages",
  // bytes of JS heap, published under stats/ although it is not a count (BUNDLED_STATS)
  "memory/heap_used": "mqtt_memory_bytes",
};

/** Every metric the bundled dialect can emit: EMQX's and the additional stats. */
export const BUNDLED_METRICS: readonly MetricName[] = [...new Set([...EMQX_METRICS, ...Object.values(BUNDLED_STATS)])];

/**
 * The bundled broker (Aedes) publishes EMQX 5's `$SYS/brokers/{node}/...` layout plus a few
 * additions (lib/bundled-layout.ts), so it is the EMQX parser with those additions switched on:
 * two more gauges, `messages_dropped` and `connect_failed` events, and `peerport` (which the shared
 * parser reads whenever a payload carries it). Uptime is integer milliseconds, as EMQX 5.
 */
export function createBundledDialect(): Dialect {
  return createBrokersTreeDialect({
    name: "bundled",
    stats: BUNDLED_STATS,
    bundledEvents: true,
  });
}
