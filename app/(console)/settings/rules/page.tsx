import Link from "next/link";
import { RuleEditor } from "@/components/alerts/rule-editor";
import { Notice, SectionHeader, SourceBadge } from "@/components/settings/parts";
import {
  Badge,
  buttonClass,
  CardTable,
  EmptyState,
  formatDuration,
  rowClass,
  tdClass,
  type Tone,
} from "@/components/ui";
import { requireUser } from "@/lib/auth/page";
import { getRuntime } from "@/lib/runtime";

export const dynamic = "force-dynamic";
export const metadata = { title: "Rules · Settings" };

const STATE_TONE: Record<string, Tone> = { firing: "bad", pending: "warn", inactive: "neutral" };

/**
 * The rules the engine runs now: built-in, from brokerwatch.yaml and made in the UI. `?new` mounts
 * the rule editor (components/alerts/rule-editor.tsx, shared with Alerts → Rules); built-in and
 * file rules are changed in brokerwatch.yaml.
 */
export default async function RuleSettingsPage({ searchParams }: { searchParams: Promise<{ new?: string }> }) {
  const user = await requireUser();
  const creating = (await searchParams).new !== undefined;
  const rules = getRuntime().alertEngine?.ruleStates() ?? null;
  const canEdit = user.role === "admin";
  return (
    <section>
      <SectionHeader
        title="Rules"
        description={
          <>
            Alert rules in Prometheus&apos; shape. A rule in brokerwatch.yaml with a built-in rule&apos;s name replaces
            it; <code className="text-xs">enabled: false</code> turns one off.
          </>
        }
        actions={
          canEdit && !creating ? (
            <Link href="/settings/rules?new" className={buttonClass}>
              New rule
            </Link>
          ) : undefined
        }
      />
      {!canEdit && (
        <Notice className="mb-4" testId="read-only-note">
          You are signed in as a <strong>viewer</strong>: you can see the rules but not change them.
        </Notice>
      )}
      {canEdit && creating && (
        <div className="mb-6 rounded-lg border border-zinc-200 bg-white p-4 dark:border-zinc-800 dark:bg-zinc-900">
          <h3 className="mb-3 text-base font-semibold">New alert rule</h3>
          <RuleEditor afterSaveHref="/settings/rules" />
        </div>
      )}
      {rules === null ? (
        <EmptyState>The alert engine is not running, so there are no rules to show.</EmptyState>
      ) : rules.length === 0 ? (
        <EmptyState>No rules: every built-in rule is turned off and none is configured.</EmptyState>
      ) : (
        <CardTable columns={["Rule", "Expression", "For", "Severity", "State"]} className="min-w-[40rem]">
          {rules.map((r) => (
            <tr key={`${r.source}:${r.name}`} className={rowClass} data-rule-row={r.name}>
              <td className={tdClass}>
                <div className="flex flex-wrap items-center gap-1.5">
                  <span className="font-medium break-all">{r.name}</span>
                  <SourceBadge source={r.source} />
                </div>
                {r.lastError && <p className="mt-1 text-xs text-red-700 dark:text-red-400">{r.lastError}</p>}
              </td>
              <td className={tdClass}>
                <code className="font-mono text-xs break-all whitespace-pre-wrap">{r.expr ?? "—"}</code>
              </td>
              <td className={`${tdClass} whitespace-nowrap`}>{r.forSeconds ? formatDuration(r.forSeconds) : "—"}</td>
              <td className={tdClass}>{r.labels.severity ?? "—"}</td>
              <td className={tdClass}>
                {r.enabled ? (
                  <Badge tone={STATE_TONE[r.state] ?? "neutral"}>
                    {r.state}
                    {r.alerts.firing + r.alerts.pending > 0 && ` (${r.alerts.firing + r.alerts.pending})`}
                  </Badge>
                ) : (
                  <Badge tone="neutral">off</Badge>
                )}
              </td>
            </tr>
          ))}
        </CardTable>
      )}
    </section>
  );
}
