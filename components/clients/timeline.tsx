import type { ClientEvent } from "@/lib/clients";
import type { Session } from "@/lib/diagnosis";
import { describeRun, type FoldedEntry, type SessionRun } from "@/lib/timeline-runs";
import { Time } from "@/components/time";
import { Badge, formatDuration, tableClass, TableHead } from "@/components/ui";
import { ReasonBadge, endpointLabel, protocolLabel, sessionLength } from "./format";

/**
 * A client's sessions, newest first: connected → disconnected pairs with everything the connect
 * said, and failed connects and dropped messages in place between them. Every event has an
 * anchor `#event-<id>` for the diagnosis' evidence links; the row of the linked event lights up.
 */
export function Timeline({ entries, now }: { entries: FoldedEntry<ClientEvent>[]; now: Date }) {
  return (
    <div tabIndex={0} className="relative -mx-4 -my-4 overflow-x-auto">
      <table className={tableClass} data-testid="timeline">
        <TableHead
          columns={[
            "Connected",
            "Disconnected",
            "Duration",
            "Reason",
            "From",
            "Username",
            "Protocol",
            { label: "k", title: "keepalive" },
            "Broker",
          ]}
        />
        <tbody className={bodyClass}>
          {entries.map((entry) =>
            entry.kind === "session" ? (
              <SessionRow
                key={`s-${(entry.session.start ?? entry.session.end)!.id}`}
                session={entry.session}
                now={now}
              />
            ) : entry.kind === "run" ? (
              <RunRow key={`r-${(entry.sessions[0]!.start ?? entry.sessions[0]!.end)!.id}`} run={entry} />
            ) : (
              <EventRow key={`e-${entry.event.id}`} event={entry.event} />
            ),
          )}
        </tbody>
      </table>
    </div>
  );
}

/**
 * How every row and cell looks (format.tsx cellClass, and the row of a linked event lit up), set
 * once on the table body: repeated on each of 200+ rows and their nine cells, the same classes
 * were a third of the trace page's bytes, which the page renders twice (HTML and RSC payload).
 */
const bodyClass = [
  "[&>tr]:border-b [&>tr]:border-zinc-100 [&>tr:last-child]:border-0 dark:[&>tr]:border-zinc-800",
  "[&>tr:has(:target)]:bg-amber-50 dark:[&>tr:has(:target)]:bg-amber-950/50",
  "[&>tr>td]:px-3 [&>tr>td]:py-2 [&>tr>td]:align-middle",
].join(" ");

/** The anchor an evidence link points at; scroll margin keeps it clear of the top edge. */
function Anchor({ id }: { id: number }) {
  return <span id={`event-${id}`} className="scroll-mt-24" />;
}

function SessionRow({ session: s, now }: { session: Session<ClientEvent>; now: Date }) {
  const openFor = s.open && s.startedAt ? (now.getTime() - s.startedAt.getTime()) / 1000 : null;
  return (
    <tr data-session data-start-event={s.start?.id} data-end-event={s.end?.id} data-open={s.open || undefined}>
      <td className="whitespace-nowrap">
        {s.start && <Anchor id={s.start.id} />}
        {s.start ? (
          <Time value={s.start.ts} />
        ) : s.startedAt ? (
          <span title="the connect was not recorded (before the window, or while the collector could not see the broker); dated from the session length">
            ≈ <Time value={s.startedAt} />
          </span>
        ) : (
          <span className="text-zinc-600 dark:text-zinc-400">not recorded</span>
        )}
      </td>
      <td className="whitespace-nowrap">
        {s.end && <Anchor id={s.end.id} />}
        {s.end ? (
          <Time value={s.end.ts} />
        ) : s.open ? (
          <Badge tone="good">connected now</Badge>
        ) : (
          <span
            className="text-zinc-600 dark:text-zinc-400"
            title="a later connect came without a disconnect for this one: its line was lost"
          >
            not recorded
          </span>
        )}
      </td>
      <td className="whitespace-nowrap tabular-nums">
        {s.seconds !== null ? (
          sessionLength(s.seconds)
        ) : openFor !== null ? (
          <span className="text-zinc-600 dark:text-zinc-400">{formatDuration(openFor)} so far</span>
        ) : (
          "—"
        )}
      </td>
      <td>{s.end ? <ReasonBadge reason={s.reason} /> : null}</td>
      <td className="font-mono text-xs whitespace-nowrap">{endpointLabel(s.address, s.port)}</td>
      <td className="max-w-40 break-all">{s.username ?? <span className="text-zinc-600 dark:text-zinc-400">—</span>}</td>
      <td className="whitespace-nowrap">{protocolLabel(s.protocolVersion)}</td>
      <td className="whitespace-nowrap tabular-nums">{s.keepalive !== null ? `${s.keepalive} s` : "—"}</td>
      <td>{s.broker}</td>
    </tr>
  );
}

