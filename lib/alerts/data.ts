/**
 * The samples an evaluation reads, fetched from the store. The engine builds one `EvaluationData`
 * per round; the rule editor's preview (preview.ts) builds one for a single expression, so a
 * preview sees exactly what the next round would see.
 */
import type { Database } from "@/db/client";
import { fetchSeries, type StoredSeries } from "@/db/metrics";
import { METRIC_NAMES, type MetricName } from "@/lib/metrics";
import {
  compileLabelRegex,
  DEFAULT_LOOKBACK_MS,
  MAX_RANGE_SECONDS,
  selectorWindow,
  type ParsedExpr,
  type Selector,
} from "./promql";

/**
 * Series that stay meaningful while a broker is down: its liveness itself, and the cluster view
 * (stored without a broker, but named here so the rule reads plainly).
 */
const KEPT_WHILE_DOWN = new Set<string>([
  "mqtt_broker_up",
  "mqtt_cluster_nodes_alive",
  "mqtt_cluster_nodes_expected",
] satisfies MetricName[]);

/**
 * The samples of one evaluation, fetched once per metric however many expressions read it, over
 * the widest window any selector of that metric needs (the evaluator ignores points outside each
 * selector's own window).
 *
 * A broker's series end when it goes down, as a scrape target's do in Prometheus: each time its
 * `mqtt_broker_up` turns 0, every other series of that broker gets a staleness marker at that
 * instant. They stop arriving when it goes down, but without the marker the evaluator would keep
 * using the last value for the 5-minute lookback, so a saturated broker that crashed would stay
 * "saturated" instead of only "down"; range functions (`max_over_time(…[1h])`) still see the
 * samples from before the crash, and a broker that comes back starts its series again.
 */
export class EvaluationData {
  private readonly widthMs = new Map<string, number>();
  private readonly fetched = new Map<string, Promise<StoredSeries[]>>();
  private downAt: Promise<Map<string, number[]>> | null = null;

  /** `expressions`: every expression this evaluation will read, so each metric is fetched once. */
  constructor(
    private readonly database: Database,
    private readonly nowMs: number,
    expressions: Iterable<ParsedExpr>,
  ) {
    let widest = DEFAULT_LOOKBACK_MS;
    for (const parsed of expressions) {
      for (const selector of parsed.selectors) {
        // A window the parser would refuse must not widen the fetch the other rules share:
        // that expression alone fails, in forExpr.
        if (windowProblem(selector, nowMs) !== null) continue;
        const { fromMs } = selectorWindow(selector, nowMs);
        widest = Math.max(widest, nowMs - fromMs);
        for (const metric of metricsOf(selector)) {
          this.widthMs.set(metric, Math.max(this.widthMs.get(metric) ?? 0, nowMs - fromMs));
        }
      }
    }
    // Down transitions are needed over every window read.
    this.widthMs.set("mqtt_broker_up", widest);
  }

  /** The series of each selector of `parsed`, in order, as `evaluate` wants them. */
  async forExpr(parsed: ParsedExpr): Promise<StoredSeries[][]> {
    for (const selector of parsed.selectors) {
      const problem = windowProblem(selector, this.nowMs);
      if (problem !== null) throw new Error(problem);
    }
    const downAt = await this.down();
    const forMetric = async (metric: string) => {
      const series = await this.fetch(metric);
      if (downAt.size === 0 || KEPT_WHILE_DOWN.has(metric)) return series;
      return series.map((s) => withStaleMarkers(s, downAt.get(s.labels.broker ?? "")));
    };
    return Promise.all(
      parsed.selectors.map(async (selector) => (await Promise.all(metricsOf(selector).map(forMetric))).flat()),
    );
  }

  /** Reads `metric` again at its next use: a recording rule has just stored new samples of it. */
  forget(metric: string): void {
    this.fetched.delete(metric);
  }

  private fetch(metric: string): Promise<StoredSeries[]> {
    let series = this.fetched.get(metric);
    if (!series) {
      const width = this.widthMs.get(metric) ?? DEFAULT_LOOKBACK_MS;
      series = fetchSeries(this.database.db, metric, this.nowMs - width, this.nowMs);
      this.fetched.set(metric, series);
    }
    return series;
  }

  /** Per broker, the instants its `mqtt_broker_up` turned 0 (the first point, if it starts at 0). */
  private down(): Promise<Map<string, number[]>> {
    this.downAt ??= this.fetch("mqtt_broker_up").then((series) => {
      const down = new Map<string, number[]>();
      for (const s of series) {
        if (!s.labels.broker) continue;
        const times: number[] = [];
        // fetchSeries returns points oldest first.
        s.points.forEach((p, i) => {
          if (p.v === 0 && (i === 0 || s.points[i - 1].v !== 0)) times.push(p.t);
        });
        if (times.length > 0) down.set(s.labels.broker, times);
      }
      return down;
    });
    return this.downAt;
  }
}

/** The series with a staleness marker at each instant its broker went down (a stored sample at the same instant wins). */
function withStaleMarkers(series: StoredSeries, downAt: number[] | undefined): StoredSeries {
  if (!downAt) return series;
  const taken = new Set(series.points.map((p) => p.t));
  const markers = downAt.filter((t) => !taken.has(t)).map((t) => ({ t, v: NaN, stale: true }));
  if (markers.length === 0) return series;
  return { ...series, points: [...series.points, ...markers].sort((a, b) => a.t - b.t) };
}

/**
 * Why a selector's window cannot be fetched (parseExpr refuses these; a rule built otherwise may
 * not): a range outside 0 to a year and a day, or a window (with offset, `@` and enclosing
 * subqueries) reaching further back than that plus a year.
 */
function windowProblem(selector: Selector, nowMs: number): string | null {
  const seconds = selector.rangeSeconds;
  const name = selector.metric || "a selector without a metric name";
  if (seconds !== null && !(seconds > 0 && seconds <= MAX_RANGE_SECONDS)) {
    return `range of ${seconds}s for ${name} is outside 0s to ${MAX_RANGE_SECONDS}s`;
  }
  const { fromMs } = selectorWindow(selector, nowMs);
  const limitMs = 2 * MAX_RANGE_SECONDS * 1000;
  if (!(nowMs - fromMs <= limitMs)) {
    return `the window of ${name} (with its offset, @ and subqueries) reaches back more than ${(2 * MAX_RANGE_SECONDS) / 86400} days`;
  }
  return null;
}

/**
 * The stored metrics a selector can read: its name, or for `{job="x"}` / `{__name__=~"a|b"}` each
 * of brokerwatch's metric names (docs/contract.md §3) its `__name__` matchers accept.
 */
export function metricsOf(selector: Selector): string[] {
  if (selector.metric) return [selector.metric];
  const tests = selector.matchers
    .filter((m) => m.name === "__name__")
    .map((m) => {
      if (m.op === "=") return (n: string) => n === m.value;
      if (m.op === "!=") return (n: string) => n !== m.value;
      const re = compileLabelRegex(m.value, { dotAll: true });
      return m.op === "=~" ? (n: string) => re.matches(n) : (n: string) => !re.matches(n);
    });
  return METRIC_NAMES.filter((name) => tests.every((test) => test(name)));
}
