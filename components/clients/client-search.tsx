import type { ClientSearchMatch, ClientState } from "@/lib/clients";
import { Time } from "@/components/time";
import { Badge, buttonClass, Card, EmptyState, inputClass, rowClass, tableClass, TableHead } from "@/components/ui";
import { ClientLink, ReasonBadge, cellClass } from "./format";
import type { ClientsParams } from "./params";

/** The ClientID prefix search: a plain GET form, so a search is a URL that can be shared. */
export function ClientSearch({
  params,
  result,
}: {
  params: ClientsParams;
  result: { clients: ClientSearchMatch[]; more: boolean } | null;
}) {
  return (
    <Card title="Find a client">
      <form method="get" action="/clients" role="search" className="flex flex-wrap items-end gap-2">
        <label className="min-w-64 flex-1 text-sm">
          <span className="mb-1 block text-xs font-medium text-zinc-600 dark:text-zinc-400">ClientID starts with</span>
          <input
            name="q"
            type="search"
            defaultValue={params.q}
            placeholder="e.g. pump-7"
            autoComplete="off"
            spellCheck={false}
            className={`${inputClass} font-mono`}
          />
        </label>
        {/* keep the disconnect filters of the shared view */}
        {params.type !== "disconnected" && <input type="hidden" name="type" value={params.type} />}
        {params.reason && <input type="hidden" name="reason" value={params.reason} />}
        {params.broker && <input type="hidden" name="broker" value={params.broker} />}
        {params.range !== "24h" && <input type="hidden" name="range" value={params.range} />}
        <button type="submit" className={buttonClass}>
          Search
        </button>
      </form>
      {result && <SearchResults q={params.q} result={result} />}
    </Card>
  );
}

const STATE_TONE = { online: "good", offline: "bad", unknown: "neutral" } as const;

/** Online or offline since when, or unknown and why: a connect is not "online" while its broker is not watched. */
function StateCell({ now }: { now: ClientState }) {
  return (
    <span className="inline-flex items-center gap-2" data-state={now.state}>
      <Badge tone={STATE_TONE[now.state]}>{now.state}</Badge>
      {now.state === "unknown" ? (
        <span className="text-xs text-zinc-600 dark:text-zinc-400">{now.why}</span>
      ) : (
        <span className="text-xs text-zinc-600 dark:text-zinc-400">
          since <Time value={now.since} relative />
        </span>
      )}
    </span>
  );
}

function SearchResults({ q, result }: { q: string; result: { clients: ClientSearchMatch[]; more: boolean } }) {
  if (result.clients.length === 0) {
    return (
      <div className="mt-4">
        <EmptyState>
          No ClientID starts with <span className="font-mono text-zinc-700 dark:text-zinc-300">“{q}”</span>. ClientIDs
          are case-sensitive.
        </EmptyState>
      </div>
    );
  }
  return (
    <div tabIndex={0} className="relative mt-4 overflow-x-auto">
      <table className={tableClass} data-testid="client-search-results">
        <TableHead
          columns={["ClientID", "Now", "Last event", "Broker", { label: "Events", className: "text-right" }]}
        />
        <tbody>
          {result.clients.map((c) => (
            <tr key={c.clientId} className={rowClass}>
              <td className={cellClass}>
                <ClientLink clientId={c.clientId} />
              </td>
              <td className={`${cellClass} whitespace-nowrap`}>
                <StateCell now={c.now} />
              </td>
              <td className={`${cellClass} whitespace-nowrap`}>
                <span className="mr-2 text-zinc-700 dark:text-zinc-300">{c.lastType}</span>
                {c.lastReason && <ReasonBadge reason={c.lastReason} />}
                <span className="ml-2 text-xs text-zinc-600 dark:text-zinc-400">
                  <Time value={c.lastSeen} relative />
                </span>
              </td>
              <td className={cellClass}>{c.lastBroker}</td>
              <td className={`${cellClass} text-right tabular-nums`}>{c.events.toLocaleString("en")}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {result.more && (
        <p className="mt-2 text-xs text-zinc-600 dark:text-zinc-400">
          Showing the {result.clients.length} most recently seen matches; type more of the ClientID to narrow them.
        </p>
      )}
    </div>
  );
}