/** Runs show at most this many of their sessions when opened; the CSV has every one. */
const RUN_ROWS = 50;

/** Many alike sessions as one row, opening into a compact list of them. */
function RunRow({ run }: { run: SessionRun<ClientEvent> }) {
  const shown = run.sessions.slice(0, RUN_ROWS);
  return (
    <tr data-run={run.sessions.length}>
      <td colSpan={9}>
        <details>
          <summary className="cursor-pointer rounded focus-visible:outline-2 focus-visible:outline-sky-500">
            <span className="inline-flex flex-wrap items-center gap-2">
              <Badge tone="warn">{run.sessions.length}×</Badge>
              <ReasonBadge reason={run.reason} />
              <span className="font-medium">{describeRun(run, (s) => sessionLength(s))}</span>
              <span className="text-xs text-zinc-600 dark:text-zinc-400">
                {run.from && <Time value={run.from} />} → {run.to && <Time value={run.to} />} · {run.broker}
              </span>
            </span>
          </summary>
          <ul className="mt-2 grid gap-x-6 gap-y-0.5 font-mono text-xs sm:grid-cols-2 lg:grid-cols-3">
            {shown.map((s) => (
              <li key={(s.start ?? s.end)!.id}>
                {s.start && <Anchor id={s.start.id} />}
                {s.end && <Anchor id={s.end.id} />}
                {s.startedAt && <Time value={s.startedAt} />} · {s.seconds !== null ? sessionLength(s.seconds) : "—"} ·{" "}
                {endpointLabel(s.address, s.port)}
              </li>
            ))}
          </ul>
          {run.sessions.length > shown.length && (
            <p className="mt-1 text-xs text-zinc-600 dark:text-zinc-400">
              and {run.sessions.length - shown.length} more (Export CSV has every one)
            </p>
          )}
        </details>
      </td>
    </tr>
  );
}

function EventRow({ event: e }: { event: ClientEvent }) {
  const failed = e.type === "connect_failed";
  return (
    <tr className="bg-zinc-50/60 dark:bg-zinc-950/40" data-event={e.type} data-event-id={e.id}>
      <td className="whitespace-nowrap">
        <Anchor id={e.id} />
        <Time value={e.ts} />
      </td>
      <td colSpan={3}>
        <span className="inline-flex flex-wrap items-center gap-2">
          {failed ? (
            <>
              <Badge tone="bad">connect failed</Badge>
              <ReasonBadge reason={e.reason} />
            </>
          ) : (
            <Badge tone="warn">messages dropped</Badge>
          )}
        </span>
      </td>
      <td className="font-mono text-xs whitespace-nowrap">{endpointLabel(e.address, e.port)}</td>
      <td className="max-w-40 break-all">{e.username ?? <span className="text-zinc-600 dark:text-zinc-400">—</span>}</td>
      <td className="whitespace-nowrap">{protocolLabel(e.protocolVersion)}</td>
      <td className="tabular-nums">{e.keepalive !== null ? `${e.keepalive} s` : "—"}</td>
      <td>{e.broker}</td>
    </tr>
  );
}
