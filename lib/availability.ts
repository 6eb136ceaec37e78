/**
 * A broker's availability over a window as segments: `down` where an incident says the broker was
 * down (from its start to the broker's first sign of life), `blind` where brokerwatch could not see
 * it (a collector gap outside any incident: unknown, not down), `up` elsewhere. Pure.
 */
export type AvailabilityState = "up" | "down" | "blind";

export interface AvailabilitySegment {
  start: number;
  end: number;
  state: AvailabilityState;
  /** why, for a down or blind segment */
  why?: string;
}

export interface Availability {
  from: number;
  to: number;
  segments: AvailabilitySegment[];
  /** seconds in each state */
  seconds: Record<AvailabilityState, number>;
}

const RANK: Record<AvailabilityState, number> = { up: 0, blind: 1, down: 2 };

export function availability(opts: {
  from: number;
  to: number;
  /** [start, end or null while still down] */
  down: { start: number; end: number | null; why: string }[];
  blind: { start: number; end: number | null; why: string }[];
}): Availability {
  const { from, to } = opts;
  const marks: { start: number; end: number; state: AvailabilityState; why: string }[] = [];
  for (const d of opts.down) marks.push({ start: d.start, end: d.end ?? to, state: "down", why: d.why });
  for (const b of opts.blind) marks.push({ start: b.start, end: b.end ?? to, state: "blind", why: b.why });
  const cuts = new Set<number>([from, to]);
  for (const m of marks) {
    if (m.end <= from || m.start >= to) continue;
    cuts.add(Math.max(from, m.start));
    cuts.add(Math.min(to, m.end));
  }
  const points = [...cuts].sort((a, b) => a - b);
  const segments: AvailabilitySegment[] = [];
  for (let i = 0; i + 1 < points.length; i++) {
    const start = points[i]!;
    const end = points[i + 1]!;
    if (end <= start) continue;
    let state: AvailabilityState = "up";
    let why: string | undefined;
    for (const m of marks) {
      if (m.start <= start && m.end >= end && RANK[m.state] > RANK[state]) {
        state = m.state;
        why = m.why;
      }
    }
    const last = segments.at(-1);
    if (last && last.state === state && last.why === why) last.end = end;
    else segments.push(why ? { start, end, state, why } : { start, end, state });
  }
  const seconds: Record<AvailabilityState, number> = { up: 0, down: 0, blind: 0 };
  for (const s of segments) seconds[s.state] += (s.end - s.start) / 1000;
  return { from, to, segments, seconds };
}
