import Link from "next/link";
import { AutoRefresh } from "@/components/alerts/auto-refresh";
import { hasProblem, ruleViews, uiAlertRules } from "@/lib/alerts/console";
import { Expr } from "@/components/alerts/expr";
import { RuleImport } from "@/components/alerts/rule-import";
import { promDuration } from "@/components/alerts/format";
import { LabelChips } from "@/components/alerts/labels";
import { Time } from "@/components/time";
import {
  ACTIONS_COLUMN,
  Badge,
  buttonClass,
  CardTable,
  secondaryButtonClass,
  EmptyState,
  rowClass,
  tdClass,
  TextLink,
} from "@/components/ui";
import type { RuleView } from "@/lib/alerts/engine";
import { requireUser } from "@/lib/auth/page";

export const metadata = { title: "Alert rules" };
export const dynamic = "force-dynamic";

const STATE_ORDER = { firing: 0, pending: 1, inactive: 2 } as const;

/** Rules that need attention first: problems, then firing, pending, quiet, and switched off last. */
function order(a: RuleView, b: RuleView): number {
  return (
    Number(b.enabled) - Number(a.enabled) ||
    Number(hasProblem(b)) - Number(hasProblem(a)) ||
    STATE_ORDER[a.state] - STATE_ORDER[b.state] ||
    a.name.localeCompare(b.name)
  );
}

export default async function AlertRulesPage({ searchParams }: { searchParams: Promise<{ denied?: string }> }) {
  const user = await requireUser();
  const [uiRows, { denied }] = await Promise.all([uiAlertRules(user), searchParams]);
  const admin = user.role === "admin";
  const idByName = new Map(uiRows.map((r) => [r.name, r.id]));
  const rules = ruleViews(user).sort(order);

  return (
    <>
      <AutoRefresh />
      <div className="mb-4 flex flex-wrap items-center justify-between gap-3">
        <p className="text-sm text-zinc-600 dark:text-zinc-400">
          Built-in rules and rules from <code>brokerwatch.yaml</code> are read-only here: change them in the file. Rules
          created in the UI can be edited{admin ? "" : " by an admin"}.
        </p>
        <div className="flex flex-wrap items-center gap-3">
          <a href="/api/rules/export" className={secondaryButtonClass} download>
            Export as Prometheus rule file
          </a>
          {admin && (
            <Link href="/alerts/rules/new" className={buttonClass}>
              New rule
            </Link>
          )}
        </div>
      </div>
      {admin && <RuleImport />}
      {denied && (
        <p role="alert" className="mb-4 text-sm text-red-600">
          Creating and editing rules needs an admin; you are signed in as a viewer.
        </p>
      )}
      {rules.length === 0 ? (
        <EmptyState>The alert engine is not running, so there are no rules to show.</EmptyState>
      ) : (
        <CardTable columns={["Rule", "State", "Last evaluation", ACTIONS_COLUMN]}>
          {rules.map((rule) => (
            <RuleRow
              key={`${rule.source}/${rule.name}`}
              rule={rule}
              editId={admin && rule.source === "ui" && rule.kind !== "record" ? idByName.get(rule.name) : undefined}
            />
          ))}
        </CardTable>
      )}
    </>
  );
}

function SourceBadge({ source }: { source: RuleView["source"] }) {
  if (source === "builtin") {
    return (
      <Badge tone="neutral" title="Shipped with brokerwatch; override or disable it in brokerwatch.yaml">
        built-in
      </Badge>
    );
  }
  if (source === "file") {
    return (
      <Badge tone="info" title="Read-only here: edit brokerwatch.yaml and restart">
        from brokerwatch.yaml
      </Badge>
    );
  }
  return <Badge tone="good">created in the UI</Badge>;
}

function RuleRow({ rule, editId }: { rule: RuleView; editId: number | undefined }) {
  const positioned = rule.loadErrors.find((e) => e.position !== null);
  const otherErrors = rule.loadErrors.filter((e) => e !== positioned);
  const problem = hasProblem(rule);
  return (
    <tr
      id={`rule-${rule.name}`}
      data-rule={rule.name}
      className={`${rowClass} scroll-mt-4 target:bg-sky-50 dark:target:bg-sky-950 ${rule.enabled ? "" : "opacity-60"}`}
    >
      <td className={`${tdClass} max-w-xl`}>
        <div className="mb-1 flex flex-wrap items-center gap-2">
          <span className="font-medium">{rule.name}</span>
          <SourceBadge source={rule.source} />
          {rule.kind === "record" && (
            <Badge tone="neutral" title="A recording rule: it stores its result as the series of this name">
              recording
            </Badge>
          )}
          {rule.group && <span className="text-xs text-zinc-600 dark:text-zinc-400">group {rule.group}</span>}
          {!rule.enabled && <Badge tone="neutral">disabled</Badge>}
        </div>
        {rule.expr !== null && (
          <div className="mb-1">
            <Expr expr={rule.expr} position={positioned?.position ?? null} />
          </div>
        )}
        <p className="mb-1 text-xs text-zinc-600 dark:text-zinc-400">
          {rule.kind === "record"
            ? `records every ${promDuration(rule.intervalSeconds ?? 60)}`
            : `for ${promDuration(rule.forSeconds)}`}
          {rule.kind !== "record" &&
            rule.keepFiringForSeconds > 0 &&
            ` · keep firing for ${promDuration(rule.keepFiringForSeconds)}`}
        </p>
        <LabelChips labels={rule.labels} all />
        {problem && (
          <ul className="mt-2 space-y-1 text-xs text-red-700 dark:text-red-400" aria-label="errors">
            {positioned && <li>{positioned.message}</li>}
            {otherErrors.map((e) => (
              <li key={e.message}>{e.message}</li>
            ))}
            {rule.lastError && !rule.loadErrors.some((e) => e.message === rule.lastError) && (
              <li>Last evaluation failed: {rule.lastError}</li>
            )}
          </ul>
        )}
      </td>
      <td className={`${tdClass} whitespace-nowrap`}>
        {!rule.enabled ? (
          <span className="text-zinc-600 dark:text-zinc-400">—</span>
        ) : problem && rule.lastEvaluatedAt === null ? (
          <Badge tone="bad">not evaluated</Badge>
        ) : (
          <div className="flex flex-col items-start gap-1">
            <Badge tone={rule.state === "firing" ? "bad" : rule.state === "pending" ? "warn" : "good"}>
              {rule.state === "inactive" ? "ok" : rule.state}
            </Badge>
            {(rule.alerts.firing > 0 || rule.alerts.pending > 0) && (
              <span className="text-xs text-zinc-600 dark:text-zinc-400">
                {rule.alerts.firing} firing · {rule.alerts.pending} pending
              </span>
            )}
          </div>
        )}
      </td>
      <td className={`${tdClass} whitespace-nowrap text-xs`}>
        {rule.lastEvaluatedAt ? (
          <>
            <Time value={rule.lastEvaluatedAt} relative />
            <div className="text-zinc-600 dark:text-zinc-400 tabular-nums">
              took {rule.lastDurationMs === null ? "—" : `${rule.lastDurationMs.toFixed(1)} ms`}
            </div>
          </>
        ) : (
          <span className="text-zinc-600 dark:text-zinc-400">never</span>
        )}
      </td>
      <td className={`${tdClass} text-right whitespace-nowrap`}>
        {editId !== undefined && <TextLink href={`/alerts/rules/${editId}`}>Edit</TextLink>}
      </td>
    </tr>
  );
}
