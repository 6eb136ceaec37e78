import { linearRegression, type Point } from "./alerts/promql";

/**
 * Capacity headroom of one broker (`capacity` in GET /api/brokers, the broker page's headroom
 * panel). PURE: the caller fetches the series; everything here is arithmetic on them.
 *
 * - connections: `headroomRatio` = 1 − current ÷ maxConnections; `saturationAt` = when the
 *   least-squares line through the last hour of `mqtt_connections_current` reaches maxConnections —
 *   Prometheus' `predict_linear` solved for time, the same fit the built-in rule
 *   MQTT_Connection_Saturation_Predicted uses. Per-node lines are summed (a regression is linear).
 * - messages (Mosquitto only, which runs on one thread): the single-thread ceiling is the message rate
 *   one core can carry = busiest-minute rate (received + sent per second) ÷ the share of one core
 *   the broker process used in that minute. Mosquitto's `$SYS` publishes no CPU figure and brokerwatch
 *   watches brokers over the network, so without `cpuShareOfOneCore` the ceiling is null and `basis`
 *   says so; the busiest minute is reported either way.
 */
export interface CapacityInput {
  now: number;
  dialect: string | null;
  maxConnections: number | null;
  /** one series per node of `mqtt_connections_current`, the last hour */
  connections: readonly (readonly Point[])[];
  /** `mqtt_messages_received_per_second` and `…_sent_per_second`, the last hour (summed over nodes by the caller or not: all are added) */
  messageRates: readonly (readonly Point[])[];
  /** the broker process' CPU use in its busiest minute as a share of one core (0–1], when known */
  cpuShareOfOneCore?: number | null;
}

export interface Capacity {
  connectionsMax: number | null;
  /** 1 − current ÷ max: 0.25 means a quarter of the capacity is left; negative when over it */
  headroomRatio: number | null;
  /** ISO time the projection reaches connectionsMax; null when it never does (flat or falling) or is unknown */
  saturationAt: string | null;
  /** connections per second the projection grows by (the line's slope) */
  connectionsPerSecondTrend: number | null;
  /** Mosquitto: messages/s one core can carry; null when the CPU share is unknown or the broker is not single-threaded */
  messagesPerSecondCeiling: number | null;
  /** the highest 1-minute average of received + sent messages per second over the last hour */
  busiestMinuteMessagesPerSecond: number | null;
  /** how the numbers were computed, in words, with the formulas */
  basis: string;
}

const MINUTE = 60_000;

export function computeCapacity(input: CapacityInput): Capacity {
  const basis: string[] = [];
  const withPoints = input.connections.filter((s) => s.length > 0);
  const current = withPoints.length ? withPoints.reduce((sum, s) => sum + s[s.length - 1].v, 0) : null;
  const max = input.maxConnections && input.maxConnections > 0 ? input.maxConnections : null;

  let headroomRatio: number | null = null;
  let saturationAt: string | null = null;
  let trend: number | null = null;
  if (max === null) {
    basis.push("connections: no maxConnections configured, so no headroom or saturation time");
  } else if (current === null) {
    basis.push("connections: no mqtt_connections_current in the last hour");
  } else {
    headroomRatio = 1 - current / max;
    const fitted = withPoints.filter((s) => s.length >= 2);
    if (fitted.length === withPoints.length) {
      // predict_linear's line per node, intercept at now; their sum is the broker's line
      let slope = 0;
      let intercept = 0;
      for (const s of fitted) {
        const line = linearRegression(s, input.now);
        slope += line.slope;
        intercept += line.intercept;
      }
      trend = slope;
      if (intercept >= max) saturationAt = new Date(input.now).toISOString();
      else if (slope > 0) saturationAt = new Date(input.now + ((max - intercept) / slope) * 1000).toISOString();
      const points = fitted.reduce((n, s) => n + s.length, 0);
      basis.push(
        `connections: headroomRatio = 1 − current ${round(current)} ÷ maxConnections ${max}; saturationAt = now + ` +
          `(maxConnections − intercept) ÷ slope, the least-squares line through the last hour of ` +
          `mqtt_connections_current (${points} points, slope ${round(slope * 3600)}/h)` +
          (slope > 0 || intercept >= max ? "" : ": not growing, so no saturation time"),
      );
    } else {
      basis.push("connections: fewer than 2 points in the last hour, so no trend yet");
    }
  }

  const busiest = busiestMinute(input.messageRates);
  let ceiling: number | null = null;
  if (input.dialect === "mosquitto") {
    const cpu = input.cpuShareOfOneCore ?? null;
    if (busiest !== null && cpu !== null && cpu > 0) {
      ceiling = busiest / Math.min(1, cpu);
      basis.push(
        `messages: Mosquitto runs on one thread, so messagesPerSecondCeiling = busiest-minute rate ` +
          `${round(busiest)} msg/s ÷ CPU share of one core ${round(cpu)}`,
      );
    } else {
      basis.push(
        "messages: Mosquitto runs on one thread, so its ceiling is busiest-minute rate (received + sent per " +
          "second) ÷ the CPU share of one core in that minute; its $SYS publishes no CPU figure, so the " +
          "ceiling is unknown" +
          (busiest !== null ? ` (busiest minute of the last hour: ${round(busiest)} msg/s)` : " (no message rates yet)"),
      );
    }
  } else {
    basis.push("messages: no single-thread ceiling (only Mosquitto runs on one thread)");
  }

  return {
    connectionsMax: max,
    headroomRatio,
    saturationAt,
    connectionsPerSecondTrend: trend,
    messagesPerSecondCeiling: ceiling,
    busiestMinuteMessagesPerSecond: busiest,
    basis: basis.join("; "),
  };
}

/** The highest average, over whole clock minutes, of the sum of every rate series. */
function busiestMinute(rates: readonly (readonly Point[])[]): number | null {
  // per series: average within each minute; then the minutes' sums across series
  const byMinute = new Map<number, number>();
  for (const series of rates) {
    const sums = new Map<number, { sum: number; n: number }>();
    for (const p of series) {
      const minute = Math.floor(p.t / MINUTE);
      const acc = sums.get(minute) ?? { sum: 0, n: 0 };
      acc.sum += p.v;
      acc.n += 1;
      sums.set(minute, acc);
    }
    for (const [minute, { sum, n }] of sums) byMinute.set(minute, (byMinute.get(minute) ?? 0) + sum / n);
  }
  return byMinute.size ? Math.max(...byMinute.values()) : null;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
