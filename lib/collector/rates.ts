/**
 * Turns cumulative counters into per-second rates from successive values.
 * A value lower than the last one is a counter reset (the broker restarted): as
 * Prometheus' rate() does, the new value is taken as the increase since the reset.
 */
export class CounterRates {
  private last = new Map<string, { value: number; atMs: number }>();

  /**
   * Feed one observation of counter `key`; returns the per-second rate since the previous
   * observation, or null for the first one (or when no time has passed).
   */
  observe(key: string, value: number, at: Date): number | null {
    const atMs = at.getTime();
    const prev = this.last.get(key);
    this.last.set(key, { value, atMs });
    if (!prev) return null;
    const seconds = (atMs - prev.atMs) / 1000;
    if (!(seconds > 0)) return null;
    const increase = value >= prev.value ? value - prev.value : value;
    return increase / seconds;
  }

  /** Forget every counter, e.g. after the broker restarted and the collector knows it. */
  reset(): void {
    this.last.clear();
  }
}
