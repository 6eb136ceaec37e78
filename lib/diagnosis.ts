/**
 * What a client's connection history says is wrong with it, and what to do about it.
 *
 * Pure: events in, sessions and findings out, no I/O, so every finding is tested from an event
 * sequence written like the incident it describes. The trace page (`/clients/[clientId]`) shows
 * the sessions as its timeline and the findings as its diagnosis panel; each finding lists the
 * events it rests on, which the page links to.
 *
 * Facts about what the brokers log come from docs/brokers.md (Mosquitto §1–2,
 * EMQX §4); the reason vocabulary is docs/contract.md §4.
 */

import { formatDuration } from "@/lib/duration";

import type { DisconnectReason, EventType } from "@/lib/events";
import { NATS_CLIENT_CLOSED_MARK } from "@/lib/collector/nats";

/**
 * A tcp_closed the broker could not tell from a clean disconnect: NATS says "Client Closed" for
 * both (docs/brokers.md, NATS), and the event says so in its raw record.
 */
function closeIsAmbiguous(e: DiagnosisEvent | null): boolean {
  return e?.raw?.includes(NATS_CLIENT_CLOSED_MARK) ?? false;
}

/** The fields of a connection event the diagnosis reads (a `ConnectionEventRow` fits as it is). */
export interface DiagnosisEvent {
  id: number;
  ts: Date | string;
  broker: string;
  type: EventType;
  reason: DisconnectReason | null;
  address: string | null;
  port: number | null;
  username?: string | null;
  protocolVersion?: number | null;
  cleanStart?: boolean | null;
  keepalive: number | null;
  /** on disconnected: seconds since that session's connected, as the collector measured it */
  sessionSeconds: number | null;
  /** the stored line or payload: says where the broker could not tell two causes apart (NATS) */
  raw?: string;
}

export type Severity = "critical" | "warning" | "info";

export interface Evidence {
  eventId: number;
  /** ISO 8601 */
  ts: string;
  summary: string;
}

export interface Finding {
  /** stable per kind of finding, e.g. `shared-client-id` */
  id: string;
  severity: Severity;
  title: string;
  detail: string;
  fix: string;
  /** the events the finding rests on, oldest first */
  evidence: Evidence[];
}

/** One connected → disconnected pair, as far as the events in the window tell it. */
export interface Session<E extends DiagnosisEvent = DiagnosisEvent> {
  broker: string;
  /** the `connected` event; null when the session began before the window or its connect was not recorded */
  start: E | null;
  /** the `disconnected` event; null while open, or when its end was not recorded */
  end: E | null;
  /** from the connect, else the disconnect's ts minus its sessionSeconds */
  startedAt: Date | null;
  endedAt: Date | null;
  seconds: number | null;
  /** still connected: the newest session on its broker, with no disconnect after it */
  open: boolean;
  reason: string | null;
  address: string | null;
  port: number | null;
  username: string | null;
  protocolVersion: number | null;
  keepalive: number | null;
}

export type TimelineEntry<E extends DiagnosisEvent = DiagnosisEvent> =
  | { kind: "session"; at: Date; session: Session<E> }
  /** connect_failed and messages_dropped, in place between the sessions */
  | { kind: "event"; at: Date; event: E };

// ---------------------------------------------------------------------------------------------
// Thresholds, each with why it is where it is; test/diagnosis.test.ts checks them from both sides.
// ---------------------------------------------------------------------------------------------

/**
 * Address changes in takeovers before "two devices share this ClientID". One takeover from a new
 * address is what a single device roaming from Wi-Fi to cellular looks like (its old connection
 * is half-open, the new one takes it over); two, with the first address coming back, is two live
 * devices throwing each other off.
 */
export const SHARED_ID_MIN_SWITCHES = 2;

/**
 * Takeovers from the address that was already connected before it is worth an (info) finding:
 * once or twice is a client reconnecting before the broker noticed its dead connection.
 */
export const SAME_ADDRESS_TAKEOVER_MIN = 3;

/**
 * Keepalive timeouts that make a run. One is a device that lost power or coverage once; three in
 * a day is a link (or a keepalive) that keeps failing.
 */
