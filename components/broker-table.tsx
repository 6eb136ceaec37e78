import Link from "next/link";
import type { BrokerRow } from "@/lib/brokers";
import { displayUrl } from "./overview/format";
import { StatusBadge } from "./status-badge";
import { Time } from "./time";
import { Badge, CardTable, formatNumber, rowClass, tdClass } from "./ui";

/** Every configured broker, with where it is and what the collector last knew; each links to its page. */
export function BrokerTable({ brokers }: { brokers: BrokerRow[] }) {
  return (
    <CardTable
      columns={["Broker", "Status", "Dialect", "URL", { label: "Capacity", className: "text-right" }, "Last seen"]}
      testId="broker-table"
    >
      {brokers.map((b) => (
        <tr key={b.name} className={rowClass} data-broker={b.name}>
          <td className={tdClass}>
            <Link
              href={`/brokers/${encodeURIComponent(b.name)}`}
              className="font-medium text-sky-700 underline-offset-2 hover:underline focus-visible:outline-2 focus-visible:outline-sky-500 dark:text-sky-400"
            >
              {b.name}
            </Link>
            {b.cluster && <div className="text-xs text-zinc-600 dark:text-zinc-400">cluster {b.cluster}</div>}
          </td>
          <td className={tdClass}>
            <span className="flex flex-wrap items-center gap-1.5">
              {b.enabled ? <StatusBadge status={b.status} /> : <Badge>disabled</Badge>}
              {b.enabled && b.statusSince && (
                <span className="text-xs text-zinc-600 dark:text-zinc-400">
                  since <Time value={b.statusSince} relative />
                </span>
              )}
            </span>
          </td>
          <td className={`${tdClass} text-zinc-600 dark:text-zinc-400`}>
            {b.detectedDialect ?? b.dialect}
            {b.version && <div className="text-xs text-zinc-600 dark:text-zinc-400">{b.version}</div>}
          </td>
          <td className={`${tdClass} font-mono text-xs break-all`}>{displayUrl(b.url)}</td>
          <td className={`${tdClass} text-right tabular-nums`}>
            {b.maxConnections ? formatNumber(b.maxConnections) : <span className="text-zinc-600 dark:text-zinc-400">—</span>}
          </td>
          <td className={`${tdClass} whitespace-nowrap`}>
            <Time value={b.lastSeenAt} relative />
          </td>
        </tr>
      ))}
    </CardTable>
  );
}
