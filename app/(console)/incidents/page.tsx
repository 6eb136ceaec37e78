import Link from "next/link";
import { IncidentList } from "@/components/incidents/incident-list";
import { Card, PageHeader } from "@/components/ui";
import { requireUser } from "@/lib/auth/page";
import { loadIncidents } from "@/lib/incidents/pages";

export const dynamic = "force-dynamic";
export const metadata = { title: "Incidents" };

const WINDOWS = [7, 30, 90] as const;

/** Every broker's outages and restarts, newest first, over a window chosen in the URL (?days=). */
export default async function IncidentsPage({ searchParams }: { searchParams: Promise<{ days?: string }> }) {
  const user = await requireUser();
  const requested = Number((await searchParams).days);
  const days = (WINDOWS as readonly number[]).includes(requested) ? requested : 30;
  const incidents = await loadIncidents(user, days);
  return (
    <div className="mx-auto max-w-6xl space-y-6">
      <PageHeader
        title="Incidents"
        subtitle="A broker going down or restarting, with what it cost: clients dropped and back, queues, findings."
        actions={
          <nav aria-label="Window" className="flex gap-1 text-sm">
            {WINDOWS.map((d) => (
              <Link
                key={d}
                href={`/incidents?days=${d}`}
                aria-current={d === days ? "page" : undefined}
                className={`rounded px-2 py-1 ring-1 ring-zinc-300 focus-visible:outline-2 focus-visible:outline-sky-500 dark:ring-zinc-700 ${
                  d === days ? "bg-zinc-800 text-white dark:bg-zinc-200 dark:text-zinc-900" : "hover:bg-zinc-100 dark:hover:bg-zinc-800"
                }`}
              >
                {d} days
              </Link>
            ))}
          </nav>
        }
      />
      <Card title={`${incidents.length} ${incidents.length === 1 ? "incident" : "incidents"} in the last ${days} days`}>
        {incidents.length === 0 ? (
          <p className="text-sm text-zinc-600 dark:text-zinc-400">
            No broker went down or restarted in the last {days} days. An incident opens when a broker stops answering
            or its uptime resets, and closes when its clients have settled.
          </p>
        ) : (
          <div className="relative overflow-x-auto" tabIndex={0} role="region" aria-label="Incidents">
            <IncidentList incidents={incidents} showBroker />
          </div>
        )}
      </Card>
    </div>
  );
}