export const KEEPALIVE_RUN_MIN = 3;
/** ...within this span. */
export const KEEPALIVE_RUN_SPAN_SECONDS = 24 * 3600;
/**
 * Below this, a keepalive is tight for a wireless or cellular link: a lost packet, its TCP
 * retransmissions and a radio waking from power saving take seconds (the broker allows 1.5 × k,
 * MQTT 3.1.1 section 3.1.2.10).
 */
export const SHORT_KEEPALIVE_SECONDS = 30;

/** One refused login is worth knowing: a device with wrong credentials retries forever. */
export const NOT_AUTHORIZED_MIN = 1;

/**
 * tcp_closed sessions that must end near the same length before it is called a timer. An idle
 * timeout closes a connection that carries only its connect a fixed time after it; four alike is
 * not chance, three could be.
 */
export const REGULAR_CLOSE_MIN_SESSIONS = 4;
/** Sessions shorter than this are a reconnect loop's business, not an idle timer's. */
export const REGULAR_CLOSE_MIN_SECONDS = 10;
/**
 * How close to each other the lengths must be: Mosquitto logs whole seconds, so ±1 s is noise on
 * each end; an idle timer runs from the last packet, which a CONNECT's own exchange can shift.
 */
export const REGULAR_CLOSE_JITTER_SECONDS = 3;
/** ...or this share of the length, for long timers (a 2 h limit is not kept to the second by the log). */
export const REGULAR_CLOSE_JITTER_FRACTION = 0.05;
/** The regular sessions must be at least this share of the client's tcp_closed sessions. */
export const REGULAR_CLOSE_MIN_SHARE = 0.5;

/** "Shorter than a few seconds": a session that ends before it can have done useful work. */
export const SHORT_SESSION_SECONDS = 5;
/** Short sessions that make a loop, within the span below. */
export const RECONNECT_LOOP_MIN = 5;
export const RECONNECT_LOOP_SPAN_SECONDS = 3600;

/** Mosquitto logs one line per dropping episode (docs/brokers.md §2.3), so one is already an episode. */
export const MESSAGES_DROPPED_MIN = 1;

/** Evidence kept per finding: the newest ones; the detail gives the full count. */
export const MAX_EVIDENCE = 12;

/** Sessions kept open per broker at once; older ones still open are taken as ended unrecorded. */
const MAX_OPEN_PER_BROKER = 8;

const TAKEOVER_REASONS = new Set(["takenover", "discarded"]);

// ---------------------------------------------------------------------------------------------
// Sessions
// ---------------------------------------------------------------------------------------------

function timeOf(e: DiagnosisEvent): number {
  return typeof e.ts === "string" ? Date.parse(e.ts) : e.ts.getTime();
}

/**
 * The event's time as a Date: its own `ts` when it is one, shared rather than copied (nothing here
 * or on the page changes a Date). A 2,000-event page made ~10,000 copies, and Next's server wraps
 * the Date constructor, which makes each one dearer.
 */
function dateOf(e: DiagnosisEvent): Date {
  return typeof e.ts === "string" ? new Date(e.ts) : e.ts;
}

function iso(e: DiagnosisEvent): string {
  return new Date(timeOf(e)).toISOString();
}

/** Oldest first; the id breaks ties, as Mosquitto logs whole seconds and writes a takeover's two lines in one. */
export function chronological<E extends DiagnosisEvent>(events: readonly E[]): E[] {
  return [...events].sort((a, b) => timeOf(a) - timeOf(b) || a.id - b.id);
}

function openSession<E extends DiagnosisEvent>(start: E): Session<E> {
  return {
    broker: start.broker,
    start,
    end: null,
    startedAt: dateOf(start),
    endedAt: null,
    seconds: null,
    open: false,
    reason: null,
    address: start.address,
    port: start.port,
    username: start.username ?? null,
    protocolVersion: start.protocolVersion ?? null,
    keepalive: start.keepalive,
  };
}

