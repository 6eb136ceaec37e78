import { AutoRefresh } from "@/components/alerts/auto-refresh";
import { activeAlerts, silences, silenceStatus, silencesMuting } from "@/lib/alerts/console";
import { matcherText } from "@/components/alerts/format";
import { ExpireSilenceButton } from "@/components/alerts/silence-form";
import { Time } from "@/components/time";
import { ACTIONS_COLUMN, Badge, CardTable, EmptyState, rowClass, tdClass, TextLink } from "@/components/ui";
import type { SilenceRow } from "@/db/schema";
import { requireUser } from "@/lib/auth/page";

export const metadata = { title: "Silences" };
export const dynamic = "force-dynamic";

/** Expired silences shown; older ones stay in the database and GET /api/silences. */
const EXPIRED_SHOWN = 50;

export default async function SilencesPage() {
  const user = await requireUser();
  const [all, alerts] = await Promise.all([silences(user), activeAlerts(user)]);
  const now = new Date();
  const current = all.filter((s) => silenceStatus(s, now) !== "expired");
  const expired = all.filter((s) => silenceStatus(s, now) === "expired").slice(0, EXPIRED_SHOWN);
  const admin = user.role === "admin";
  const muting = (s: SilenceRow) => alerts.filter((a) => silencesMuting(a.labels, [s], now).length > 0).length;

  return (
    <>
      <AutoRefresh />
      <p className="mb-4 text-sm text-zinc-600 dark:text-zinc-400">
        A silence mutes notifications for the alerts matching all its matchers; the alerts are still tracked and shown.
        {admin ? (
          <>
            {" "}
            Create one with <strong>Silence</strong> on an alert under{" "}
            <TextLink href="/alerts">Firing &amp; pending</TextLink>.
          </>
        ) : (
          " Only an admin can create or expire silences."
        )}
      </p>
      <section aria-label="Active silences" className="mb-8">
        <h2 className="mb-2 text-sm font-medium text-zinc-600 dark:text-zinc-400 uppercase">Active and upcoming ({current.length})</h2>
        {current.length === 0 ? (
          <EmptyState>No silence is active: every firing alert is notified.</EmptyState>
        ) : (
          <SilenceTable rows={current} now={now} admin={admin} muting={muting} />
        )}
      </section>
      <section aria-label="Expired silences">
        <h2 className="mb-2 text-sm font-medium text-zinc-600 dark:text-zinc-400 uppercase">Expired</h2>
        {expired.length === 0 ? (
          <EmptyState>Expired silences are kept here, so you can see who muted what and why.</EmptyState>
        ) : (
          <SilenceTable rows={expired} now={now} admin={false} muting={null} />
        )}
      </section>
    </>
  );
}

function SilenceTable({
  rows,
  now,
  admin,
  muting,
}: {
  rows: SilenceRow[];
  now: Date;
  admin: boolean;
  muting: ((s: SilenceRow) => number) | null;
}) {
  return (
    <CardTable columns={["Matchers", "Window", "Created by", ACTIONS_COLUMN]}>
      {rows.map((s) => {
        const status = silenceStatus(s, now);
        const count = muting?.(s) ?? null;
        return (
          <tr key={s.id} className={rowClass} data-silence={s.id} data-status={status}>
            <td className={tdClass}>
              <ul className="flex flex-wrap gap-1">
                {s.matchers.map((m) => (
                  <li
                    key={matcherText(m)}
                    className="rounded bg-zinc-100 px-1.5 py-0.5 font-mono text-xs dark:bg-zinc-800"
                  >
                    {matcherText(m)}
                  </li>
                ))}
              </ul>
              {s.comment && <p className="mt-1 text-sm">{s.comment}</p>}
              {count !== null && (
                <p className="mt-1 text-xs text-zinc-600 dark:text-zinc-400">
                  {count === 0
                    ? "Mutes no active alert now"
                    : `Mutes ${count} active ${count === 1 ? "alert" : "alerts"} now`}
                </p>
              )}
            </td>
            <td className={`${tdClass} text-xs whitespace-nowrap`}>
              <Badge tone={status === "active" ? "info" : "neutral"}>{status}</Badge>
              <div className="mt-1">
                {status === "pending" ? "starts " : "from "}
                <Time value={s.startsAt} />
              </div>
              <div>
                {status === "expired" ? "ended " : "ends "}
                <Time value={s.endsAt} relative={status !== "expired"} />
              </div>
            </td>
            <td className={`${tdClass} text-xs`}>
              {s.createdBy}
              <div className="text-zinc-600 dark:text-zinc-400">
                <Time value={s.createdAt} relative />
              </div>
            </td>
            <td className={`${tdClass} text-right`}>{admin && <ExpireSilenceButton id={s.id} />}</td>
          </tr>
        );
      })}
    </CardTable>
  );
}
