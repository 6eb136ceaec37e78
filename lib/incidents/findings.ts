/**
 * What a broker outage or restart cost, and why it happened.
 *
 * Pure: the incident's timeline, the metric series around it, the connection events and the
 * broker's own log lines in → the cost (clients dropped and back, sessions and queued messages
 * before and after) and findings out. No I/O, so every finding is tested from a recorded series
 * (test/incident-findings.test.ts). The shape of a finding follows the client diagnosis
 * (lib/diagnosis.ts): a stable code, a severity, what it rests on, and the fix.
 *
 * What the $SYS topics mean (clients/total counts connected clients plus offline persistent
 * sessions; store/messages/count minus retained is what is queued) is in docs/brokers.md §1.
 */
import type { Severity } from "../diagnosis";

export type { Severity };

/** How the incident was noticed (docs/contract.md §7). */
export const DETECTED_BY = ["connection_lost", "heartbeat_stale", "uptime_reset"] as const;
export type DetectedBy = (typeof DETECTED_BY)[number];

/** `restart`: the broker process started again (its uptime went back); `outage`: it was unreachable and came back with its uptime running on. */
export const INCIDENT_KINDS = ["restart", "outage"] as const;
export type IncidentKind = (typeof INCIDENT_KINDS)[number];

/** The metrics an incident reads, one series each. */
export const INCIDENT_METRICS = [
  "mqtt_memory_bytes",
  "mqtt_connections_current",
  "mqtt_connections_max",
  "mqtt_sessions",
  "mqtt_queued_messages",
  "mqtt_queued_own_messages",
  "mqtt_queued_own_max_messages",
  "mqtt_messages_received_per_second",
  "mqtt_messages_sent_per_second",
  "mqtt_broker_uptime_seconds",
] as const;
export type IncidentMetric = (typeof INCIDENT_METRICS)[number];

// ---------------------------------------------------------------------------------------------
// Thresholds, each with why it is where it is; test/incident-findings.test.ts checks them.
// ---------------------------------------------------------------------------------------------

/** The evidence read before the incident: long enough to see memory climb, short enough to be about this crash. */
export const EVIDENCE_BEFORE_MS = 15 * 60_000;
/** ...and after it: clients that are not back within 5 minutes are counted as not back. */
export const EVIDENCE_AFTER_MS = 5 * 60_000;
/** Memory must have grown by this factor over the window to call it climbing (a steady broker wobbles by a few %). */
export const MEMORY_GROWTH_FACTOR = 1.5;
/** ...and the last sample before the crash must be at least this share of the window's peak: still climbing, not recovered. */
export const MEMORY_NEAR_PEAK = 0.9;
/**
 * ...and by at least this much: a broker using 40 KiB that takes a burst of connections doubles its
 * memory without being anywhere near a limit (seen before a graceful restart in the Mosquitto test).
 */
export const MEMORY_MIN_GROWTH_BYTES = 16 * 1024 ** 2;
/** Memory samples needed to speak of a trend. */
export const MEMORY_MIN_SAMPLES = 3;
/**
 * Clients reconnecting in the same second that make a storm: clients with exponential backoff and
 * jitter spread over seconds; ten or more in one second, and most of the returning clients, is a
 * fleet retrying on a fixed timer.
 */
export const STORM_MIN_PER_SECOND = 10;
export const STORM_MIN_SHARE = 0.5;
/** Restarts within an hour that make a crash loop: one is an incident, two may be an upgrade, three is a loop. */
export const CRASH_LOOP_MIN = 3;
export const CRASH_LOOP_SPAN_MS = 3600_000;
/** Evidence kept per finding. */
export const MAX_EVIDENCE = 12;

/** Broker log lines that say why it stopped (Mosquitto's own wording, docs/brokers.md §2). */
const OUT_OF_MEMORY = /out of memory/i;
const SOCKET_LIMIT = /system socket count has been exceeded|too many open files|EMFILE/i;
const CONNECTION_LIMIT = /max_connections exceeded/i;

// ---------------------------------------------------------------------------------------------
// Input and output
// ---------------------------------------------------------------------------------------------

export interface Point {
  ts: Date;
  value: number;
}

export type IncidentSeries = Partial<Record<IncidentMetric, Point[]>>;