function closeSession<E extends DiagnosisEvent>(session: Session<E>, end: E): void {
  session.end = end;
  session.endedAt = dateOf(end);
  session.reason = end.reason;
  session.seconds =
    session.startedAt !== null
      ? Math.max(0, (session.endedAt.getTime() - session.startedAt.getTime()) / 1000)
      : end.sessionSeconds;
  session.address ??= end.address;
  session.port ??= end.port;
  session.username ??= end.username ?? null;
  session.protocolVersion ??= end.protocolVersion ?? null;
  session.keepalive ??= end.keepalive;
}

/** A disconnect whose connect is not in the window: its start comes from its sessionSeconds. */
function orphanSession<E extends DiagnosisEvent>(end: E): Session<E> {
  const endedAt = timeOf(end);
  const session: Session<E> = {
    broker: end.broker,
    start: null,
    end: null,
    startedAt: end.sessionSeconds !== null ? new Date(endedAt - end.sessionSeconds * 1000) : null,
    endedAt: null,
    seconds: null,
    open: false,
    reason: null,
    address: null,
    port: null,
    username: null,
    protocolVersion: null,
    keepalive: null,
  };
  closeSession(session, end);
  return session;
}

/**
 * Which open session a disconnect ends. A disconnect carries its session's address and port (the
 * collector copies them from the connect, docs/contract.md §4), which tells apart the two sessions of a
 * takeover whatever order their lines arrived in. Without them, a takeover ends the older session
 * and anything else the newest.
 */
function matchOpen<E extends DiagnosisEvent>(open: Session<E>[], end: E): number {
  const oldest = TAKEOVER_REASONS.has(end.reason ?? "");
  for (let k = 0; k < open.length; k++) {
    const i = oldest ? k : open.length - 1 - k;
    const a = open[i].start;
    if (!a || a.address === null || end.address === null) return i;
    if (a.address === end.address && (a.port === null || end.port === null || a.port === end.port)) return i;
  }
  return -1;
}

/**
 * Pairs connected and disconnected events into sessions, per broker, oldest first. The newest
 * session of a broker with no disconnect is open ("connected now"); an older one left without a
 * disconnect (its line was lost) ends unrecorded.
 */
export function pairSessions<E extends DiagnosisEvent>(events: readonly E[]): Session<E>[] {
  const sessions: Session<E>[] = [];
  const openByBroker = new Map<string, Session<E>[]>();
  for (const e of chronological(events)) {
    const open = openByBroker.get(e.broker) ?? [];
    openByBroker.set(e.broker, open);
    if (e.type === "connected") {
      const session = openSession(e);
      sessions.push(session);
      open.push(session);
      if (open.length > MAX_OPEN_PER_BROKER) open.shift();
    } else if (e.type === "disconnected") {
      const i = matchOpen(open, e);
      if (i >= 0) closeSession(open.splice(i, 1)[0], e);
      else sessions.push(orphanSession(e));
    }
  }
  for (const open of openByBroker.values()) {
    const newest = open.at(-1);
    if (newest) newest.open = true;
  }
  return sessions.sort(
    (a, b) => startKey(a) - startKey(b) || (a.start?.id ?? a.end?.id ?? 0) - (b.start?.id ?? b.end?.id ?? 0),
  );
}

function startKey(s: Session): number {
  return startDate(s).getTime();
}

function startDate(s: Session): Date {
  return s.startedAt ?? s.endedAt ?? new Date(0);
}

/**
 * Sessions and the events that are not part of one, newest first: the trace page's timeline.
 * `sessions` are `pairSessions(events)`, for a caller that has them already (the diagnosis reads them too).
 */
export function buildTimeline<E extends DiagnosisEvent>(
  events: readonly E[],
  sessions: readonly Session<E>[] = pairSessions(events),
): TimelineEntry<E>[] {
  const entries: TimelineEntry<E>[] = sessions.map((session) => ({
    kind: "session" as const,
    at: startDate(session),
    session,
  }));
  for (const e of events) {
    if (e.type === "connect_failed" || e.type === "messages_dropped") {
      entries.push({ kind: "event", at: dateOf(e), event: e });
    }
  }
  const idOf = (t: TimelineEntry<E>) => (t.kind === "event" ? t.event.id : (t.session.start ?? t.session.end)!.id);
  return entries.sort((a, b) => b.at.getTime() - a.at.getTime() || idOf(b) - idOf(a));
}

