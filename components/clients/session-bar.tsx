import type { ClientEvent } from "@/lib/clients";
import type { Session } from "@/lib/diagnosis";
import { formatDuration, reasonTone, type Tone } from "@/components/ui";

/**
 * One bar across the trace window: connected spans filled, disconnects as ticks coloured by how bad
 * their reason is, and hatched where brokerwatch could not see the client's broker (a blind window:
 * the client may have connected or left there unseen). Server-rendered SVG, no script.
 */
export interface BlindWindow {
  broker: string;
  start: number;
  end: number | null;
  reason: string;
}

const TONE_FILL: Record<Tone, string> = {
  neutral: "#71717a",
  good: "#059669",
  info: "#0284c7",
  warn: "#d97706",
  bad: "#dc2626",
};

const WIDTH = 1000;
const HEIGHT = 28;

export function SessionBar({
  sessions,
  blind,
  from,
  to,
}: {
  sessions: Session<ClientEvent>[];
  blind: BlindWindow[];
  from: number;
  to: number;
}) {
  const span = Math.max(1, to - from);
  const x = (t: number) => Math.min(WIDTH, Math.max(0, ((t - from) / span) * WIDTH));
  const spans = sessions
    .map((s) => ({
      start: s.startedAt?.getTime() ?? from,
      end: s.endedAt?.getTime() ?? (s.open ? to : null),
      reason: s.reason,
      ended: s.end !== null,
    }))
    .filter((s) => s.end !== null && s.end >= from);
  const connectedSeconds = spans.reduce((sum, s) => sum + (Math.min(s.end!, to) - Math.max(s.start, from)) / 1000, 0);
  const blindSeconds = blind.reduce((sum, b) => sum + (Math.min(b.end ?? to, to) - Math.max(b.start, from)) / 1000, 0);
  const disconnects = spans.filter((s) => s.ended).length;
  const summary =
    `Connected ${formatDuration(Math.max(0, connectedSeconds))} of ${formatDuration(span / 1000)}, ` +
    `${disconnects} ${disconnects === 1 ? "disconnect" : "disconnects"}` +
    (blindSeconds > 0 ? `, brokerwatch blind for ${formatDuration(blindSeconds)}` : "");
  return (
    <figure className="space-y-1" data-testid="session-bar">
      <svg
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        preserveAspectRatio="none"
        className="h-7 w-full rounded bg-zinc-100 dark:bg-zinc-800"
        role="img"
        aria-label={summary}
      >
        <defs>
          <pattern id="session-bar-blind" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
            <rect width="6" height="6" fill="rgba(113,113,122,0.25)" />
            <line x1="0" y1="0" x2="0" y2="6" stroke="rgba(82,82,91,0.7)" strokeWidth="2" />
          </pattern>
        </defs>
        {spans.map((s, i) => (
          <rect
            key={i}
            x={x(s.start)}
            y={4}
            width={Math.max(1, x(s.end!) - x(s.start))}
            height={HEIGHT - 8}
            fill={TONE_FILL.good}
            opacity={0.85}
          />
        ))}
        {spans
          .filter((s) => s.ended)
          .map((s, i) => (
            <rect key={`d${i}`} x={x(s.end!) - 1} y={0} width={2.5} height={HEIGHT} fill={TONE_FILL[reasonTone(s.reason)]} />
          ))}
        {blind.map((b, i) => (
          <rect
            key={`b${i}`}
            data-blind={b.broker}
            x={x(b.start)}
            y={0}
            width={Math.max(2, x(b.end ?? to) - x(b.start))}
            height={HEIGHT}
            fill="url(#session-bar-blind)"
          >
            <title>{`brokerwatch could not see ${b.broker}: ${b.reason}`}</title>
          </rect>
        ))}
      </svg>
      <figcaption className="flex flex-wrap items-center gap-x-4 gap-y-1 text-xs text-zinc-600 dark:text-zinc-400">
        <span>{summary}</span>
        <Legend color={TONE_FILL.good} label="connected" />
        <Legend color={TONE_FILL.warn} label="disconnect: takeover, socket closed" />
        <Legend color={TONE_FILL.bad} label="disconnect: timeout, error, refused" />
        <span className="inline-flex items-center gap-1">
          <span
            aria-hidden
            className="inline-block size-3 rounded-sm bg-[repeating-linear-gradient(135deg,rgba(82,82,91,0.7)_0_2px,transparent_2px_5px)]"
          />
          brokerwatch blind (unknown)
        </span>
      </figcaption>
    </figure>
  );
}

function Legend({ color, label }: { color: string; label: string }) {
  return (
    <span className="inline-flex items-center gap-1">
      <span aria-hidden className="inline-block size-3 rounded-sm" style={{ backgroundColor: color }} />
      {label}
    </span>
  );
}
