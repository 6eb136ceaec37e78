import Link from "next/link";
import { alertHistory, ruleViews } from "@/lib/alerts/console";
import { AutoRefresh } from "@/components/alerts/auto-refresh";
import { formatValueWithUnit, severityTone, valueUnit } from "@/components/alerts/format";
import { HistoryRangeForm } from "@/components/alerts/history-range";
import { LabelChips } from "@/components/alerts/labels";
import { Time } from "@/components/time";
import { Badge, CardTable, EmptyState, formatDuration, rowClass, tdClass } from "@/components/ui";
import { timeParam } from "@/lib/api/params";
import { requireUser } from "@/lib/auth/page";

export const metadata = { title: "Alert history" };
export const dynamic = "force-dynamic";

const PRESETS = ["1h", "6h", "24h", "7d", "30d"] as const;
const LIMIT = 500;

type SearchParams = Promise<Record<string, string | string[] | undefined>>;

/** `from`/`to` as the API takes them (RFC 3339 or a duration back from now); a bad one is reported, not fatal. */
function parseRange(params: Record<string, string | string[] | undefined>) {
  const read = (key: string) => (typeof params[key] === "string" ? (params[key] as string) : undefined);
  const problems: string[] = [];
  const parse = (key: "from" | "to") => {
    const text = read(key);
    if (!text) return undefined;
    const result = timeParam.safeParse(text);
    if (result.success) return result.data;
    problems.push(`${key}: ${result.error.issues[0].message}`);
    return undefined;
  };
  const to = parse("to") ?? new Date();
  let from = parse("from") ?? new Date(to.getTime() - 24 * 3600_000);
  if (from > to) {
    problems.push("from: must not be after to");
    from = new Date(to.getTime() - 24 * 3600_000);
  }
  return { from, to, fromText: read("from") ?? "24h", toText: read("to"), problems };
}

export default async function AlertHistoryPage({ searchParams }: { searchParams: SearchParams }) {
  const user = await requireUser();
  const range = parseRange(await searchParams);
  const rows = await alertHistory(user, { from: range.from, to: range.to, limit: LIMIT });
  const exprByRule = new Map(ruleViews(user).map((r) => [r.name, r.expr]));
  const now = Date.now();
  const presetActive = (p: string) => !range.toText && range.fromText === p;

  return (
    <>
      <AutoRefresh intervalMs={10_000} />
      <div className="mb-4 flex flex-wrap items-end justify-between gap-3">
        <nav aria-label="Time range" className="flex flex-wrap items-center gap-1 text-sm">
          <span className="mr-1 text-zinc-600 dark:text-zinc-400">Last</span>
          {PRESETS.map((p) => (
            <Link
              key={p}
              href={`/alerts/history?from=${p}`}
              aria-current={presetActive(p) ? "true" : undefined}
              className={`rounded-md px-2.5 py-1 ring-1 focus-visible:outline-2 focus-visible:outline-sky-500 ${
                presetActive(p)
                  ? "bg-sky-700 text-white ring-sky-600"
                  : "text-zinc-700 ring-zinc-300 hover:bg-zinc-100 dark:text-zinc-300 dark:ring-zinc-700 dark:hover:bg-zinc-800"
              }`}
            >
              {p}
            </Link>
          ))}
        </nav>
        <HistoryRangeForm from={range.from.toISOString()} to={range.to.toISOString()} />
      </div>
      {range.problems.length > 0 && (
        <p role="alert" className="mb-4 text-sm text-red-600">
          {range.problems.join("; ")} — showing the last 24 hours instead.
        </p>
      )}
      <p className="mb-3 text-sm text-zinc-600 dark:text-zinc-400">
        Alerts active between <Time value={range.from} /> and <Time value={range.to} />
        {rows.length === LIMIT && ` (the newest ${LIMIT})`}.
      </p>
      {rows.length === 0 ? (
        <EmptyState>
          No alert fired in this range. Each alert that fires is kept here with when it fired, when it resolved and how
          long it lasted; pending alerts that cleared before firing are not.
        </EmptyState>
      ) : (
        <CardTable
          columns={[
            "Alert",
            "Fired",
            "Resolved",
            { label: "Duration", className: "text-right" },
            { label: "Value when fired", className: "text-right" },
          ]}
        >
          {rows.map((row) => {
            const end = row.resolvedAt?.getTime() ?? now;
            return (
              <tr
                key={row.id}
                className={rowClass}
                data-history={row.rule}
                data-state={row.resolvedAt ? "resolved" : "firing"}
              >
                <td className={tdClass}>
                  <div className="mb-1 flex flex-wrap items-center gap-2">
                    <span className="font-medium">{row.rule}</span>
                    {row.labels.severity && (
                      <Badge tone={severityTone(row.labels.severity)}>{row.labels.severity}</Badge>
                    )}
                  </div>
                  {row.annotations.summary && (
                    <p className="mb-1 text-xs text-zinc-600 dark:text-zinc-400">{row.annotations.summary}</p>
                  )}
                  <LabelChips labels={row.labels} />
                </td>
                <td className={`${tdClass} whitespace-nowrap`}>
                  <Time value={row.firedAt} />
                </td>
                <td className={`${tdClass} whitespace-nowrap`}>
                  {row.resolvedAt ? <Time value={row.resolvedAt} /> : <Badge tone="bad">still firing</Badge>}
                </td>
                <td className={`${tdClass} text-right whitespace-nowrap tabular-nums`}>
                  {formatDuration((end - row.firedAt.getTime()) / 1000)}
                  {!row.resolvedAt && " so far"}
                </td>
                <td className={`${tdClass} text-right font-mono tabular-nums`}>
                  {formatValueWithUnit(
                    row.value === null ? null : Number.isNaN(Number(row.value)) ? row.value : Number(row.value),
                    valueUnit(exprByRule.get(row.rule)),
                  )}
                </td>
              </tr>
            );
          })}
        </CardTable>
      )}
    </>
  );
}