// ---------------------------------------------------------------------------------------------
// Findings
// ---------------------------------------------------------------------------------------------

function endpoint(address: string | null, port: number | null): string {
  if (address === null) return "an unknown address";
  return port === null ? address : `${address}:${port}`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function times(n: number): string {
  return n === 1 ? "once" : `${n} times`;
}

function list(values: string[]): string {
  if (values.length <= 1) return values.join("");
  return `${values.slice(0, -1).join(", ")} and ${values.at(-1)}`;
}

function distinct<T>(values: (T | null | undefined)[]): T[] {
  return [...new Set(values.filter((v): v is T => v !== null && v !== undefined))];
}

function keepalives(values: (number | null)[]): string {
  const ks = distinct(values).sort((a, b) => a - b);
  if (ks.length === 0) return "k unknown";
  return `k = ${ks.map((k) => `${k} s`).join(", ")}`;
}

function ago(ms: number, now: Date): string {
  const seconds = Math.max(0, (now.getTime() - ms) / 1000);
  return seconds < 60 ? "under a minute ago" : `${formatDuration(seconds)} ago`;
}

function evidenceOf(items: { event: DiagnosisEvent; summary: string }[]): Evidence[] {
  return items
    .sort((a, b) => timeOf(a.event) - timeOf(b.event) || a.event.id - b.event.id)
    .slice(-MAX_EVIDENCE)
    .map(({ event, summary }) => ({ eventId: event.id, ts: iso(event), summary }));
}

/**
 * The first index of `sorted` whose value passes `test`, or its length; `test` must fail up to some
 * index and pass from there on. `o - x > t` is such a test for a finite x (a rounded subtraction
 * keeps the order), so two searches count `Math.abs(o - x) <= t` exactly as filtering would.
 */
function firstIndex(sorted: number[], test: (value: number) => boolean): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (test(sorted[mid])) high = mid;
    else low = mid + 1;
  }
  return low;
}

/** The largest group of times (ms) that fits in `spanMs`; the latest such group on a tie. */
function densestSpan<T>(items: T[], timeMs: (item: T) => number, spanMs: number): T[] {
  const sorted = [...items].sort((a, b) => timeMs(a) - timeMs(b));
  let bestFrom = 0;
  let bestLength = 0;
  let from = 0;
  for (let to = 0; to < sorted.length; to++) {
    while (timeMs(sorted[to]) - timeMs(sorted[from]) > spanMs) from++;
    if (to - from + 1 >= bestLength) [bestFrom, bestLength] = [from, to - from + 1];
  }
  return sorted.slice(bestFrom, bestFrom + bestLength);
}

interface Context {
  events: DiagnosisEvent[];
  sessions: readonly Session[];
  now: Date;
}

