import dns from "node:dns";
import net from "node:net";
import { Agent, fetch as undiciFetch } from "undici";

/**
 * Where brokerwatch may open connections (docs/contract.md §1, BROKERWATCH_EGRESS): every outbound
 * request — webhooks and their test, test connection, the collectors' MQTT, `metricsUrl` and
 * `amqpUrl` — goes through here. The policy is checked against the host name and against every
 * address the name resolves to, and the socket connects to the address that was checked (a
 * `lookup` that filters), so a name that resolves to an allowed address for the check and to a
 * denied one a moment later (DNS rebinding) gets nowhere.
 *
 * `BROKERWATCH_EGRESS` is a list of `allow:<target>` and `deny:<target>` separated by commas or
 * spaces; a target is an address, a CIDR block, a host name, or `*.suffix`. The first entry that
 * matches decides; then the built-in denials below; anything else is allowed — loopback and
 * private networks included, since monitored brokers often run there. `deny:0.0.0.0/0,deny:::/0`
 * at the end turns the list into an allow-list.
 */

export type EgressAction = "allow" | "deny";

interface AddressRule {
  action: EgressAction;
  kind: "address";
  family: "ipv4" | "ipv6";
  block: net.BlockList;
  text: string;
}
interface HostRule {
  action: EgressAction;
  kind: "host";
  /** exact lower-case name, or a suffix starting with "." for `*.suffix` */
  name: string;
  text: string;
}
type EgressRule = (AddressRule | HostRule) & { builtIn?: string };

export interface EgressPolicy {
  rules: EgressRule[];
}

/**
 * Denied unless an entry allows them first. Link-local is where every cloud's instance metadata
 * service answers (169.254.169.254: AWS, GCP, Azure, OpenStack, DigitalOcean; fd00:ec2::254: AWS
 * over IPv6) with the machine's credentials; 100.100.100.200 is Alibaba Cloud's, 168.63.129.16
 * Azure's wire server.
 */
const BUILT_IN_DENIALS: { target: string; why: string }[] = [
  { target: "169.254.0.0/16", why: "link-local, where cloud metadata services answer" },
  { target: "fe80::/10", why: "IPv6 link-local" },
  { target: "fd00:ec2::254/128", why: "the AWS metadata service over IPv6" },
  { target: "100.100.100.200/32", why: "the Alibaba Cloud metadata service" },
  { target: "168.63.129.16/32", why: "the Azure wire server" },
  { target: "metadata.google.internal", why: "the GCP metadata service" },
  { target: "metadata", why: "the GCP metadata service's short name" },
];

export class EgressConfigError extends Error {}

/** Parse BROKERWATCH_EGRESS; throws EgressConfigError naming the bad entry. */
export function parseEgress(spec: string | undefined): EgressPolicy {
  const rules: EgressRule[] = [];
  for (const entry of (spec ?? "").split(/[\s,]+/).filter(Boolean)) {
    const colon = entry.indexOf(":");
    const action = entry.slice(0, colon).toLowerCase();
    if (colon < 0 || (action !== "allow" && action !== "deny")) {
      throw new EgressConfigError(
        `BROKERWATCH_EGRESS entries are allow:<target> or deny:<target> (got "${entry.slice(0, 100)}")`,
      );
    }
    rules.push(parseTarget(action, entry.slice(colon + 1), entry));
  }
  for (const denial of BUILT_IN_DENIALS) rules.push({ ...parseTarget("deny", denial.target, denial.target), builtIn: denial.why });
  return { rules };
}

