import type { ConnectionEvent } from "./types";

/** How far back (by the event's own ts) ordinals are remembered. */
const KEEP_MS = 5 * 60_000;

/**
 * Ordinals of identical events: the n-th event with the same ts, type, node and raw line seen on
 * one broker gets ordinal n (from 0). Mosquitto stamps its log lines to the second, and a client
 * flapping within one second logs `Client x disconnected.` twice, identically: only the ordinal
 * tells the two apart, while a copy of either (a redelivery, another watcher) gets the same one.
 *
 * The ordinals a message took can be given back (`giveBack`): when the connection drops before the
 * message was acknowledged, the broker sends it again and it must get the same ordinals again.
 */
export class EventOrdinals {
  /** by ts in ms, then by `type \n node \n raw` */
  private readonly byTs = new Map<number, Map<string, number>>();
  private newestTs = 0;
  private sinceSweep = 0;

  /** The ordinal of `event`; `taken` collects what to give back if its message is redelivered. */
  next(event: Pick<ConnectionEvent, "ts" | "type" | "node" | "raw">, taken?: Taken[]): number {
    const at = event.ts.getTime();
    let same = this.byTs.get(at);
    if (!same) {
      same = new Map();
      this.byTs.set(at, same);
    }
    const signature = `${event.type}\n${event.node ?? ""}\n${event.raw}`;
    const ordinal = same.get(signature) ?? 0;
    same.set(signature, ordinal + 1);
    taken?.push({ at, signature });
    if (at > this.newestTs) this.newestTs = at;
    if (++this.sinceSweep >= 1000) this.sweep();
    return ordinal;
  }

  /** Undo `next` for these, newest first: their message will be delivered again. */
  giveBack(taken: Taken[]): void {
    for (let i = taken.length - 1; i >= 0; i--) {
      const same = this.byTs.get(taken[i].at);
      const count = same?.get(taken[i].signature);
      if (!same || count === undefined) continue;
      if (count <= 1) same.delete(taken[i].signature);
      else same.set(taken[i].signature, count - 1);
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
  signature: string;
}