/** Two devices with one ClientID: takeovers that move the session between addresses and back. */
function sharedClientId({ sessions, now }: Context): Finding[] {
  const switches: { ended: Session; by: Session }[] = [];
  const sameAddress: { ended: Session; by: Session }[] = [];
  // the session that took over is the next one to start on the same broker: newest first, the
  // latest started session seen per broker is the next one
  const nextOnBroker = new Map<string, Session>();
  for (let i = sessions.length - 1; i >= 0; i--) {
    const ended = sessions[i];
    if (ended.start === null) continue;
    const by = nextOnBroker.get(ended.broker);
    nextOnBroker.set(ended.broker, ended);
    if (!ended.end || !TAKEOVER_REASONS.has(ended.reason ?? "")) continue;
    if (!by || ended.address === null || by.address === null) continue;
    (by.address === ended.address ? sameAddress : switches).push({ ended, by });
  }
  switches.reverse();
  sameAddress.reverse();
  // an address that lost the session earlier takes it back
  const lostEarlier = new Set<string | null>();
  let returned = false;
  for (const { ended, by } of switches) {
    if (lostEarlier.has(by.address)) returned = true;
    lostEarlier.add(ended.address);
  }
  const findings: Finding[] = [];
  const evidence = (pairs: { ended: Session; by: Session }[]) =>
    evidenceOf(
      pairs.flatMap(({ ended, by }) => [
        {
          event: ended.end!,
          summary: `${ended.reason} — the session from ${endpoint(ended.address, ended.port)} was ended by a new connection`,
        },
        { event: by.start!, summary: `connected from ${endpoint(by.address, by.port)} and took the session over` },
      ]),
    );
  if (switches.length >= SHARED_ID_MIN_SWITCHES && returned) {
    const addresses = distinct(switches.flatMap((s) => [s.ended.address, s.by.address]));
    const last = switches.at(-1)!.by.start!;
    findings.push({
      id: "shared-client-id",
      severity: "critical",
      title: "Two devices share this ClientID",
      detail:
        `The session moved between ${list(addresses)} ${times(switches.length)} by takeover ` +
        `(${list(distinct(switches.map((s) => s.ended.reason)))}), the latest ${ago(timeOf(last), now)}. ` +
        "A broker keeps one session per ClientID, so each connection throws the other one off and both keep reconnecting.",
      fix:
        "Give every device its own ClientID, e.g. built from its serial number or MAC address (pump-<serial>). " +
        "Look for a cloned device image or a configuration file copied from one device to another; " +
        "if two copies of an application run on purpose, let each add a unique suffix.",
      evidence: evidence(switches),
    });
  }
  if (sameAddress.length >= SAME_ADDRESS_TAKEOVER_MIN) {
    const addresses = distinct(sameAddress.map((s) => s.by.address));
    findings.push({
      id: "same-address-takeovers",
      severity: "info",
      title: "Sessions taken over from the same address",
      detail:
        `${plural(sameAddress.length, "session was", "sessions were")} ended by a new connection from the address ` +
        `already connected (${list(addresses)}). Either the client reconnects without noticing its previous ` +
        "connection is still open (a half-open connection after a network drop), or two processes on that host use this ClientID.",
      fix:
        "If two processes share the ClientID, give each its own. Otherwise the old connection dies silently: " +
        "have the client send DISCONNECT before it reconnects, and a shorter keepalive lets the broker notice a dead connection sooner.",
      evidence: evidence(sameAddress),
    });
  }
  return findings;
}

/** A run of keepalive timeouts: the broker heard nothing from the client for 1.5 × k, again and again. */
function keepaliveRun({ events, sessions, now }: Context): Finding[] {
  const timeouts = events.filter((e) => e.type === "disconnected" && e.reason === "keepalive_timeout");
  const run = densestSpan(timeouts, timeOf, KEEPALIVE_RUN_SPAN_SECONDS * 1000);
  if (run.length < KEEPALIVE_RUN_MIN) return [];
  const k = distinct(timeouts.map((e) => e.keepalive)).sort((a, b) => a - b);
  const lengths = sessions
    .filter((s) => s.reason === "keepalive_timeout" && s.seconds !== null)
    .map((s) => s.seconds!) as number[];
  const tightK = k.length > 0 && k[0] < SHORT_KEEPALIVE_SECONDS;
  const last = timeouts.at(-1)!;
  return [
    {
      id: "keepalive-timeouts",
      severity: "warning",
      title: `Keepalive timeouts: ${run.length} within ${formatDuration(
        Math.max(1, (timeOf(run.at(-1)!) - timeOf(run[0])) / 1000),
      )} (${keepalives(k)})`,
      detail:
        `The broker closed the connection ${times(timeouts.length)} because it heard nothing from the client for ` +
        `1.5 × the keepalive${k.length ? ` (${k.map((v) => formatDuration(1.5 * v)).join(", ")})` : ""}` +
        `${lengths.length ? `, after sessions of typically ${formatDuration(median(lengths))}` : ""}; ` +
        `the latest ${ago(timeOf(last), now)}. The network between them is unstable, or the keepalive is too short for it.` +
        (tightK ? ` A keepalive of ${k[0]} s leaves no room for a lost packet on a wireless link.` : ""),
      fix:
        (tightK ? `Raise the keepalive from ${k[0]} s to 60 s or more. ` : "Consider a longer keepalive. ") +
        "Check the device's signal and power saving, and any NAT or firewall between it and the broker that drops idle connections " +
        "silently; make sure the client's network loop is not blocked (a busy thread sends no PINGREQ).",
      evidence: evidenceOf(
        timeouts.map((e) => ({
          event: e,
          summary:
            `keepalive_timeout` +
            (e.sessionSeconds !== null ? ` after ${formatDuration(e.sessionSeconds)}` : "") +
            (e.keepalive !== null ? ` (k = ${e.keepalive} s)` : "") +
            ` from ${endpoint(e.address, e.port)}`,
        })),
      ),
    },
  ];
}