function parseTarget(action: EgressAction, target: string, text: string): EgressRule {
  const bare = target.replace(/^\[(.*)\]$/, "$1");
  const slash = bare.lastIndexOf("/");
  const address = slash >= 0 ? bare.slice(0, slash) : bare;
  const family = net.isIP(address);
  if (family !== 0) {
    const prefix = slash >= 0 ? Number(bare.slice(slash + 1)) : family === 4 ? 32 : 128;
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128)) {
      throw new EgressConfigError(`BROKERWATCH_EGRESS: bad prefix length in "${text}"`);
    }
    const block = new net.BlockList();
    block.addSubnet(address, prefix, family === 4 ? "ipv4" : "ipv6");
    return { action, kind: "address", family: family === 4 ? "ipv4" : "ipv6", block, text };
  }
  const name = target.toLowerCase().replace(/\.$/, "");
  if (!/^(\*\.)?[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(name)) {
    throw new EgressConfigError(
      `BROKERWATCH_EGRESS: "${text}" is neither an address, a CIDR block nor a host name (*.example.com for a domain)`,
    );
  }
  return { action, kind: "host", name: name.startsWith("*.") ? name.slice(1) : name, text };
}

let cached: { spec: string | undefined; policy: EgressPolicy } | null = null;

/** The policy of BROKERWATCH_EGRESS as the environment has it now (checked at start by server/env.ts). */
export function egressPolicy(): EgressPolicy {
  const spec = process.env.BROKERWATCH_EGRESS;
  if (cached === null || cached.spec !== spec) cached = { spec, policy: parseEgress(spec) };
  return cached.policy;
}

/** `::ffff:169.254.169.254` is 169.254.169.254: checked as IPv4, so a mapped address is no way round. */
function normalise(address: string): { address: string; family: "ipv4" | "ipv6" } {
  const bare = address.replace(/^\[(.*)\]$/, "$1");
  if (net.isIP(bare) === 4) return { address: bare, family: "ipv4" };
  const mapped = /^(?:::|0:0:0:0:0:)ffff:(.+)$/i.exec(bare);
  if (mapped) {
    const tail = mapped[1];
    if (net.isIP(tail) === 4) return { address: tail, family: "ipv4" };
    const hex = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(tail);
    if (hex) {
      const hi = parseInt(hex[1], 16);
      const lo = parseInt(hex[2], 16);
      return { address: `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`, family: "ipv4" };
    }
  }
  return { address: bare, family: "ipv6" };
}

function hostMatches(rule: HostRule, hostname: string): boolean {
  return rule.name.startsWith(".") ? hostname.endsWith(rule.name) : hostname === rule.name;
}

export interface EgressDecision {
  allowed: boolean;
  /** the entry that decided, or null for the default allow */
  rule: string | null;
  /** why a built-in denial exists */
  why: string | null;
}

/** The decision for connecting to `address` reached by the name `hostname` (the address itself for a literal). */
export function decideEgress(hostname: string, address: string, policy = egressPolicy()): EgressDecision {
  const host = hostname.toLowerCase().replace(/^\[(.*)\]$/, "$1").replace(/\.$/, "");
  const addr = normalise(address);
  for (const rule of policy.rules) {
    const matches =
      rule.kind === "host" ? hostMatches(rule, host) : rule.family === addr.family && rule.block.check(addr.address, addr.family);
    if (matches) return { allowed: rule.action === "allow", rule: rule.text, why: rule.builtIn ?? null };
  }
  return { allowed: true, rule: null, why: null };
}

export class EgressDeniedError extends Error {
  readonly code = "EGRESS_DENIED";
  constructor(hostname: string, address: string, decision: EgressDecision) {
    const target = hostname === address ? address : `${hostname} (${address})`;
    super(
      decision.why
        ? `outbound connection to ${target} refused: ${decision.why} is denied by default; allow it with BROKERWATCH_EGRESS=allow:${address}`
        : `outbound connection to ${target} refused by BROKERWATCH_EGRESS (${decision.rule})`,
    );
  }
}

