import Link from "next/link";
import { AutoRefresh } from "@/components/alerts/auto-refresh";
import { activeAlerts, hasProblem, isRefused, ruleViews, silences, silencesMuting } from "@/lib/alerts/console";
import { formatValueWithUnit, promDuration, severityTone, valueUnit } from "@/components/alerts/format";
import { LabelChips } from "@/components/alerts/labels";
import { SilenceButton } from "@/components/alerts/silence-form";
import { Time } from "@/components/time";
import { Badge, EmptyState, TextLink } from "@/components/ui";
import type { AlertView, RuleView } from "@/lib/alerts/engine";
import { requireUser } from "@/lib/auth/page";
import { loadLatestIncidentIds } from "@/lib/incidents/pages";

export const metadata = { title: "Alerts" };
export const dynamic = "force-dynamic";

export default async function AlertsPage() {
  const user = await requireUser();
  const [alerts, allSilences] = await Promise.all([activeAlerts(user), silences(user)]);
  const rules = ruleViews(user);
  const ruleByName = new Map(rules.map((r) => [r.name, r]));
  const now = new Date();
  const evaluated = rules.filter((r) => r.enabled && !isRefused(r)).length;
  const problems = rules.filter(hasProblem);
  const firing = alerts.filter((a) => a.state === "firing");
  const pending = alerts.filter((a) => a.state === "pending");
  // An alert about a broker links to that broker's open (else last) incident.
  const incidents = await loadLatestIncidentIds(user, [
    ...new Set(alerts.map((a) => a.labels.broker).filter((b): b is string => !!b)),
  ]);

  const listProps = {
    ruleByName,
    silences: allSilences,
    now,
    admin: user.role === "admin" ? user.username : null,
    incidents,
  };
  return (
    <>
      <AutoRefresh />
      {problems.length > 0 && (
        <div
          role="status"
          className="mb-4 rounded-md border border-amber-300 bg-amber-50 px-4 py-2 text-sm text-amber-900 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-200"
        >
          {problems.length === 1 ? "1 rule has" : `${problems.length} rules have`} a problem and may not fire when it
          should: {problems.map((r) => r.name).join(", ")}. <TextLink href="/alerts/rules">See the rules</TextLink>
        </div>
      )}
      {alerts.length === 0 ? (
        <EmptyState>
          <p className="font-medium text-zinc-700 dark:text-zinc-300">No alerts firing.</p>
          <p className="mt-1">
            brokerwatch evaluates {evaluated} {evaluated === 1 ? "rule" : "rules"} every second; an alert appears here
            within a second of its condition holding, as pending while it waits out the rule&apos;s <code>for</code>,
            then as firing. Past alerts are under <TextLink href="/alerts/history">History</TextLink>.
          </p>
        </EmptyState>
      ) : (
        <div className="space-y-8">
          {firing.length > 0 && <AlertList title="Firing" alerts={firing} {...listProps} />}
          {pending.length > 0 && <AlertList title="Pending" alerts={pending} {...listProps} />}
        </div>
      )}
    </>
  );
}

function AlertList(props: {
  title: string;
  alerts: AlertView[];
  ruleByName: Map<string, RuleView>;
  silences: Awaited<ReturnType<typeof silences>>;
  now: Date;
  /** the admin's username, or null for a viewer (no Silence button) */
  admin: string | null;
  /** broker → its open or last incident */
  incidents: Map<string, number>;
}) {
  return (
    <section aria-label={props.title}>
      <h2 className="mb-2 text-sm font-medium text-zinc-600 dark:text-zinc-400 uppercase">
        {props.title} <span className="tabular-nums">({props.alerts.length})</span>
      </h2>
      <ul className="space-y-3">
        {props.alerts.map((alert) => (
          <AlertCard
            key={`${alert.rule}/${alert.fingerprint}`}
            alert={alert}
            rule={props.ruleByName.get(alert.rule)}
            mutedBy={silencesMuting(alert.labels, props.silences, props.now)}
            admin={props.admin}
            incidentId={alert.labels.broker ? props.incidents.get(alert.labels.broker) : undefined}
          />
        ))}
      </ul>
    </section>
  );
}