/** Refused logins or ACL denials. */
function notAuthorized({ events, now }: Context): Finding[] {
  const refused = events.filter((e) => e.reason === "not_authorized");
  if (refused.length < NOT_AUTHORIZED_MIN) return [];
  const usernames = distinct(refused.map((e) => e.username));
  const addresses = distinct(refused.map((e) => e.address));
  const afterSession = refused.some((e) => e.type === "disconnected");
  return [
    {
      id: "not-authorized",
      severity: "critical",
      title: `Not authorised: ${plural(refused.length, "refusal")}`,
      detail:
        `The broker refused this client ${times(refused.length)}` +
        (usernames.length ? ` (username ${list(usernames.map((u) => `"${u}"`))})` : " (no username sent)") +
        (addresses.length ? ` from ${list(addresses)}` : "") +
        `, the latest ${ago(timeOf(refused.at(-1)!), now)}. Its credentials are wrong or expired, or the ACL denies it.`,
      fix:
        "Check the username and password the device sends against the broker's password file or authentication backend " +
        "(and the client certificate's expiry when it authenticates by certificate)." +
        (afterSession
          ? " It was refused after connecting, so also check the ACL for the topics it publishes and subscribes to."
          : "") +
        " A device refused at login usually retries forever: fix its credentials or switch it off.",
      evidence: evidenceOf(
        refused.map((e) => ({
          event: e,
          summary:
            `${e.type === "connect_failed" ? "connect refused" : "disconnected"}: not_authorized` +
            (e.username ? ` as "${e.username}"` : "") +
            ` from ${endpoint(e.address, e.port)}`,
        })),
      ),
    },
  ];
}

