import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { IncidentCharts } from "@/components/incidents/incident-charts";
import { IncidentFindings } from "@/components/incidents/incident-findings";
import { Time } from "@/components/time";
import { Badge, Card, clientHref, EmptyState, formatDuration, PageHeader, TextLink } from "@/components/ui";
import { requireUser } from "@/lib/auth/page";
import { loadIncidentPage } from "@/lib/incidents/pages";

export const dynamic = "force-dynamic";

type Props = { params: Promise<{ id: string }> };

export async function generateMetadata({ params }: Props): Promise<Metadata> {
  return { title: `Incident ${(await params).id}` };
}

const EVIDENCE_BEFORE_MS = 15 * 60_000;
const EVIDENCE_AFTER_MS = 5 * 60_000;

/**
 * One broker incident: its timeline (last good sample, down, up, settled), the evidence series
 * around it, what it cost, the findings with their fixes, the clients that never came back and the
 * broker's own log lines.
 */
export default async function IncidentPage({ params }: Props) {
  const user = await requireUser();
  const { id: raw } = await params;
  if (!/^[1-9]\d{0,14}$/.test(raw)) notFound();
  const incident = await loadIncidentPage(user, Number(raw));
  if (!incident) notFound();
  const started = Date.parse(incident.startedAt);
  const up = incident.upAt ? Date.parse(incident.upAt) : null;
  // the window the evidence was read in, narrowed to where there is any (a broker watched for a minute)
  const firstPoint = Math.min(...Object.values(incident.series).map((points) => points?.[0]?.[0] ?? Infinity));
  const from = Math.max(started - EVIDENCE_BEFORE_MS, Number.isFinite(firstPoint) ? firstPoint - 5000 : -Infinity);
  const to = Math.min(Date.now(), (up ?? Date.now()) + EVIDENCE_AFTER_MS);
  const stat = (label: string, value: string | number | null) => (
    <div>
      <dt className="text-xs text-zinc-600 dark:text-zinc-400">{label}</dt>
      <dd className="text-lg font-medium">{value ?? "—"}</dd>
    </div>
  );

  return (
    <div className="mx-auto max-w-6xl space-y-6">
      <div>
        <p className="mb-1 text-sm">
          <TextLink href={`/brokers/${encodeURIComponent(incident.broker)}`}>← {incident.broker}</TextLink>
        </p>
        <PageHeader
          title={
            <span className="flex items-center gap-3">
              {incident.kind === "restart" ? "Restart" : "Outage"} of {incident.broker}
              {incident.endedAt ? <Badge>closed</Badge> : <Badge tone="warn">open</Badge>}
            </span>
          }
          subtitle={
            <span className="flex flex-wrap gap-x-4 gap-y-1" data-testid="incident-timeline">
              <span>
                <span className="text-zinc-600 dark:text-zinc-400">last good sample</span> <Time value={incident.lastGoodAt} />
              </span>
              <span>
                <span className="text-zinc-600 dark:text-zinc-400">down</span> <Time value={incident.startedAt} />
              </span>
              <span>
                <span className="text-zinc-600 dark:text-zinc-400">up</span>{" "}
                {incident.upAt ? <Time value={incident.upAt} /> : "still down"}
              </span>
              <span>
                <span className="text-zinc-600 dark:text-zinc-400">for</span> {formatDuration(incident.downSeconds)}
              </span>
              <span>
                <span className="text-zinc-600 dark:text-zinc-400">detected by</span> {incident.detectedBy.replace("_", " ")}
              </span>
            </span>
          }
        />
      </div>

      <Card title="What it cost">
        <dl className="grid grid-cols-2 gap-4 sm:grid-cols-4 lg:grid-cols-8" data-testid="incident-cost">
          {stat("clients before", incident.clientsBefore)}
          {stat("clients dropped", incident.clientsDropped)}
          {stat("back within 1 min", incident.clientsBack1m)}
          {stat("back within 5 min", incident.clientsBack5m)}
          {stat("sessions before", incident.sessionsBefore)}
          {stat("sessions after", incident.sessionsAfter)}
          {stat("queued before", incident.queuedBefore)}
          {stat("queued after", incident.queuedAfter)}
        </dl>
      </Card>

      <Card title="Findings">
        <IncidentFindings findings={incident.findings} />
      </Card>

      <Card title="Evidence">
        <IncidentCharts series={incident.series} from={from} to={to} down={{ start: started, end: up }} />
      </Card>

      <div className="grid gap-4 lg:grid-cols-2">
        <Card title={`Clients that never came back (${incident.clientsNeverBack.length})`}>
          {incident.clientsUnknown.length > 0 && incident.blindWindow ? (
            <div className="mb-3" data-testid="clients-unknown">
              <p className="text-sm">
                Unknown ({incident.clientsUnknown.length}): brokerwatch was not watching for the first{" "}
                {incident.blindWindow.seconds} s after the broker came back (<Time value={incident.blindWindow.from} /> to{" "}
                <Time value={incident.blindWindow.to} />
                ); these may have reconnected then.
              </p>
              <ul className="mt-1 space-y-1 font-mono text-sm">
                {incident.clientsUnknown.map((c) => (
                  <li key={c.clientId}>
                    <TextLink href={clientHref(c.clientId)}>{c.clientId}</TextLink>
                  </li>
                ))}
              </ul>
            </div>
          ) : null}
          {incident.clientsNeverBack.length === 0 ? (
            <EmptyState>
              {incident.clientsUnknown.length > 0 ? "None affirmed absent." : "Every dropped client came back."}
            </EmptyState>
          ) : (
            <ul className="space-y-1 font-mono text-sm" data-testid="clients-never-back">
              {incident.clientsNeverBack.map((c) => (
                <li key={c.clientId}>
                  <TextLink href={clientHref(c.clientId)}>{c.clientId}</TextLink>
                </li>
              ))}
            </ul>
          )}
        </Card>
        <Card title="Broker log around it">
          {incident.logLines.length === 0 ? (
            <EmptyState>No unrecognised broker log lines in the window.</EmptyState>
          ) : (
            <ul className="space-y-1 font-mono text-xs">
              {incident.logLines.map((l, i) => (
                <li key={i}>
                  <Time value={l.ts} /> {l.text}
                </li>
              ))}
            </ul>
          )}
        </Card>
      </div>
    </div>
  );
}
