import type { DiagnosisEvent, Session, TimelineEntry } from "./diagnosis";

/**
 * A client's timeline with its repetitions folded: 211 sessions in a row that each ended the same
 * way after a few seconds read as one line — "211× discarded after 2.5–3.8 s, alternating ports" —
 * instead of a 200-row table. Pure; the trace page renders a run as one row that opens into its
 * sessions. Sessions still open, sessions the diagnosis cites and everything that is not a session
 * (failed connects, dropped messages) stay rows of their own.
 */
export const MIN_RUN = 3;
/** Sessions are alike when each lasted at most this long and they ended for the same reason on the same broker. */
export const RUN_MAX_SESSION_SECONDS = 15 * 60;

export interface SessionRun<E extends DiagnosisEvent = DiagnosisEvent> {
  kind: "run";
  /** the newest session's time (timelines are newest first) */
  at: Date;
  broker: string;
  reason: string | null;
  sessions: Session<E>[];
  minSeconds: number;
  maxSeconds: number;
  /** distinct source ports and addresses, for "alternating ports" and "from 2 addresses" */
  ports: number;
  addresses: number;
  /** the source port changes back and forth between the same few ports (two devices behind one NAT) */
  alternatingPorts: boolean;
  /** oldest and newest session start */
  from: Date | null;
  to: Date | null;
}

export type FoldedEntry<E extends DiagnosisEvent = DiagnosisEvent> = TimelineEntry<E> | SessionRun<E>;

function key<E extends DiagnosisEvent>(s: Session<E>): string | null {
  if (s.open || s.seconds === null || s.seconds > RUN_MAX_SESSION_SECONDS || !s.end) return null;
  return `${s.broker}\n${s.reason ?? ""}`;
}

export function foldRuns<E extends DiagnosisEvent>(
  entries: TimelineEntry<E>[],
  keepAlone: (entry: TimelineEntry<E>) => boolean = () => false,
): FoldedEntry<E>[] {
  const out: FoldedEntry<E>[] = [];
  let pending: Session<E>[] = [];
  let pendingAt: Date | null = null;
  let pendingKey: string | null = null;
  const flush = () => {
    if (pending.length >= MIN_RUN) out.push(makeRun(pending, pendingAt!));
    else for (const s of pending) out.push({ kind: "session", at: sessionAt(s), session: s });
    pending = [];
    pendingKey = null;
    pendingAt = null;
  };
  for (const entry of entries) {
    const k = entry.kind === "session" && !keepAlone(entry) ? key(entry.session) : null;
    if (k === null) {
      flush();
      out.push(entry);
      continue;
    }
    if (k !== pendingKey) flush();
    if (pending.length === 0) pendingAt = entry.at;
    pendingKey = k;
    pending.push((entry as Extract<TimelineEntry<E>, { kind: "session" }>).session);
  }
  flush();
  return out;
}

function sessionAt<E extends DiagnosisEvent>(s: Session<E>): Date {
  return s.startedAt ?? s.endedAt ?? new Date(0);
}

function makeRun<E extends DiagnosisEvent>(sessions: Session<E>[], at: Date): SessionRun<E> {
  const seconds = sessions.map((s) => s.seconds!);
  const ports = sessions.map((s) => s.port).filter((p): p is number => p !== null);
  const addresses = new Set(sessions.map((s) => s.address).filter((a) => a !== null));
  const distinctPorts = new Set(ports);
  // back and forth: a port seen before comes back after another one (A B A), and few ports in all
  let returns = 0;
  for (let i = 2; i < ports.length; i++) if (ports[i] === ports[i - 2] && ports[i] !== ports[i - 1]) returns++;
  const starts = sessions.map((s) => s.startedAt).filter((d): d is Date => d !== null);
  return {
    kind: "run",
    at,
    broker: sessions[0]!.broker,
    reason: sessions[0]!.reason,
    sessions,
    minSeconds: Math.min(...seconds),
    maxSeconds: Math.max(...seconds),
    ports: distinctPorts.size,
    addresses: addresses.size,
    alternatingPorts: distinctPorts.size <= Math.max(2, sessions.length / 4) && returns >= 1,
    from: starts.length ? new Date(Math.min(...starts.map((d) => d.getTime()))) : null,
    to: starts.length ? new Date(Math.max(...starts.map((d) => d.getTime()))) : null,
  };
}

/** "211× discarded after 2.5–3.8 s, alternating ports" */
export function describeRun(run: SessionRun, formatSeconds: (s: number) => string): string {
  const low = formatSeconds(run.minSeconds);
  const high = formatSeconds(run.maxSeconds);
  // "2.5–3.8 s", not "2.5 s–3.8 s": the unit once when both ends share it
  const unit = / \S+$/.exec(high)?.[0];
  const length = low === high ? high : `${unit && low.endsWith(unit) ? low.slice(0, -unit.length) : low}–${high}`;
  const parts = [`${run.sessions.length}× ${run.reason ?? "ended"} after ${length}`];
  if (run.alternatingPorts) parts.push("alternating ports");
  if (run.addresses > 1) parts.push(`from ${run.addresses} addresses`);
  return parts.join(", ");
}
