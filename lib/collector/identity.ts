import { eventKey } from "@/db/ingest";
import type { ConnectionEvent } from "./types";

/**
 * How far back, by the broker's own timestamps, identical events are remembered. Identical lines
 * share their ts, and a broker emits its lines in time order, so the twin of a line arrives within
 * the same second of broker time (or a little later if the broker's clock steps back). Kept short
 * because at fleet rates every event is remembered this long: 10 s at 50,000 events/s is half a
 * million keys (about 50 MB); the 5 minutes this was before would have been 15 million.
 */
const KEEP_MS = 10_000;

/**
 * Identities of events in one broker's stream (db/ingest.ts, eventKey): the n-th event with the
 * same ts, type, node and raw line gets ordinal n (from 0). Mosquitto stamps its log lines to the
 * second, and a client flapping within one second logs `Client x disconnected.` twice,
 * identically: only the ordinal tells the two apart, while a copy of either (a redelivery, another
 * watcher) gets the same one.
 *
 * Events are counted by their key at ordinal 0 (an md5, so identical events and only they share
 * it): that key is needed anyway, and is the event's key in the common case of a first sighting,
 * so a unique event costs one hash, and what is remembered is a 36-character key rather than the
 * raw line.
 *
 * The keys a message took can be given back (`giveBack`): when the connection drops before the
 * message was acknowledged, the broker sends it again and it must get the same keys again.
 */
export class EventOrdinals {
  /** by ts in ms, then by the key at ordinal 0: how many were seen */
  private readonly byTs = new Map<number, Map<string, number>>();
  private newestTs = 0;
  private sinceSweep = 0;

  /** The identity (event_key) of `event`; `taken` collects what to give back if its message is redelivered. */
  key(event: Pick<ConnectionEvent, "ts" | "type" | "node" | "raw">, taken?: Taken[]): string {
    const at = event.ts.getTime();
    let same = this.byTs.get(at);
    if (!same) {
      same = new Map();
      this.byTs.set(at, same);
    }
    const first = eventKey(event, 0);
    const ordinal = same.get(first) ?? 0;
    same.set(first, ordinal + 1);
    taken?.push({ at, first });
    if (at > this.newestTs) this.newestTs = at;
    if (++this.sinceSweep >= 1000) this.sweep();
    return ordinal === 0 ? first : eventKey(event, ordinal);
  }

  /** Undo `key` for these, newest first: their message will be delivered again. */
  giveBack(taken: Taken[]): void {
    for (let i = taken.length - 1; i >= 0; i--) {
      const same = this.byTs.get(taken[i].at);
      const count = same?.get(taken[i].first);
      if (!same || count === undefined) continue;
      if (count <= 1) same.delete(taken[i].first);
      else same.set(taken[i].first, count - 1);
    }
  }

  private sweep(): void {
    this.sinceSweep = 0;
    const cutoff = this.newestTs - KEEP_MS;
    for (const at of this.byTs.keys()) if (at < cutoff) this.byTs.delete(at);
  }
}

export interface Taken {
  at: number;
  /** the event's key at ordinal 0 */
  first: string;
}
