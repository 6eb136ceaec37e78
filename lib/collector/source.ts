import { fetchFollowingSameHost, readBodyCapped } from "../egress";
import type { DialectOutput } from "./types";

/**
 * The ingest pipeline of the brokers read without `$SYS` (docs/architecture.md §4):
 * **sources** (transport only: an HTTP poll, an AMQP consumer, a NATS subscription) yield records;
 * the broker's **dialect** (a pure transform) turns each into events and samples; the **writer**
 * (writer.ts) is the one sink, and calls the record's `ack` once what it produced is committed.
 * Liveness is the one machine of liveness.ts, fed by what the sources report.
 */
export interface SourceRecord {
  /** the dialect's topic for it: METRICS_TOPIC, LOG_TOPIC, a NATS subject, `nats/varz`, … */
  topic: string;
  payload: Uint8Array;
  /** when the broker says it happened, where the transport tells (else null: the dialect reads it from the payload) */
  brokerTs: Date | null;
  /** when brokerwatch received it */
  receivedAt: Date;
  /**
   * Called once everything the record produced (and everything before it) is committed: a poll's
   * cursor moves on only then, so a crash re-reads what was not stored.
   */
  ack?: () => void;
}

export interface SourceSink {
  /** Transform and queue one record; returns what the dialect made of it (a poll checks it for the heartbeat). */
  record(record: SourceRecord): DialectOutput;
  /** the broker answered (a poll read as its heartbeat) */
  beat(source: string): void;
  /** a connection source's connection opened */
  connected(source: string): void;
  /** a poll failed, or a connection was lost or refused */
  failed(source: string, why: string): void;
  /** the source knows it missed what the broker said between these times (e.g. a ring that wrapped) */
  gap(from: Date, to: Date, why: string): void;
}

export interface Source {
  readonly name: string;
  /**
   * How the source counts for the broker's liveness (liveness.ts): `poll`, fresh while its
   * heartbeat is; `connection`, up while connected; `none`, not at all (its loss costs only the
   * records it would have pushed, which another source backfills).
   */
  readonly liveness: "poll" | "connection" | "none";
  start(sink: SourceSink): void;
  stop(): Promise<void>;
  /** backpressure: stop polling until resume() (pushed records keep coming and are queued) */
  pause?(): void;
  resume?(): void;
}

/**
 * A poll source's GET with a timeout and a size cap; answers non-2xx unless `acceptStatus` says
 * otherwise. Under BROKERWATCH_EGRESS, redirects only within the same host, and the body counted as
 * it streams: an endless answer costs `maxBytes`, not the process (lib/egress.ts).
 */
export async function httpGet(
  url: string,
  opts: { timeoutMs: number; maxBytes: number; accept?: string; acceptStatus?: (status: number) => boolean },
): Promise<Uint8Array> {
  const res = await fetchFollowingSameHost(url, {
    signal: AbortSignal.timeout(opts.timeoutMs),
    headers: opts.accept ? { accept: opts.accept } : {},
  });
  if (!res.ok && !opts.acceptStatus?.(res.status)) {
    await res.body?.cancel().catch(() => {});
    throw new Error(`${url} answered ${res.status}`);
  }
  return readBodyCapped(res, opts.maxBytes);
}
