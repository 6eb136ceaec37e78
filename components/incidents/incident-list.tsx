import type { IncidentSummary } from "@/lib/api/incidents";
import { Time } from "@/components/time";
import { Badge, EmptyState, formatDuration, rowClass, tableClass, TableHead, tdClass, TextLink } from "@/components/ui";

const SEVERITY_TONE = { critical: "bad", warning: "warn", info: "neutral" } as const;

/** Incidents as a table: when, how long, what it cost, what was found. Drawing only. */
export function IncidentList({
  incidents,
  showBroker = false,
}: {
  incidents: IncidentSummary[];
  showBroker?: boolean;
}) {
  if (incidents.length === 0) return <EmptyState>No outages or restarts recorded.</EmptyState>;
  return (
    <table className={tableClass} data-testid="incident-list">
      <TableHead
        columns={[
          "Started",
          ...(showBroker ? ["Broker"] : []),
          "Kind",
          "Down",
          "Clients dropped / back 1m / 5m",
          "Queued before → after",
          "Findings",
        ]}
      />
      <tbody>
        {incidents.map((i) => (
          <tr key={i.id} className={rowClass}>
            <td className={tdClass}>
              <TextLink href={`/incidents/${i.id}`}>
                <Time value={i.startedAt} />
              </TextLink>
              {!i.endedAt && (
                <span className="ml-2">
                  <Badge tone="warn">open</Badge>
                </span>
              )}
            </td>
            {showBroker && (
              <td className={tdClass}>
                <TextLink href={`/brokers/${encodeURIComponent(i.broker)}`}>{i.broker}</TextLink>
              </td>
            )}
            <td className={tdClass}>
              {i.kind} <span className="text-zinc-600 dark:text-zinc-400">({i.detectedBy.replace("_", " ")})</span>
            </td>
            <td className={tdClass}>{i.downSeconds === null ? "—" : formatDuration(i.downSeconds)}</td>
            <td className={tdClass}>
              {i.clientsDropped ?? "—"} / {i.clientsBack1m ?? "—"} / {i.clientsBack5m ?? "—"}
            </td>
            <td className={tdClass}>
              {i.queuedBefore ?? "—"} → {i.queuedAfter ?? "—"}
            </td>
            <td className={tdClass}>
              <span className="flex flex-wrap gap-1">
                {i.findings.length === 0
                  ? "none"
                  : i.findings.map((f) => (
                      <Badge
                        key={f.code}
                        tone={SEVERITY_TONE[f.severity as keyof typeof SEVERITY_TONE] ?? "neutral"}
                        title={f.title}
                      >
                        {f.code.replaceAll("_", " ")}
                      </Badge>
                    ))}
              </span>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