/** A connection event as the incident reads it (a `ConnectionEventRow` fits). */
export interface IncidentEvent {
  id: number;
  ts: Date;
  clientId: string | null;
  /** connected · disconnected · connect_failed · messages_dropped */
  type: string;
  reason: string | null;
  address: string | null;
}

export interface IncidentLogLine {
  ts: Date;
  topic: string;
  text: string;
}

export interface IncidentTimeline {
  broker: string;
  kind: IncidentKind;
  detectedBy: DetectedBy;
  /** the last time anything arrived from the broker before it went down */
  lastGoodAt: Date;
  /** when brokerwatch saw it down (for an uptime reset: the last heartbeat of the old process) */
  downAt: Date;
  /** when it was up again; null while it is still down */
  upAt: Date | null;
}

export interface IncidentInput {
  timeline: IncidentTimeline;
  /** each metric from EVIDENCE_BEFORE_MS before downAt to EVIDENCE_AFTER_MS after upAt, oldest first */
  series: IncidentSeries;
  /** connection events of the broker in the same window, oldest first */
  events: IncidentEvent[];
  /** the clients whose last event before downAt was `connected` (brokerwatch's own collector excluded) */
  connectedAtDown: string[];
  logLines: IncidentLogLine[];
  /** when earlier restarts of the same broker began, within CRASH_LOOP_SPAN_MS before this one */
  earlierRestarts: Date[];
}

export interface IncidentEvidence {
  /** ISO 8601 */
  ts: string;
  summary: string;
  /** the connection event it is, when it is one */
  eventId?: number;
}

export interface IncidentFinding {
  /** stable per kind of finding */
  code: FindingCode;
  severity: Severity;
  title: string;
  detail: string;
  fix: string;
  /** oldest first */
  evidence: IncidentEvidence[];
}

export const FINDING_CODES = [
  "memory_exhaustion",
  "socket_limit",
  "connection_limit",
  "persistence_off",
  "autosave_too_rare",
  "reconnect_storm",
  "crash_loop",
] as const;
export type FindingCode = (typeof FINDING_CODES)[number];

export interface IncidentCost {
  /** seconds from down to up (to now while still down) */
  downSeconds: number;
  /** the broker's own connection count before the incident, else the clients brokerwatch saw connected */
  clientsBefore: number | null;
  clientsDropped: number;
  clientsBack1m: number;
  clientsBack5m: number;
  /**
   * Dropped clients affirmed not back, sorted: not seen back, and either brokerwatch watched the
   * broker from the moment it came back, or the broker's own connection count leaves no room for
   * an unseen one.
   */
  clientsNeverBack: string[];
  /**
   * Dropped clients neither seen back nor affirmed absent, sorted: they may have reconnected in
   * the blind window (the broker accepting connections, brokerwatch not yet subscribed).
   */
  clientsUnknown: string[];
  /** seconds the broker was back before brokerwatch watched it again (the blind window), 0 when none */
  blindSeconds: number;
  /** `clients/total` before and after: connected clients plus offline persistent sessions */
  sessionsBefore: number | null;
  sessionsAfter: number | null;
  queuedBefore: number | null;
  queuedAfter: number | null;
}

