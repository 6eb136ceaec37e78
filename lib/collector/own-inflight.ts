import type { OwnInFlight, OwnMessage } from "./types";

/**
 * How long after we sent a PUBACK the broker may still have counted the message as ours when it
 * published a `$SYS` value we read now: the value waited behind the messages ahead of it (QoS 1
 * delivery is in order, and the broker holds back what exceeds our in-flight window until we
 * acknowledge, i.e. one commit), then one turn of our event loop. A turn longer than this is a
 * stall, which BrokerCollector.tick already treats as ours (500 ms).
 */
export const OWN_ACK_RACE_MS = 500;

interface Tracked {
  topic: string;
  /** arrival order of the message on this connection */
  order: number;
}

interface Unacknowledged<T> extends Tracked {
  /** what the owner keeps with the message until it is acknowledged (the collector: its ordinals) */
  pending: T | undefined;
}

/**
 * The messages of one collector connection that the broker may still hold for us: received QoS 1/2
 * messages not yet acknowledged (we acknowledge after commit), and those acknowledged in the last
 * OWN_ACK_RACE_MS. Each says whether a later message on its topic was read since, which makes a
 * retained value the broker no longer counts as retained (types.ts OwnInFlight).
 */
export class OwnMessages<T = undefined> {
  private order = 0;
  private readonly newestByTopic = new Map<string, number>();
  private unacked = new Map<number, Unacknowledged<T>>();
  private readonly acked: (Tracked & { at: number })[] = [];

  /**
   * A message was read (after the dialect parsed it); returns its key when it awaits a PUBACK.
   * `pending` is kept with it until it is acknowledged, and handed back by forget().
   */
  received(topic: string, awaitsAck: boolean, pending?: T): number | null {
    const order = this.order++;
    this.newestByTopic.set(topic, order);
    if (!awaitsAck) return null;
    this.unacked.set(order, { topic, order, pending });
    return order;
  }

  /** Its PUBACK was sent; false when the message was already forgotten (a closed connection). */
  acknowledged(key: number, at: number): boolean {
    const message = this.unacked.get(key);
    if (!message) return false;
    this.unacked.delete(key);
    this.acked.push({ topic: message.topic, order: message.order, at });
    return true;
  }

  /**
   * The connection closed: the broker delivers what was unacknowledged again on the next one.
   * Returns what was kept with those messages, in arrival order.
   */
  forget(): (T | undefined)[] {
    const pending = [...this.unacked.values()].map((m) => m.pending);
    this.unacked = new Map();
    this.acked.length = 0;
    this.newestByTopic.clear();
    return pending;
  }

  get unacknowledgedCount(): number {
    return this.unacked.size;
  }

  /** What is in flight now, for a dialect that asks (only Mosquitto's store count does). */
  snapshot(now: number): OwnInFlight {
    let old = 0;
    while (old < this.acked.length && now - this.acked[old].at > OWN_ACK_RACE_MS) old++;
    if (old > 0) this.acked.splice(0, old);
    const view = (m: Tracked): OwnMessage => ({
      topic: m.topic,
      superseded: (this.newestByTopic.get(m.topic) ?? m.order) > m.order,
    });
    return { unacknowledged: [...this.unacked.values()].map(view), acknowledgedRecently: this.acked.map(view) };
  }
}
