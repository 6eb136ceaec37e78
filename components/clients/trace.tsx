import Link from "next/link";
import type { ClientHistory } from "@/lib/clients";
import type { Finding } from "@/lib/diagnosis";
import { Time } from "@/components/time";
import { Card, EmptyState, PageHeader, TextLink, secondaryButtonClass } from "@/components/ui";
import { DiagnosisPanel } from "./diagnosis-panel";
import { ClientIdText } from "./format";
import { ReasonBreakdown } from "./reason-breakdown";
import { Timeline } from "./timeline";
import { SessionBar, type BlindWindow } from "./session-bar";
import { foldRuns } from "@/lib/timeline-runs";
import {
  WINDOWS,
  clientCsvHref,
  clientsHref,
  describeRange,
  rangeSeconds,
  traceHref,
  type TraceWindow,
} from "./params";

const WINDOW_LABELS: Record<TraceWindow, string> = { "24h": "24 h", "7d": "7 d", "30d": "30 d" };

/** Timeline rows rendered on the page; the diagnosis and the reason counts still cover the whole window. */
const TIMELINE_ROWS = 200;

/** The trace page of one ClientID: diagnosis, reason breakdown and the sessions as a timeline. */
export function ClientTrace({
  clientId,
  window,
  history,
  blind = [],
  findings,
  now,
}: {
  clientId: string;
  window: TraceWindow;
  history: ClientHistory;
  /** intervals brokerwatch could not see the client's brokers */
  blind?: BlindWindow[];
  findings: Finding[];
  now: Date;
}) {
  const header = (
    <PageHeader
      title={
        <span title={clientId} data-testid="client-id">
          <ClientIdText clientId={clientId} />
        </span>
      }
      subtitle={
        <>
          <TextLink href="/clients">Clients</TextLink> · connection history over the last {describeRange(window)}
          {history.total > 0 && (
            <>
              {" "}
              · {history.total.toLocaleString("en")} {history.total === 1 ? "event" : "events"}
            </>
          )}
        </>
      }
      actions={
        <>
          <WindowSelector clientId={clientId} current={window} />
          {history.total > 0 && (
            <a href={clientCsvHref(clientId, window)} className={secondaryButtonClass} download>
              Export CSV
            </a>
          )}
        </>
      }
    />
  );

  if (history.total === 0) {
    const seenEarlier =
      history.lastSeen !== null && now.getTime() - history.lastSeen.getTime() <= rangeSeconds("30d") * 1000;
    return (
      <div className="mx-auto max-w-6xl">
        {header}
        <EmptyState>
          <p data-testid="no-events">
            No events for this ClientID in the last {describeRange(window)} — check the spelling; ClientIDs are
            case-sensitive.
          </p>
          {history.lastSeen && (
            <p className="mt-2">
              It was last seen <Time value={history.lastSeen} />
              {seenEarlier && window !== "30d" && (
                <>
                  {" "}
                  — <TextLink href={traceHref(clientId, "30d")}>show the last 30 days</TextLink>
                </>
              )}
              .
            </p>
          )}
          <p className="mt-2">
            <TextLink href={clientsHref({ q: clientId.slice(0, Math.max(1, Math.min(clientId.length - 1, 8))) })}>
              Search ClientIDs starting like this one
            </TextLink>
          </p>
        </EmptyState>
      </div>
    );
  }

  // Rendering thousands of rows costs more than everything else on the page (bench/dashboard):
  // show the newest ones, plus any the diagnosis cites so its evidence links always land.
  const cited = new Set(findings.flatMap((f) => f.evidence.map((e) => e.eventId)));
  const isCited = (event: { id: number } | null) => event !== null && cited.has(event.id);
  const citedEntry = (entry: (typeof history.timeline)[number]) =>
    entry.kind === "session" ? isCited(entry.session.start) || isCited(entry.session.end) : isCited(entry.event);
  // alike sessions in a row fold into one run; a cited session stays a row of its own
  const folded = foldRuns(history.timeline, citedEntry);
  const shownTimeline = folded.filter((entry, i) => i < TIMELINE_ROWS || (entry.kind !== "run" && citedEntry(entry)));
  return (
    <div className="mx-auto max-w-6xl space-y-6">
      {header}
      {history.truncated && (
        <p className="rounded-md bg-amber-50 px-3 py-2 text-sm text-amber-800 dark:bg-amber-950 dark:text-amber-300">
          This window holds {history.total.toLocaleString("en")} events; the newest{" "}
          {history.events.length.toLocaleString("en")} are shown and diagnosed. Choose a shorter window to see the rest.
        </p>
      )}
      <Card title={`Sessions over the last ${describeRange(window)}`}>
        <SessionBar
          sessions={history.sessions}
          blind={blind}
          from={now.getTime() - rangeSeconds(window) * 1000}
          to={now.getTime()}
        />
      </Card>
      <div className="grid gap-6 lg:grid-cols-3">
        <Card title="Diagnosis" className="lg:col-span-2">
          <DiagnosisPanel findings={findings} />
        </Card>
        <Card title="Reasons">
          <ReasonBreakdown breakdown={history.breakdown} />
        </Card>
      </div>
      <Card title="Sessions">
        <Timeline entries={shownTimeline} now={now} />
        {shownTimeline.length < folded.length && (
          <p className="mt-6 text-sm text-zinc-600 dark:text-zinc-400">
            Showing the newest {TIMELINE_ROWS} of {folded.length.toLocaleString("en")} rows (and every row the
            diagnosis points at). Export CSV for all of them.
          </p>
        )}
      </Card>
    </div>
  );
}

function WindowSelector({ clientId, current }: { clientId: string; current: TraceWindow }) {
  return (
    <nav
      aria-label="Time window"
      className="inline-flex rounded-md text-sm ring-1 ring-zinc-300 dark:ring-zinc-700"
      data-testid="window-selector"
    >
      {WINDOWS.map((w) => (
        <Link
          key={w}
          href={traceHref(clientId, w)}
          aria-current={w === current ? "page" : undefined}
          className="px-3 py-1.5 font-medium text-zinc-700 first:rounded-l-md last:rounded-r-md hover:bg-zinc-100 focus-visible:outline-2 focus-visible:outline-sky-500 aria-[current=page]:bg-sky-700 aria-[current=page]:text-white dark:text-zinc-200 dark:hover:bg-zinc-800"
        >
          {WINDOW_LABELS[w]}
        </Link>
      ))}
    </nav>
  );
}
