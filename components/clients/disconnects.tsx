import Link from "next/link";
import type { ReactNode } from "react";
import type { DisconnectPage } from "@/lib/clients";
import { DISCONNECT_REASONS } from "@/lib/events";
import { Time } from "@/components/time";
import {
  buttonClass,
  Card,
  EmptyState,
  inputClass,
  rowClass,
  secondaryButtonClass,
  tableClass,
  TableHead,
} from "@/components/ui";
import { ClientLink, ReasonBadge, cellClass, endpointLabel, sessionLength } from "./format";
import { RANGES, clientsHref, disconnectsCsvHref, type ClientsParams } from "./params";

const RANGE_LABELS: Record<(typeof RANGES)[number], string> = {
  "1h": "Last hour",
  "24h": "Last 24 hours",
  "7d": "Last 7 days",
  "30d": "Last 30 days",
};

const selectClass = `${inputClass} bg-white dark:bg-zinc-900`;

/** Recent disconnects across clients, filtered by the URL, a page at a time, exportable as CSV. */
export function RecentDisconnects({
  params,
  page,
  brokers,
}: {
  params: ClientsParams;
  page: DisconnectPage;
  brokers: string[];
}) {
  const failed = params.type === "connect_failed";
  return (
    <Card
      title={failed ? "Recent failed connects" : "Recent disconnects"}
      actions={
        <a
          href={disconnectsCsvHref(params)}
          className={`${secondaryButtonClass} py-1 text-xs`}
          data-testid="disconnects-csv"
          download
        >
          Export CSV
        </a>
      }
    >
      <form method="get" action="/clients" className="mb-4 flex flex-wrap items-end gap-2" aria-label="Filters">
        {params.q && <input type="hidden" name="q" value={params.q} />}
        <Filter label="Show">
          <select name="type" defaultValue={params.type} className={selectClass}>
            <option value="disconnected">Disconnects</option>
            <option value="connect_failed">Failed connects</option>
          </select>
        </Filter>
        <Filter label="Reason">
          <select name="reason" defaultValue={params.reason ?? ""} className={selectClass}>
            <option value="">Any reason</option>
            {DISCONNECT_REASONS.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </Filter>
        <Filter label="Broker">
          <select name="broker" defaultValue={params.broker ?? ""} className={selectClass}>
            <option value="">Any broker</option>
            {/* a broker in a shared link that is no longer configured still shows as chosen */}
            {[...new Set([...brokers, ...(params.broker ? [params.broker] : [])])].map((b) => (
              <option key={b} value={b}>
                {b}
              </option>
            ))}
          </select>
        </Filter>
        <Filter label="Time">
          <select name="range" defaultValue={params.range} className={selectClass}>
            {RANGES.map((r) => (
              <option key={r} value={r}>
                {RANGE_LABELS[r]}
              </option>
            ))}
          </select>
        </Filter>
        <button type="submit" className={buttonClass}>
          Apply
        </button>
      </form>
      {page.events.length === 0 ? (
        <EmptyState>
          No {failed ? "failed connects" : "disconnects"}
          {params.reason ? ` with reason ${params.reason}` : ""}
          {params.broker ? ` on ${params.broker}` : ""} in the {RANGE_LABELS[params.range].toLowerCase()}.
        </EmptyState>
      ) : (
        <div tabIndex={0} className="relative overflow-x-auto">
          <table className={tableClass} data-testid="disconnects">
            <TableHead columns={["Time", "ClientID", "Reason", ...(failed ? [] : ["Session"]), "From", "Broker"]} />
            <tbody>
              {page.events.map((e) => (
                <tr key={e.id} className={rowClass} data-event-id={e.id}>
                  <td className={`${cellClass} whitespace-nowrap`}>
                    <Time value={e.ts} />
                  </td>
                  <td className={`${cellClass} max-w-80`}>
                    <ClientLink clientId={e.clientId} />
                  </td>
                  <td className={cellClass}>
                    <ReasonBadge reason={e.reason} />
                  </td>
                  {!failed && <td className={`${cellClass} tabular-nums`}>{sessionLength(e.sessionSeconds)}</td>}
                  <td className={`${cellClass} font-mono text-xs`}>{endpointLabel(e.address, e.port)}</td>
                  <td className={cellClass}>{e.broker}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {(page.newer || page.older) && (
        <nav aria-label="Pages" className="mt-3 flex justify-between gap-2">
          {page.newer ? (
            <Link
              href={clientsHref({ ...params, before: undefined, after: page.newer })}
              className={secondaryButtonClass}
              rel="prev"
            >
              ← Newer
            </Link>
          ) : (
            <span />
          )}
          {page.older && (
            <Link
              href={clientsHref({ ...params, after: undefined, before: page.older })}
              className={secondaryButtonClass}
              rel="next"
            >
              Older →
            </Link>
          )}
        </nav>
      )}
    </Card>
  );
}

function Filter({ label, children }: { label: string; children: ReactNode }) {
  return (
    <label className="text-sm">
      <span className="mb-1 block text-xs font-medium text-zinc-600 dark:text-zinc-400">{label}</span>
      {children}
    </label>
  );
}