function AlertCard({
  alert,
  rule,
  mutedBy,
  admin,
  incidentId,
}: {
  alert: AlertView;
  rule: RuleView | undefined;
  mutedBy: Awaited<ReturnType<typeof silences>>;
  admin: string | null;
  incidentId?: number;
}) {
  const firing = alert.state === "firing";
  const severity = alert.labels.severity;
  const firesAt = rule && !firing ? new Date(alert.activeAt.getTime() + rule.forSeconds * 1000) : null;
  const mutedUntil = mutedBy.length > 0 ? new Date(Math.max(...mutedBy.map((s) => s.endsAt.getTime()))) : null;
  return (
    <li
      data-alert={alert.alertname}
      data-state={alert.state}
      className={`rounded-lg border border-l-4 border-zinc-200 bg-white p-4 dark:border-zinc-800 dark:bg-zinc-900 ${
        mutedUntil ? "border-l-zinc-400" : firing ? "border-l-red-500" : "border-l-amber-400"
      }`}
    >
      <div className="flex flex-wrap items-start justify-between gap-x-6 gap-y-2">
        <div className="min-w-0 flex-1 space-y-1.5">
          <div className="flex flex-wrap items-center gap-2">
            <Badge tone={firing ? "bad" : "warn"}>{alert.state}</Badge>
            <Link
              href={`/alerts/rules#rule-${alert.rule}`}
              className="font-semibold hover:underline focus-visible:outline-2 focus-visible:outline-sky-500"
            >
              {alert.alertname}
            </Link>
            {severity && <Badge tone={severityTone(severity)}>{severity}</Badge>}
            {mutedUntil && (
              <Link href="/alerts/silences">
                <Badge
                  tone="neutral"
                  title={mutedBy.map((s) => `${s.createdBy}: ${s.comment || "no comment"}`).join("\n")}
                >
                  silenced until <Time value={mutedUntil} />
                </Badge>
              </Link>
            )}
          </div>
          {alert.annotations.summary && <p className="text-sm">{alert.annotations.summary}</p>}
          {incidentId !== undefined && (
            <p className="text-sm" data-testid="alert-incident">
              <TextLink href={`/incidents/${incidentId}`}>The broker&apos;s incident →</TextLink>
            </p>
          )}
          {alert.annotations.description && (
            <p className="max-w-3xl text-xs text-zinc-600 dark:text-zinc-400">{alert.annotations.description}</p>
          )}
          <LabelChips labels={alert.labels} />
        </div>
        <dl className="grid shrink-0 grid-cols-[auto_auto] gap-x-3 gap-y-0.5 text-right text-xs text-zinc-600 dark:text-zinc-400">
          <dt>{firing ? "Firing since" : "Pending since"}</dt>
          <dd className="text-zinc-900 dark:text-zinc-100">
            <Time value={firing ? alert.firedAt : alert.activeAt} relative />
          </dd>
          {firing && alert.firedAt && alert.firedAt.getTime() !== alert.activeAt.getTime() && (
            <>
              <dt>Active since</dt>
              <dd>
                <Time value={alert.activeAt} relative />
              </dd>
            </>
          )}
          {firesAt && rule && (
            <>
              <dt>Fires</dt>
              <dd title={`after for: ${promDuration(rule.forSeconds)}, if the condition still holds`}>
                <Time value={firesAt} relative />
              </dd>
            </>
          )}
          <dt>Value</dt>
          <dd className="font-mono text-zinc-900 tabular-nums dark:text-zinc-100" data-testid="alert-value">
            {formatValueWithUnit(alert.value, valueUnit(rule?.expr))}
          </dd>
        </dl>
        {/* Last in the row: the button sits at the right; the open form wraps onto a line of its own. */}
        {admin && <SilenceButton labels={alert.labels} createdBy={admin} />}
      </div>
    </li>
  );
}
