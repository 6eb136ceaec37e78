import type { IncidentSummary } from "@/lib/api/incidents";
import { Time } from "@/components/time";
import { Badge, EmptyState } from "@/components/ui";

const SEVERITY_TONE = { critical: "bad", warning: "warn", info: "neutral" } as const;

/** The findings of an incident, each with what it rests on and the fix, like the client diagnosis. */
export function IncidentFindings({ findings }: { findings: IncidentSummary["findings"] }) {
  if (findings.length === 0)
    return (
      <EmptyState>
        Nothing in the evidence explains this one: no resource, limit or persistence problem seen.
      </EmptyState>
    );
  return (
    <ul className="space-y-4" data-testid="incident-findings">
      {findings.map((f) => (
        <li key={f.code} data-finding={f.code} className="rounded-md border border-zinc-200 p-3 dark:border-zinc-800">
          <div className="flex items-center gap-2">
            <Badge tone={SEVERITY_TONE[f.severity as keyof typeof SEVERITY_TONE] ?? "neutral"}>{f.severity}</Badge>
            <h3 className="font-medium">{f.title}</h3>
          </div>
          <p className="mt-2 text-sm text-zinc-600 dark:text-zinc-300">{f.detail}</p>
          <p className="mt-2 text-sm">
            <span className="font-medium">Fix: </span>
            {f.fix}
          </p>
          {f.evidence.length > 0 && (
            <ul className="mt-2 space-y-0.5 text-xs text-zinc-600 dark:text-zinc-400">
              {f.evidence.map((e, i) => (
                <li key={i}>
                  <Time value={e.ts} /> — {e.summary}
                </li>
              ))}
            </ul>
          )}
        </li>
      ))}
    </ul>
  );
}
