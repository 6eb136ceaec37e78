import type { Finding, Severity } from "@/lib/diagnosis";
import { Time } from "@/components/time";
import { Badge, type Tone } from "@/components/ui";

const SEVERITY_TONE: Record<Severity, Tone> = { critical: "bad", warning: "warn", info: "info" };
const SEVERITY_BORDER: Record<Severity, string> = {
  critical: "border-l-red-500",
  warning: "border-l-amber-500",
  info: "border-l-sky-500",
};

/** What the history says is wrong, each finding with the fix and links to the events it rests on. */
export function DiagnosisPanel({ findings }: { findings: Finding[] }) {
  if (findings.length === 0) {
    return (
      <p className="text-sm text-zinc-600 dark:text-zinc-400" data-testid="no-findings">
        <Badge tone="good">healthy</Badge> Nothing in this window points to a problem: no takeovers between devices, no
        runs of timeouts, no refused logins, no timer-like closes, no reconnect loop, no dropped messages.
      </p>
    );
  }
  return (
    <div className="space-y-4">
      {findings.map((f) => (
        <article
          key={f.id}
          data-finding={f.id}
          className={`rounded-md border border-l-4 border-zinc-200 p-3 dark:border-zinc-800 ${SEVERITY_BORDER[f.severity]}`}
        >
          <h3 className="flex flex-wrap items-center gap-2 text-sm font-semibold">
            <Badge tone={SEVERITY_TONE[f.severity]}>{f.severity}</Badge>
            {f.title}
          </h3>
          <p className="mt-2 text-sm text-zinc-700 dark:text-zinc-300">{f.detail}</p>
          <p className="mt-2 text-sm">
            <span className="font-medium">Fix: </span>
            <span className="text-zinc-700 dark:text-zinc-300">{f.fix}</span>
          </p>
          <details className="mt-2 text-sm" open>
            <summary className="cursor-pointer text-xs font-medium text-zinc-600 dark:text-zinc-400 uppercase">
              Evidence ({f.evidence.length} {f.evidence.length === 1 ? "event" : "events"})
            </summary>
            <ul className="mt-1 space-y-0.5">
              {f.evidence.map((e) => (
                <li key={e.eventId} className="flex gap-2">
                  <a
                    href={`#event-${e.eventId}`}
                    data-evidence={e.eventId}
                    className="shrink-0 text-sky-700 underline-offset-2 hover:underline focus-visible:outline-2 focus-visible:outline-sky-500 dark:text-sky-400"
                  >
                    <Time value={e.ts} />
                  </a>
                  <span className="min-w-0 text-zinc-600 dark:text-zinc-400">{e.summary}</span>
                </li>
              ))}
            </ul>
          </details>
        </article>
      ))}
    </div>
  );
}