export interface IncidentAnalysis {
  cost: IncidentCost;
  findings: IncidentFinding[];
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const iso = (d: Date) => d.toISOString();

/** The last point at or before `at`. */
function lastAtOrBefore(points: Point[] | undefined, at: Date): Point | null {
  let found: Point | null = null;
  for (const p of points ?? []) if (p.ts.getTime() <= at.getTime()) found = p;
  return found;
}

/** The first point at or after `at`. */
function firstAtOrAfter(points: Point[] | undefined, at: Date): Point | null {
  for (const p of points ?? []) if (p.ts.getTime() >= at.getTime()) return p;
  return null;
}

function between(points: Point[] | undefined, from: number, to: number): Point[] {
  return (points ?? []).filter((p) => p.ts.getTime() >= from && p.ts.getTime() <= to);
}

function bytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

function newest<T>(items: T[]): T[] {
  return items.slice(-MAX_EVIDENCE);
}

/** How the collector's status change says it was noticed. */
export function detectedByOf(why: string): DetectedBy {
  return why.startsWith("heartbeat stale") || why.startsWith("connected, but no heartbeat")
    ? "heartbeat_stale"
    : "connection_lost";
}

/**
 * Restart or outage: after an outage the broker's uptime runs on, so the first uptime after `up`
 * is at least the uptime before plus the time between; a smaller one means the process started again.
 */
export function kindFromUptime(before: Point | null, after: Point | null): IncidentKind | null {
  if (!before || !after) return null;
  const elapsed = (after.ts.getTime() - before.ts.getTime()) / 1000;
  // a few seconds of slack: $SYS publishes uptime in whole seconds every sys_interval
  return after.value + 5 < before.value + elapsed ? "restart" : "outage";
}

/**
 * Where the values "before" end and those "after" start. The broker's retained $SYS values arrive
 * in one burst on reconnect, some just before the heartbeat that makes it up, so "after" starts a
 * moment before `upAt` (but never before the broker went down: nothing arrives from it in between).
 * Samples are stored to the second (db/ingest.ts), so when the old process's last values and the
 * new one's first share a second, that second's sample may be either (the later write wins): it
 * is neither before nor after.
 */
function beforeAndAfter(t: IncidentTimeline): { beforeUntil: Date; afterFrom: Date } {
  const upAt = t.upAt ?? t.downAt;
  const newFrom = Math.max(t.downAt.getTime() + 1, upAt.getTime() - AFTER_SLACK_MS);
  const lastGoodSecond = floorSecond(t.lastGoodAt.getTime());
  const shared = t.upAt !== null && floorSecond(newFrom) <= lastGoodSecond;
  return {
    beforeUntil: new Date(shared ? lastGoodSecond - 1 : t.lastGoodAt.getTime()),
    afterFrom: new Date(shared ? lastGoodSecond + 1000 : newFrom),
  };
}
const AFTER_SLACK_MS = 2000;
const floorSecond = (ms: number) => Math.floor(ms / 1000) * 1000;

function afterFrom(t: IncidentTimeline): Date {
  return beforeAndAfter(t).afterFrom;
}

/** The last point that is surely the old process's: at or before the last good moment. */
function lastBefore(points: Point[] | undefined, t: IncidentTimeline): Point | null {
  return lastAtOrBefore(points, beforeAndAfter(t).beforeUntil);
}
/**
 * The values "after" are the lowest in this window after the restart: the reconnect burst reads
 * high for a moment (the retained values, clients still coming back). Short, so clients draining
 * restored queues on their return do not read as a loss.
 */
export const AFTER_WINDOW_MS = 3000;

function settledAfter(points: Point[] | undefined, t: IncidentTimeline): Point | null {
  const from = afterFrom(t).getTime();
  let low: Point | null = null;
  for (const p of points ?? []) {
    const at = p.ts.getTime();
    if (at < from || at > from + AFTER_WINDOW_MS) continue;
    if (!low || p.value < low.value) low = p;
  }
  return low ?? firstAtOrAfter(points, afterFrom(t));
}

/**
 * The messages queued for the clients, as a range. Mosquitto's store count also holds the log lines
 * in flight to brokerwatch's own session (QoS 1, acknowledged only once committed: hundreds at a
 * time when the log is busy), and they come and go with every commit, so the raw count before and
 * after a restart differs by whatever brokerwatch had in flight at each. The collector records
 * beside each count how much of it can have been its own, at least and at most
 * (lib/collector/types.ts OwnInFlight): `most` is the count less the least that was ours, `least`
 * the count less the most. A count without that record (another broker, or recorded before it
 * existed) is taken as it is.
 */
export interface QueuedRange {
  ts: Date;
  /** the broker's count (store − retained) */
  stored: number;
  most: number;
  least: number;
}

export function clientQueued(s: IncidentSeries): QueuedRange[] {
  const byTs = (points: Point[] | undefined) => new Map((points ?? []).map((p) => [p.ts.getTime(), p.value]));
  const ownLeast = byTs(s.mqtt_queued_own_messages);
  const ownMost = byTs(s.mqtt_queued_own_max_messages);
  return (s.mqtt_queued_messages ?? []).map((p) => {
    const low = ownLeast.get(p.ts.getTime()) ?? 0;
    const high = Math.max(low, ownMost.get(p.ts.getTime()) ?? low);
    return { ts: p.ts, stored: p.value, most: Math.max(0, p.value - low), least: Math.max(0, p.value - high) };
  });
}

/**
 * How far back from the last count before the incident an exactly known count is preferred: three
 * `$SYS` updates at Mosquitto's default sys_interval (10 s). A burst of log lines just before a
 * restart leaves the last count with a wide range; the clients' queues rarely change in seconds.
 */
export const BEFORE_KNOWN_MS = 30_000;

/** What was queued for the clients before and after the incident, each as a range (null: no count). */
interface QueuedBeforeAfter {
  before: QueuedRange | null;
  /** the lowest of each bound in the window after (settledAfter) */
  after: QueuedRange | null;
}

function queuedAround(input: IncidentInput): QueuedBeforeAfter {
  const t = input.timeline;
  const ranges = clientQueued(input.series);
  const asPoints = (bound: "most" | "least") => ranges.map((r) => ({ ts: r.ts, value: r[bound] }));
  const candidates = ranges.filter((r) => r.ts.getTime() <= beforeAndAfter(t).beforeUntil.getTime());
  const latest = candidates.at(-1) ?? null;
  // Of the last few counts, the newest that brokerwatch's own share is known exactly in (nothing
  // acknowledged just before) and that agrees with the newest count's range, else the newest.
  const known = candidates
    .filter(
      (r) =>
        latest &&
        r.ts.getTime() >= latest.ts.getTime() - BEFORE_KNOWN_MS &&
        r.most === r.least &&
        r.most >= latest.least &&
        r.most <= latest.most,
    )
    .at(-1);
  const before = known ?? latest;
  if (!t.upAt) return { before, after: null };
  const most = settledAfter(asPoints("most"), t);
  const least = settledAfter(asPoints("least"), t);
  const after =
    most && least
      ? { ts: most.ts, stored: ranges.find((r) => r.ts === most.ts)!.stored, most: most.value, least: least.value }
      : null;
  return { before, after };
}

// ---------------------------------------------------------------------------------------------
// Cost
// ---------------------------------------------------------------------------------------------

function clientsBackWithin(input: IncidentInput, withinMs: number | null): Set<string> {
  const { downAt, upAt } = input.timeline;
  const dropped = new Set(input.connectedAtDown);
  const back = new Set<string>();
  if (!upAt) return back;
  const until = withinMs === null ? Infinity : upAt.getTime() + withinMs;
  for (const e of input.events) {
    const t = e.ts.getTime();
    if (e.type !== "connected" || !e.clientId || !dropped.has(e.clientId)) continue;
    if (t > downAt.getTime() - 1000 && t <= until) back.add(e.clientId);
  }
  return back;
}

/**
 * The blind window after a broker came back: from when its new process started (its first uptime
 * after up, counted back; else when it was seen down) to when brokerwatch watched it again (upAt:
 * the status turns up only on a heartbeat read through the new subscription). Connects in it were
 * not seen. Null when the broker never stopped accepting (no uptime reset and no lost connection)
 * or is still down.
 */
export function blindWindow(input: IncidentInput): { from: Date; to: Date } | null {
  const { downAt, upAt } = input.timeline;
  if (!upAt) return null;
  const uptime = firstAtOrAfter(input.series.mqtt_broker_uptime_seconds, upAt);
  const startedAt = uptime ? uptime.ts.getTime() - uptime.value * 1000 : downAt.getTime();
  const from = Math.min(upAt.getTime(), Math.max(downAt.getTime(), startedAt));
  return { from: new Date(from), to: upAt };
}

/**
 * How many dropped clients the broker's own count proves connected at `at` beyond those seen:
 * its connections (less brokerwatch's own collector connection) minus the clients seen connected
 * since the broker went down and not seen leaving by then.
 */
function provenUnseen(input: IncidentInput, at: number, seenBack: Set<string>): number | null {
  const count = lastAtOrBefore(input.series.mqtt_connections_current, new Date(at));
  if (!count || count.ts.getTime() < (input.timeline.upAt?.getTime() ?? Infinity)) return null;
  const connected = new Set<string>();
  for (const e of input.events) {
    const t = e.ts.getTime();
    if (!e.clientId || t <= input.timeline.downAt.getTime() - 1000 || t > at) continue;
    if (e.type === "connected") connected.add(e.clientId);
    else if (e.type === "disconnected") connected.delete(e.clientId);
  }
  for (const id of seenBack) connected.add(id);
  return Math.max(0, count.value - OWN_CONNECTIONS - connected.size);
}

/** brokerwatch's own collector connection, which the broker's connection count includes */
const OWN_CONNECTIONS = 1;

export function incidentCost(input: IncidentInput, now: Date): IncidentCost {
  const { downAt, upAt } = input.timeline;
  const s = input.series;
  const before = (m: IncidentMetric) => lastBefore(s[m], input.timeline);
  const after = (m: IncidentMetric) => (upAt ? settledAfter(s[m], input.timeline) : null);
  const everBack = clientsBackWithin(input, null);
  const back1m = clientsBackWithin(input, 60_000);
  const back5m = clientsBackWithin(input, EVIDENCE_AFTER_MS);
  const queued = queuedAround(input);
  const connectionsBefore = before("mqtt_connections_current");
  // Not seen back: affirmed absent only where brokerwatch could have seen them (issue 19 §6).
  const notSeen = input.connectedAtDown.filter((id) => !everBack.has(id)).sort();
  const blind = blindWindow(input);
  const blindSeconds = blind ? Math.max(0, (blind.to.getTime() - blind.from.getTime()) / 1000) : 0;
  const unseenAt = (ms: number, seen: Set<string>) =>
    upAt ? Math.min(notSeen.length, provenUnseen(input, Math.min(now.getTime(), upAt.getTime() + ms), seen) ?? 0) : 0;
  const lastCount = upAt ? provenUnseen(input, now.getTime(), everBack) : null;
  let clientsNeverBack: string[] = [];
  let clientsUnknown: string[] = [];
  if (blindSeconds < MIN_BLIND_SECONDS || lastCount === 0) clientsNeverBack = notSeen;
  else if (lastCount === null || lastCount < notSeen.length) clientsUnknown = notSeen;
  return {
    downSeconds: Math.max(0, ((upAt ?? now).getTime() - downAt.getTime()) / 1000),
    clientsBefore: connectionsBefore ? connectionsBefore.value : input.connectedAtDown.length,
    clientsDropped: input.connectedAtDown.length,
    clientsBack1m: back1m.size + (blindSeconds >= MIN_BLIND_SECONDS ? unseenAt(60_000, back1m) : 0),
    clientsBack5m: back5m.size + (blindSeconds >= MIN_BLIND_SECONDS ? unseenAt(EVIDENCE_AFTER_MS, back5m) : 0),
    clientsNeverBack,
    clientsUnknown,
    blindSeconds: Math.round(blindSeconds * 10) / 10,
    sessionsBefore: before("mqtt_sessions")?.value ?? null,
    sessionsAfter: after("mqtt_sessions")?.value ?? null,
    queuedBefore: queued.before?.most ?? null,
    queuedAfter: queued.after?.most ?? null,
  };
}

// ---------------------------------------------------------------------------------------------
// Findings
// ---------------------------------------------------------------------------------------------

function windowBefore(input: IncidentInput): [number, number] {
  const down = input.timeline.downAt.getTime();
  return [down - EVIDENCE_BEFORE_MS, down];
}

function logEvidence(lines: IncidentLogLine[]): IncidentEvidence[] {
  return lines.map((l) => ({ ts: iso(l.ts), summary: `broker log: ${l.text.trim()}` }));
}

function memoryExhaustion(input: IncidentInput): IncidentFinding | null {
  const [from, to] = windowBefore(input);
  const memory = between(input.series.mqtt_memory_bytes, from, to);
  const oom = input.logLines.filter((l) => OUT_OF_MEMORY.test(l.text));
  let climbing = false;
  const evidence: IncidentEvidence[] = [];
  if (memory.length >= MEMORY_MIN_SAMPLES) {
    const first = memory[0];
    const last = memory[memory.length - 1];
    const peak = Math.max(...memory.map((p) => p.value));
    climbing =
      first.value > 0 &&
      last.value >= MEMORY_GROWTH_FACTOR * first.value &&
      last.value - first.value >= MEMORY_MIN_GROWTH_BYTES &&
      last.value >= MEMORY_NEAR_PEAK * peak;
    if (climbing) {
      evidence.push({ ts: iso(first.ts), summary: `memory ${bytes(first.value)}` });
      evidence.push({ ts: iso(last.ts), summary: `memory ${bytes(last.value)}, the last sample before it went down` });
    }
  }
  if (!climbing && oom.length === 0) return null;
  // Climbing memory before an outage that was not a restart is a warning sign, not the cause.
  if (oom.length === 0 && input.timeline.kind !== "restart") return null;
  evidence.push(...logEvidence(oom));
  return {
    code: "memory_exhaustion",
    severity: "critical",
    title: "The broker ran out of memory",
    detail: oom.length
      ? "The broker logged that it was out of memory before it stopped."
      : `Memory climbed to ${MEMORY_GROWTH_FACTOR}× or more (by at least ${bytes(MEMORY_MIN_GROWTH_BYTES)}) over the ${EVIDENCE_BEFORE_MS / 60_000} minutes before the crash and was still at its peak: the process was most likely killed for its memory (OOM killer or a container limit).`,
    fix: "Find what grows: messages queued for offline persistent clients (limit with max_queued_messages / max_queued_bytes), retained messages, large payloads (message_size_limit). Set memory_limit so Mosquitto refuses new messages instead of being killed, and give it headroom under the container or cgroup limit.",
    evidence: newest(evidence.sort((a, b) => a.ts.localeCompare(b.ts))),
  };
}

function socketLimit(input: IncidentInput): IncidentFinding | null {
  const [from] = windowBefore(input);
  const until = (input.timeline.upAt ?? input.timeline.downAt).getTime();
  // Mosquitto's "system socket count has been exceeded" is recorded as a refused connect with no address.
  const refused = input.events.filter(
    (e) =>
      e.type === "connect_failed" &&
      e.reason === "max_connections" &&
      e.address === null &&
      e.ts.getTime() >= from &&
      e.ts.getTime() <= until,
  );
  const lines = input.logLines.filter((l) => SOCKET_LIMIT.test(l.text));
  if (refused.length === 0 && lines.length === 0) return null;
  const evidence: IncidentEvidence[] = [
    ...refused.map((e) => ({
      ts: iso(e.ts),
      summary: "connection refused: system socket count exceeded",
      eventId: e.id,
    })),
    ...logEvidence(lines),
  ].sort((a, b) => a.ts.localeCompare(b.ts));
  return {
    code: "socket_limit",
    severity: "critical",
    title: "The broker hit its open-file (socket) limit",
    detail: `${refused.length + lines.length} time(s) the broker could not accept a connection because the process had no file descriptors left.`,
    fix: "Raise the process's open-file limit (LimitNOFILE= in the systemd unit, ulimit -n, or the container's nofile ulimit): every client takes one descriptor, plus a few for listeners, the log and the persistence file.",
    evidence: newest(evidence),
  };
}

function connectionLimit(input: IncidentInput): IncidentFinding | null {
  const [from, to] = windowBefore(input);
  const current = between(input.series.mqtt_connections_current, from, to);
  const max = input.series.mqtt_connections_max ?? [];
  const atLimit = current.filter((p) => {
    const limit = lastAtOrBefore(max, p.ts) ?? max[0];
    return limit !== undefined && limit !== null && limit.value > 0 && p.value >= limit.value;
  });
  const refused = input.events.filter(
    (e) =>
      e.type === "connect_failed" &&
      e.reason === "max_connections" &&
      e.address !== null &&
      e.ts.getTime() >= from &&
      e.ts.getTime() <= (input.timeline.upAt ?? input.timeline.downAt).getTime(),
  );
  const lines = input.logLines.filter((l) => CONNECTION_LIMIT.test(l.text));
  if (atLimit.length === 0 && refused.length === 0 && lines.length === 0) return null;
  const evidence: IncidentEvidence[] = [
    ...atLimit.slice(0, 1).map((p) => ({
      ts: iso(p.ts),
      summary: `${p.value} connections, the configured maximum is ${(lastAtOrBefore(max, p.ts) ?? max[0]).value}`,
    })),
    ...refused.map((e) => ({
      ts: iso(e.ts),
      summary: `connection from ${e.address} refused: max_connections`,
      eventId: e.id,
    })),
    ...logEvidence(lines),
  ].sort((a, b) => a.ts.localeCompare(b.ts));
  return {
    code: "connection_limit",
    severity: "warning",
    title: "The broker reached its connection limit",
    detail:
      "Before the incident the broker was at its max_connections: new clients were refused, and clients retrying add load.",
    fix: "Raise max_connections (and maxConnections in brokerwatch.yaml so the headroom is right), or find the clients that open more connections than they should (a ClientID per process, connection leaks).",
    evidence: newest(evidence),
  };
}

function stateLost(input: IncidentInput): IncidentFinding | null {
  if (input.timeline.kind !== "restart" || !input.timeline.upAt) return null;
  const s = input.series;
  const beforeAt = (m: IncidentMetric) => lastBefore(s[m], input.timeline);
  const afterAt = (m: IncidentMetric) => settledAfter(s[m], input.timeline);
  const offline = (sessions: Point | null, connected: Point | null) =>
    sessions && connected ? Math.max(0, sessions.value - connected.value) : null;
  const offlineBefore = offline(beforeAt("mqtt_sessions"), beforeAt("mqtt_connections_current"));
  const offlineAfter = offline(afterAt("mqtt_sessions"), afterAt("mqtt_connections_current"));
  // Lost for certain: even the least the clients can have had before is more than the most they
  // had after. What brokerwatch itself had in flight is never counted as lost (clientQueued).
  const { before: qb, after: qa } = queuedAround(input);
  const queuedLost = qb && qa ? Math.max(0, qb.least - qa.most) : 0;
  const sessionsLost = offlineBefore !== null && offlineAfter !== null ? Math.max(0, offlineBefore - offlineAfter) : 0;
  if (queuedLost === 0 && sessionsLost === 0) return null;
  const everything =
    (queuedLost === 0 || qa?.least === 0) && (offlineBefore === null || sessionsLost === 0 || offlineAfter === 0);
  const evidence: IncidentEvidence[] = [];
  if (queuedLost > 0 && qb && qa) {
    evidence.push({ ts: iso(qb.ts), summary: `${qb.most} queued messages before${ownNote(qb)}` });
    evidence.push({ ts: iso(qa.ts), summary: `${qa.most} queued messages after the restart${ownNote(qa)}` });
  }
  const sb = beforeAt("mqtt_sessions");
  const sa = afterAt("mqtt_sessions");
  if (sessionsLost > 0 && sb && sa) {
    evidence.push({
      ts: iso(sb.ts),
      summary: `${offlineBefore} offline persistent sessions before (${sb.value} sessions in all)`,
    });
    evidence.push({
      ts: iso(sa.ts),
      summary: `${offlineAfter} offline persistent sessions after the restart (${sa.value} in all)`,
    });
  }
  evidence.sort((x, y) => x.ts.localeCompare(y.ts));
  const lost = [
    queuedLost > 0 ? `${queuedLost} queued message(s)` : null,
    sessionsLost > 0 ? `${sessionsLost} offline persistent session(s)` : null,
  ]
    .filter(Boolean)
    .join(" and ");
  if (everything) {
    return {
      code: "persistence_off",
      severity: "critical",
      title: "Sessions and queued messages were lost on restart: persistence is off",
      detail: `The restart lost ${lost}: the broker came back with none of them, which is what a broker without persistence (or one that never saved) does. Clients with clean session 0 reconnected to empty sessions and missed what was queued for them.`,
      fix: "Turn on persistence (`persistence true` and a `persistence_location` on a durable volume) so sessions, subscriptions and queued QoS 1/2 messages survive a restart.",
      evidence,
    };
  }
  return {
    code: "autosave_too_rare",
    severity: "warning",
    title: "Part of the queued messages and sessions were lost on restart: autosave is too rare",
    detail: `The broker came back with part of its state but lost ${lost}: what changed since the last save of the persistence file was lost with the crash.`,
    fix: "Save more often: lower `autosave_interval` (seconds), or set `autosave_on_changes true` so the store is written after that many changes.",
    evidence,
  };
}

/** Says how much of the broker's count was brokerwatch's own, when some was. */
function ownNote(r: QueuedRange): string {
  if (r.stored === r.most) return "";
  return ` (the broker counted ${r.stored}: ${r.stored - r.most} were log lines in flight to brokerwatch itself)`;
}

function reconnectStorm(input: IncidentInput, cost: IncidentCost): IncidentFinding | null {
  const { upAt } = input.timeline;
  if (!upAt) return null;
  const from = input.timeline.downAt.getTime();
  const until = upAt.getTime() + EVIDENCE_AFTER_MS;
  const bySecond = new Map<number, IncidentEvent[]>();
  for (const e of input.events) {
    const t = e.ts.getTime();
    if (e.type !== "connected" || t < from || t > until) continue;
    const second = Math.floor(t / 1000);
    bySecond.set(second, [...(bySecond.get(second) ?? []), e]);
  }
  let peak: IncidentEvent[] = [];
  for (const group of bySecond.values()) if (group.length > peak.length) peak = group;
  const returning = Math.max(cost.clientsBack5m, 1);
  if (peak.length < STORM_MIN_PER_SECOND || peak.length < STORM_MIN_SHARE * returning) return null;
  return {
    code: "reconnect_storm",
    severity: "warning",
    title: "A reconnect storm when the broker came back",
    detail: `${peak.length} clients connected in the same second after the broker was back: they retry on a fixed timer, so every outage ends with the whole fleet at once, which can take the broker down again.`,
    fix: "Give the clients exponential backoff with random jitter (e.g. mqtt.js reconnectPeriod grown per attempt with ±50% jitter, Paho's max retry interval with a random delay), so reconnects spread over tens of seconds.",
    evidence: newest(
      peak.map((e) => ({ ts: iso(e.ts), summary: `${e.clientId ?? "<unknown>"} connected`, eventId: e.id })),
    ),
  };
}

function crashLoop(input: IncidentInput): IncidentFinding | null {
  if (input.timeline.kind !== "restart") return null;
  const at = input.timeline.downAt.getTime();
  const earlier = input.earlierRestarts.filter((d) => d.getTime() < at && d.getTime() >= at - CRASH_LOOP_SPAN_MS);
  if (earlier.length + 1 < CRASH_LOOP_MIN) return null;
  const all = [...earlier.map((d) => d.getTime()), at].sort((a, b) => a - b);
  return {
    code: "crash_loop",
    severity: "critical",
    title: "The broker is in a crash loop",
    detail: `${all.length} restarts within ${CRASH_LOOP_SPAN_MS / 60_000} minutes: whatever kills it comes back after every start (a bad config, a full disk, memory exhausted again by the same clients).`,
    fix: "Read the broker's log of the first restart in the loop; stop the supervisor from restarting it blindly (systemd StartLimitBurst= / StartLimitIntervalSec=) until the cause is fixed.",
    evidence: newest(all.map((t, i) => ({ ts: iso(new Date(t)), summary: `restart ${i + 1} of ${all.length}` }))),
  };
}

const SEVERITY_ORDER: Record<Severity, number> = { critical: 0, warning: 1, info: 2 };

/** The cost of the incident and what it says, most severe first. */
export function analyseIncident(input: IncidentInput, now: Date): IncidentAnalysis {
  const cost = incidentCost(input, now);
  const findings = [
    memoryExhaustion(input),
    socketLimit(input),
    connectionLimit(input),
    stateLost(input),
    reconnectStorm(input, cost),
    crashLoop(input),
  ].filter((f): f is IncidentFinding => f !== null);
  findings.sort((a, b) => SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity]);
  return { cost, findings };
}

/** A blind window shorter than this (the clock's resolution, a subscription's round trip) hides nothing. */
const MIN_BLIND_SECONDS = 0.05;

/** What an incident keeps beside its numbers once closed: the lists its page shows. */
export interface IncidentDetail {
  clientsNeverBack: string[];
  /** may have come back unseen (older incidents: absent) */
  clientsUnknown?: string[];
  /** the window they may have come back in */
  blindWindow?: { from: string; to: string; seconds: number } | null;
  logLines: { ts: string; topic: string; text: string }[];
  /** metric → [epoch ms, value][], oldest first */
  series: Partial<Record<IncidentMetric, [number, number][]>>;
}