/** Throws EgressDeniedError when `hostname` is an address (no DNS to go through) that the policy denies. */
export function checkLiteralHost(hostname: string): void {
  const bare = hostname.replace(/^\[(.*)\]$/, "$1");
  if (net.isIP(bare) === 0) {
    // a name denied by a host entry is refused before any lookup; names are checked again per address
    const byName = egressPolicy().rules.find((r) => r.kind === "host" && hostMatches(r, bare.toLowerCase().replace(/\.$/, "")));
    if (byName && byName.action === "deny") {
      throw new EgressDeniedError(bare, bare, { allowed: false, rule: byName.text, why: byName.builtIn ?? null });
    }
    return;
  }
  const decision = decideEgress(bare, bare);
  if (!decision.allowed) throw new EgressDeniedError(bare, bare, decision);
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void;

/**
 * A `lookup` for net.connect / tls.connect / http.request / undici: resolves as usual and hands the
 * socket only the addresses the policy allows, so what is connected to is what was checked.
 */
export function egressLookup(hostname: string, options: dns.LookupOptions, callback: LookupCallback): void {
  dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, "");
    const allowed = addresses.filter((a) => decideEgress(hostname, a.address).allowed);
    if (allowed.length === 0) {
      const first = addresses[0];
      return callback(
        new EgressDeniedError(hostname, first?.address ?? hostname, first ? decideEgress(hostname, first.address) : { allowed: false, rule: null, why: null }),
        "",
      );
    }
    if (options.all) return callback(null, allowed);
    callback(null, allowed[0].address, allowed[0].family);
  });
}

let agent: Agent | null = null;
function egressAgent(): Agent {
  return (agent ??= new Agent({ connect: { lookup: egressLookup as never } }));
}

/**
 * fetch() under the egress policy. Redirects are never followed here (redirect: "manual" whatever
 * the caller asked): a caller that follows them does it with fetchFollowingSameHost.
 */
export const egressFetch: typeof fetch = async (input, init) => {
  const url = new URL(input instanceof Request ? input.url : String(input));
  checkLiteralHost(url.hostname);
  const response = await undiciFetch(url, {
    ...(init as object),
    redirect: "manual",
    dispatcher: egressAgent(),
  } as never);
  return response as unknown as Response;
};

/**
 * GET that follows at most `maxRedirects` redirects, and only to the same scheme, host and port:
 * a `metricsUrl` answering 302 to another host (a metadata service, an internal admin page) is an
 * error naming where it pointed, not a request sent there.
 */
export async function fetchFollowingSameHost(
  url: string,
  init: RequestInit,
  opts: { maxRedirects?: number; fetch?: typeof fetch } = {},
): Promise<Response> {
  const doFetch = opts.fetch ?? egressFetch;
  let current = new URL(url);
  for (let hop = 0; ; hop++) {
    const response = await doFetch(current, { ...init, redirect: "manual" });
    if (response.status < 300 || response.status >= 400 || response.status === 304) return response;
    const location = response.headers.get("location");
    await response.body?.cancel().catch(() => {});
    if (!location) throw new Error(`${current.origin} answered ${response.status} without a Location`);
    const next = new URL(location, current);
    if (next.origin !== current.origin) {
      throw new Error(
        `redirected to another host (${next.origin}); redirects are followed only within ${current.origin}: configure the final URL`,
      );
    }
    if (hop >= (opts.maxRedirects ?? 3)) throw new Error(`more than ${opts.maxRedirects ?? 3} redirects`);
    current = next;
  }
}

export class BodyTooLargeError extends Error {}

/**
 * Read a response body, counting while it streams, and stop (cancelling the rest, which closes
 * the connection) as soon as it passes `maxBytes`: an endless body costs at most that much memory.
 */
export async function readBodyCapped(response: Response, maxBytes: number): Promise<Uint8Array> {
  const body = response.body;
  if (!body) return new Uint8Array(0);
  const declared = Number(response.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await body.cancel().catch(() => {});
    throw new BodyTooLargeError(`the body is ${declared} bytes, more than the ${maxBytes} read at most`);
  }
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) throw new BodyTooLargeError(`the body is larger than the ${maxBytes} bytes read at most`);
      chunks.push(value);
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return new Uint8Array(Buffer.concat(chunks));
}