/** tcp_closed at a regular length: a load balancer or NAT idle timer shorter than the keepalive. */
function regularCloses({ sessions }: Context): Finding[] {
  const closed = sessions.filter(
    (s) => s.reason === "tcp_closed" && s.seconds !== null && s.seconds >= REGULAR_CLOSE_MIN_SECONDS,
  );
  if (closed.length < REGULAR_CLOSE_MIN_SESSIONS) return [];
  const tolerance = (length: number) => Math.max(REGULAR_CLOSE_JITTER_SECONDS, length * REGULAR_CLOSE_JITTER_FRACTION);
  // the length most sessions end near: the first session (in time) with the most others within
  // its tolerance, counted by binary search over the sorted lengths
  const sorted = closed.map((s) => s.seconds!).sort((a, b) => a - b);
  const nearCount = (length: number) =>
    Number.isFinite(length)
      ? firstIndex(sorted, (o) => o - length > tolerance(length)) -
        firstIndex(sorted, (o) => o - length >= -tolerance(length))
      : sorted.filter((o) => Math.abs(o - length) <= tolerance(length)).length;
  let center = closed[0];
  let most = 0;
  for (const s of closed) {
    const near = nearCount(s.seconds!);
    if (near > most) [center, most] = [s, near];
  }
  const cluster = closed.filter((o) => Math.abs(o.seconds! - center.seconds!) <= tolerance(center.seconds!));
  if (cluster.length < REGULAR_CLOSE_MIN_SESSIONS || cluster.length / closed.length < REGULAR_CLOSE_MIN_SHARE)
    return [];
  const lengths = cluster.map((s) => s.seconds!);
  const interval = median(lengths);
  const spread = Math.max(...lengths.map((l) => Math.abs(l - interval)));
  const k = distinct(cluster.map((s) => s.keepalive)).sort((a, b) => a - b);
  // pings every k seconds keep an idle timer from firing when k is shorter than it; 0 turns keepalive off
  const keepaliveLonger = k.length > 0 && k.every((v) => v === 0 || v >= interval - tolerance(interval));
  const keepaliveShorter = k.length > 0 && k.every((v) => v !== 0 && v < interval - tolerance(interval));
  const kText = k.length ? keepalives(k) : "keepalive unknown";
  const suggested = Math.max(1, Math.floor(interval / 2));
  if (cluster.some((s) => closeIsAmbiguous(s.end))) {
    // The broker cannot tell a clean DISCONNECT from a dropped socket: a client that disconnects
    // on a schedule looks the same as an idle timer, so no timer is claimed.
    return [
      {
        id: "regular-tcp-closed",
        severity: "info",
        title: `Connections end every ~${formatDuration(interval)} (${kText})`,
        detail:
          `${cluster.length} of ${closed.length} sessions lasted ${formatDuration(interval)} ± ${formatDuration(spread)}. ` +
          "This broker (NATS) reports a clean MQTT DISCONNECT and a socket closed without one alike, so this is either " +
          "the client disconnecting on a schedule, or something between the client and the broker (a load balancer or NAT idle timer) closing the connection.",
        fix:
          "Check whether the client disconnects on purpose at that interval; if it does not, look for an idle timeout " +
          `between it and the broker shorter than 1.5 × its keepalive, and set the keepalive to at most ${suggested} s.`,
        evidence: evidenceOf(
          cluster.map((s) => ({ event: s.end!, summary: `closed after ${formatDuration(s.seconds!)} (clean or dropped: not reported)` })),
        ),
      },
    ];
  }
  return [
    {
      id: "regular-tcp-closed",
      severity: "warning",
      title: `Connections closed every ~${formatDuration(interval)} (${kText})`,
      detail:
        `${cluster.length} of ${closed.length} tcp_closed sessions lasted ${formatDuration(interval)} ± ${formatDuration(spread)}: ` +
        "something between the client and the broker closes connections on a timer. " +
        (keepaliveShorter
          ? `The keepalive (${kText}) is shorter than that, so pings should have kept an idle timer quiet: ` +
            "look for a limit on connection lifetime instead (a proxy's maximum connection age, an expiring token, a client restarting on a schedule)."
          : `A load balancer or NAT drops connections idle for ${formatDuration(interval)}` +
            (keepaliveLonger ? `, and the keepalive (${kText}) is longer, so the pings come too late.` : ".")),
      fix: keepaliveShorter
        ? "Find the component with a connection lifetime limit (load balancer, proxy, VPN, token issuer) and raise it, or have the client reconnect cleanly before it."
        : `Set the client keepalive below the idle timeout — at most ${suggested} s leaves room for a lost ping — ` +
          `or raise the load balancer's or NAT's idle timeout above 1.5 × the keepalive` +
          (k.length && k[k.length - 1] > 0 ? ` (${formatDuration(1.5 * k[k.length - 1])})` : "") +
          ". For reference, an AWS Network Load Balancer times out idle TCP flows after 350 s and an Azure Load Balancer after 4 min by default.",
      evidence: evidenceOf(
        cluster.map((s) => ({
          event: s.end!,
          summary: `tcp_closed after ${formatDuration(s.seconds!)}${s.keepalive !== null ? ` (k = ${s.keepalive} s)` : ""}`,
        })),
      ),
    },
  ];
}

/** What a loop's sessions ending this way points to. */
const LOOP_REASON_HINTS: Readonly<Record<string, string>> = {
  normal:
    "the client itself disconnects right after connecting; if it connects only to publish, keeping one connection open is cheaper",
  tcp_closed: "the client (or something in between) closes the socket right after connecting",
  keepalive_timeout: "the client goes silent right after connecting",
  takenover: "another connection with this ClientID takes the session over",
  discarded: "another connection with this ClientID takes the session over",
  not_authorized: "the broker refuses it",
  protocol_error: "the client sends something the broker rejects",
  kicked: "an administrator or plugin kicks it",
};

