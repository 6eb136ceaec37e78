import type { BrokerStatus } from "@/db/vocabulary";

/**
 * Whether a broker is up, from what its sources say: the one liveness rule of the polled and
 * pushed sources (scrape.ts runs every source of a broker through it: a Prometheus scrape, an AMQP
 * consumer, NATS's monitoring port and its system account).
 *
 * Pure and clock-free: heartbeats and connection changes go in with the time they happened, and
 * `evaluate(now)` says the status and why, and whether that is a change. Tested on a fake clock
 * (test/liveness.test.ts).
 *
 * - A **polled** source (`staleAfterMs` set) is fresh while its last heartbeat (a poll the dialect
 *   read as the broker's own answer) is at most `staleAfterMs` old.
 * - A **connection** source (`staleAfterMs` null) counts while its connection is open.
 * - Up: every source fresh or connected. Down: any not, after the first attempt: a failure said
 *   why, or the start grace (`graceMs`, the first poll or connection on its way) ran out.
 * - No source at all: unknown (nothing configured to read the broker with).
 */
export interface LivenessSource {
  name: string;
  /** null: a connection (up while connected); else a poll whose heartbeat goes stale after this */
  staleAfterMs: number | null;
}

export interface LivenessVerdict {
  status: BrokerStatus;
  why: string;
  /** the status differs from the previous verdict's */
  changed: boolean;
  from: BrokerStatus;
}

interface SourceState {
  spec: LivenessSource;
  lastBeatAt: number | null;
  connected: boolean;
  error: string | null;
}

export class Liveness {
  private readonly sources = new Map<string, SourceState>();
  private status: BrokerStatus = "unknown";
  private lastError: string | null = null;

  constructor(
    specs: readonly LivenessSource[],
    private readonly startedAt: number,
    private readonly graceMs: number,
  ) {
    for (const spec of specs) this.sources.set(spec.name, { spec, lastBeatAt: null, connected: false, error: null });
  }

  get current(): BrokerStatus {
    return this.status;
  }

  /** The broker answered this source (a poll read as its heartbeat, or any pushed message). */
  beat(source: string, at: number): void {
    const s = this.state(source);
    s.lastBeatAt = at;
    s.error = null;
  }

  /** A connection source's connection opened. */
  connected(source: string): void {
    const s = this.state(source);
    s.connected = true;
    s.error = null;
  }

  /** A poll failed or a connection was lost or refused: `why` is what the verdict says. */
  failed(source: string, why: string): void {
    const s = this.state(source);
    if (s.spec.staleAfterMs === null) s.connected = false;
    s.error = why;
    this.lastError = why;
  }

  evaluate(now: number): LivenessVerdict {
    const from = this.status;
    let next: BrokerStatus;
    let why: string;
    const states = [...this.sources.values()];
    const fresh = (s: SourceState) =>
      s.spec.staleAfterMs === null ? s.connected : s.lastBeatAt !== null && now - s.lastBeatAt <= s.spec.staleAfterMs;
    if (states.length === 0) {
      next = "unknown";
      why = "no source configured to read this broker";
    } else if (states.every(fresh)) {
      next = "up";
      why = states.map((s) => (s.spec.staleAfterMs === null ? `${s.spec.name} connected` : `${s.spec.name} fresh`)).join(", ");
    } else {
      const failing = states.find((s) => !fresh(s))!;
      const neverFailed = states.every((s) => s.error === null);
      if (neverFailed && now - this.startedAt <= this.graceMs && states.every((s) => s.lastBeatAt === null || fresh(s))) {
        next = this.status; // just started: the first poll or connection is still on its way
        why = `waiting for ${failing.spec.name}`;
      } else {
        next = "down";
        why =
          failing.error ??
          (failing.spec.staleAfterMs === null
            ? `${failing.spec.name}: not connected`
            : failing.lastBeatAt === null
              ? `${failing.spec.name}: no answer yet`
              : `${failing.spec.name}: no answer for ${Math.round((now - failing.lastBeatAt) / 1000)} s`);
      }
    }
    this.status = next;
    return { status: next, why, changed: next !== from, from };
  }

  /** The last failure any source reported, for the logs. */
  get lastFailure(): string | null {
    return this.lastError;
  }

  private state(source: string): SourceState {
    const s = this.sources.get(source);
    if (!s) throw new Error(`liveness: no source named ${source}`);
    return s;
  }
}
