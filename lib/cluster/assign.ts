import { createHash } from "node:crypto";

/**
 * Which instances watch which broker. Every instance computes this from the same inputs (the
 * enabled brokers and the live instances, both read from the database), so they agree without
 * talking to each other.
 *
 * Each broker gets `watchers` instances (fewer when fewer are alive). Brokers are placed in name
 * order on the least-loaded instances, ties broken by rendezvous hashing (highest
 * hash(instance, broker) wins): loads differ by at most one, and which instance wins a tie
 * depends on the pair, so the brokers do not all pile onto the alphabetically first instance.
 */
export function assignWatchers(
  brokers: readonly string[],
  instances: readonly string[],
  watchers: number,
): Map<string, string[]> {
  const load = new Map(instances.map((i) => [i, 0]));
  const out = new Map<string, string[]>();
  const k = Math.max(0, Math.min(watchers, instances.length));
  for (const broker of [...brokers].sort()) {
    const chosen = [...instances]
      .sort((a, b) => load.get(a)! - load.get(b)! || score(b, broker) - score(a, broker) || a.localeCompare(b))
      .slice(0, k);
    for (const i of chosen) load.set(i, load.get(i)! + 1);
    out.set(broker, chosen.sort());
  }
  return out;
}

/** Rendezvous weight of an (instance, broker) pair: 48 bits of SHA-256, stable across processes. */
function score(instance: string, broker: string): number {
  return createHash("sha256").update(`${instance}\0${broker}`).digest().readUIntBE(0, 6);
}
