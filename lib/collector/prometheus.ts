import parsePrometheusTextFormat from "parse-prometheus-text-format";
import type { MetricName } from "../metrics";
import type { CounterRates } from "./rates";
import { METRICS_TOPIC, type DialectOutput } from "./types";

/**
 * The Prometheus text exposition format (what RabbitMQ's `rabbitmq_prometheus` plugin and HiveMQ's
 * Prometheus extension serve), read with parse-prometheus-text-format into flat samples. Pure: the
 * scraping collector fetches the text, the dialects map names to ours (docs/brokers.md).
 */
export interface ScrapedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export type Exposition = { ok: true; samples: ScrapedSample[] } | { ok: false; error: string };

/** Upper bound on what one scrape may hold: a broker with a million queues is not read whole every 10 s. */
export const MAX_EXPOSITION_BYTES = 16 * 1024 * 1024;

export function readExposition(text: string): Exposition {
  if (text.length > MAX_EXPOSITION_BYTES) return { ok: false, error: `exposition larger than ${MAX_EXPOSITION_BYTES} bytes` };
  let families;
  try {
    families = parsePrometheusTextFormat(text);
  } catch (err) {
    return { ok: false, error: `not the Prometheus text format: ${(err as Error).message}` };
  }
  const samples: ScrapedSample[] = [];
  for (const family of families) {
    for (const m of family.metrics) {
      const labels = m.labels ?? {};
      if (m.value !== undefined) {
        const value = Number(m.value);
        if (!Number.isNaN(value)) samples.push({ name: family.name, labels, value });
        continue;
      }
      // histograms and summaries: only their count and sum are of any use here
      if (m.count !== undefined) samples.push({ name: `${family.name}_count`, labels, value: Number(m.count) });
      if (m.sum !== undefined) samples.push({ name: `${family.name}_sum`, labels, value: Number(m.sum) });
    }
  }
  if (samples.length === 0 && text.trim() !== "" && !/^\s*#/.test(text)) {
    return { ok: false, error: "no sample in the exposition" };
  }
  return { ok: true, samples };
}

/**
 * The sum over every series of `name` whose labels match `where` (exact values); null when the
 * exposition has no such series, so a metric the broker does not serve stays absent, not zero.
 */
export function sumOf(
  samples: readonly ScrapedSample[],
  name: string,
  where: (labels: Record<string, string>) => boolean = () => true,
): number | null {
  let sum: number | null = null;
  for (const s of samples) if (s.name === name && where(s.labels)) sum = (sum ?? 0) + s.value;
  return sum;
}

/** The samples of a scraped exposition; null, with the text kept as unparsed, when it is not one. */
export function scrapedSamples(text: string, receivedAt: Date, out: DialectOutput): ScrapedSample[] | null {
  const exposition = readExposition(text);
  if (exposition.ok) return exposition.samples;
  out.unparsed.push({ receivedAt, topic: METRICS_TOPIC, raw: text.slice(0, 4096), error: exposition.error });
  return null;
}

/**
 * Our broker-wide metrics from one scrape: each of `gauges` as the sum of its series, each of
 * `rateCounters` as its per-second rate since the previous scrape (`rates` keeps the counters).
 */
export function pushScrapedMetrics(
  samples: readonly ScrapedSample[],
  metrics: { gauges: Readonly<Record<string, MetricName>>; rateCounters: Readonly<Record<string, MetricName>> },
  rates: CounterRates,
  receivedAt: Date,
  out: DialectOutput,
): void {
  for (const [name, metric] of Object.entries(metrics.gauges)) {
    const value = sumOf(samples, name);
    if (value !== null) out.samples.push({ metric, node: null, value, ts: receivedAt });
  }
  for (const [name, metric] of Object.entries(metrics.rateCounters)) {
    const value = sumOf(samples, name);
    if (value === null) continue;
    const rate = rates.observe(name, value, receivedAt);
    if (rate !== null) out.samples.push({ metric, node: null, value: rate, ts: receivedAt });
  }
}