/** Sessions shorter than a few seconds, over and over. */
function reconnectLoop({ sessions, now }: Context): Finding[] {
  const short = sessions.filter((s) => s.end !== null && s.seconds !== null && s.seconds < SHORT_SESSION_SECONDS);
  const loop = densestSpan(short, (s) => s.endedAt!.getTime(), RECONNECT_LOOP_SPAN_SECONDS * 1000);
  if (loop.length < RECONNECT_LOOP_MIN) return [];
  const reasons = new Map<string, number>();
  for (const s of short) reasons.set(s.reason ?? "unknown", (reasons.get(s.reason ?? "unknown") ?? 0) + 1);
  const byCount = [...reasons.entries()].sort((a, b) => b[1] - a[1]);
  const [topReason] = byCount[0];
  const typical = median(short.map((s) => s.seconds!));
  const span = (loop.at(-1)!.endedAt!.getTime() - loop[0].endedAt!.getTime()) / 1000;
  const hint = LOOP_REASON_HINTS[topReason];
  return [
    {
      id: "reconnect-loop",
      severity: topReason === "normal" ? "info" : "warning",
      title: `Reconnect loop: ${short.length} sessions under ${SHORT_SESSION_SECONDS} s`,
      detail:
        `${loop.length} sessions within ${formatDuration(Math.max(1, span))} ` +
        `(${short.length} in all, the latest ${ago(short.at(-1)!.endedAt!.getTime(), now)}) lasted typically ${formatDuration(typical)}; ` +
        `they ended with ${list(byCount.map(([r, n]) => `${r} ×${n}`))}.` +
        (hint ? ` Mostly ${topReason}: ${hint}.` : ""),
      fix:
        `Start from the reason the sessions end (${topReason}) — it is the fault; the loop only repeats it. ` +
        "Then make the client back off before reconnecting: a delay that doubles from about a second up to a few minutes, with random jitter, " +
        "so a fault cannot turn into a reconnect storm that loads the broker.",
      evidence: evidenceOf(
        short.map((s) => ({
          event: s.end!,
          summary: `${s.reason ?? "disconnected"} after ${formatDuration(s.seconds!)} from ${endpoint(s.address, s.port)}`,
        })),
      ),
    },
  ];
}

/** The broker dropped messages queued for this client. */
function messagesDropped({ events, now }: Context): Finding[] {
  const dropped = events.filter((e) => e.type === "messages_dropped");
  if (dropped.length < MESSAGES_DROPPED_MIN) return [];
  return [
    {
      id: "messages-dropped",
      severity: "warning",
      title: `Messages dropped: ${plural(dropped.length, "episode")}`,
      detail:
        `The broker dropped messages for this client ${times(dropped.length)}, the latest ${ago(timeOf(dropped.at(-1)!), now)}: ` +
        "its queue was full because the client takes messages more slowly than they arrive, or stopped acknowledging QoS 1/2 messages.",
      fix:
        "Speed up the consumer (never block the message callback). For short bursts, raise the queue limit " +
        "(Mosquitto max_queued_messages, EMQX mqueue max_len); for steady load, spread it over several consumers with a shared " +
        "subscription ($share/<group>/<topic>); publish data that may be lost at QoS 0 so it is not queued for offline or slow clients.",
      evidence: evidenceOf(dropped.map((e) => ({ event: e, summary: `messages dropped on ${e.broker}` }))),
    },
  ];
}

const SEVERITY_ORDER: Record<Severity, number> = { critical: 0, warning: 1, info: 2 };

/**
 * Findings about one client from its events (any order; they are sorted here), most severe first.
 * `now` dates "the latest … ago" in the details. `sessions` are `pairSessions(events)`, for a
 * caller that has them already (the trace page pairs once for its timeline and its diagnosis).
 */
export function diagnose<E extends DiagnosisEvent>(
  events: readonly E[],
  now: Date,
  sessions: readonly Session<E>[] = pairSessions(events),
): Finding[] {
  const context: Context = { events: chronological(events), sessions, now };
  return [
    ...sharedClientId(context),
    ...notAuthorized(context),
    ...keepaliveRun(context),
    ...regularCloses(context),
    ...reconnectLoop(context),
    ...messagesDropped(context),
  ].sort((a, b) => SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity]);
}
