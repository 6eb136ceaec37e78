import { BlockList, isIP } from "node:net";

/**
 * Failed-login back-off per (client address, username). After `freeFailures` misses each further
 * miss doubles the wait (1 s, 2 s, 4 s … up to `maxDelayMs`); while waiting, attempts are refused
 * with 429 and Retry-After whether or not the password is right (no oracle for a guesser). Keyed by
 * address *and* user, so a guesser elsewhere — or a colleague behind the same proxy who mistypes —
 * delays only that pair, never the admin's own sign-in from another address.
 *
 * The map is bounded. Eviction takes the least recently failed entry that is not blocked now, so a
 * guesser cannot reset its own counter by flooding other keys; blocked entries stay until their
 * block ends (each costs the guesser `freeFailures` slow password checks to create).
 */
export interface LoginLimiterOptions {
  freeFailures?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** a key with no failure for this long starts from zero again */
  forgetAfterMs?: number;
  maxEntries?: number;
}

interface Entry {
  failures: number;
  lastFailureAt: number;
  blockedUntil: number;
}

export class LoginLimiter {
  /** insertion order = least recently failed first (a failure re-inserts its key) */
  private readonly entries = new Map<string, Entry>();
  private readonly freeFailures: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly forgetAfterMs: number;
  private readonly maxEntries: number;

  constructor(opts: LoginLimiterOptions = {}) {
    this.freeFailures = opts.freeFailures ?? 5;
    this.baseDelayMs = opts.baseDelayMs ?? 1000;
    this.maxDelayMs = opts.maxDelayMs ?? 15 * 60_000;
    this.forgetAfterMs = opts.forgetAfterMs ?? 24 * 3600_000;
    this.maxEntries = opts.maxEntries ?? 10_000;
  }

  get size(): number {
    return this.entries.size;
  }

  /** ms until another attempt for `key` is allowed, or 0 */
  retryAfterMs(key: string, now = Date.now()): number {
    const entry = this.entries.get(key);
    if (!entry) return 0;
    if (entry.blockedUntil <= now && now - entry.lastFailureAt > this.forgetAfterMs) {
      this.entries.delete(key);
      return 0;
    }
    return Math.max(0, entry.blockedUntil - now);
  }

  fail(key: string, now = Date.now()): void {
    const previous = this.entries.get(key);
    const failures =
      previous && now - previous.lastFailureAt <= this.forgetAfterMs ? previous.failures + 1 : 1;
    const over = failures - this.freeFailures;
    const delay = over > 0 ? Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(over - 1, 30)) : 0;
    this.entries.delete(key);
    this.entries.set(key, { failures, lastFailureAt: now, blockedUntil: delay ? now + delay : 0 });
    this.evict(now);
  }

  succeed(key: string): void {
    this.entries.delete(key);
  }

  private evict(now: number): void {
    if (this.entries.size <= this.maxEntries) return;
    for (const [key, entry] of this.entries) {
      if (this.entries.size <= this.maxEntries) return;
      if (entry.blockedUntil <= now) this.entries.delete(key);
    }
    // Everything left is blocked right now: keep them (their blocks end within maxDelayMs).
  }
}

/**
 * BROKERWATCH_TRUSTED_PROXIES: comma-separated addresses or CIDRs of reverse proxies whose
 * X-Forwarded-For is believed. Unset: none, and the client is the socket's peer.
 */
export function parseTrustedProxies(value: string | undefined): BlockList {
  const list = new BlockList();
  for (const raw of (value ?? "").split(",")) {
    const entry = raw.trim();
    if (!entry) continue;
    const [address, bits, extra] = entry.split("/");
    const family = isIP(address);
    const prefix = bits === undefined ? undefined : Number(bits);
    if (
      !family ||
      extra !== undefined ||
      (prefix !== undefined && (!/^\d+$/.test(bits) || prefix > (family === 4 ? 32 : 128)))
    ) {
      throw new Error(
        `BROKERWATCH_TRUSTED_PROXIES: "${entry}" is not an IP address or CIDR (e.g. 10.0.0.1, 10.0.0.0/8, fd00::/8)`,
      );
    }
    const type = family === 4 ? "ipv4" : "ipv6";
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, prefix, type);
  }
  return list;
}

/** `::ffff:10.0.0.1` (an IPv4 peer on a dual-stack socket) is 10.0.0.1. */
function normalise(address: string): string {
  const trimmed = address.trim().replace(/^\[|\]$/g, "");
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(trimmed);
  return mapped ? mapped[1] : trimmed;
}

function isTrusted(trusted: BlockList, address: string): boolean {
  const family = isIP(address);
  return family !== 0 && trusted.check(address, family === 4 ? "ipv4" : "ipv6");
}

/**
 * The client's address: the socket peer, unless the peer is a trusted proxy — then the nearest
 * X-Forwarded-For hop that is not itself a trusted proxy (read right to left: the left part of the
 * header is whatever the client chose to send).
 */
export function clientAddress(peer: string, forwardedFor: string | null, trusted: BlockList): string {
  let address = normalise(peer);
  if (!isTrusted(trusted, address) || !forwardedFor) return address;
  const hops = forwardedFor.split(",").map(normalise).filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    if (!isIP(hops[i])) return address; // a malformed hop: stop at the last address we can vouch for
    address = hops[i];
    if (!isTrusted(trusted, address)) return address;
  }
  return address;
}
