import { brokerNames } from "@/lib/brokers";
import { fleetHeatmap, recentDisconnects, searchClients } from "@/lib/clients";
import { requireUser } from "@/lib/auth/page";
import { PageHeader } from "@/components/ui";
import { ClientSearch } from "@/components/clients/client-search";
import { RecentDisconnects } from "@/components/clients/disconnects";
import { DisconnectHeatmap } from "@/components/clients/heatmap";
import { describeRange, parseClientsParams, rangeSeconds, type SearchParams } from "@/components/clients/params";

export const dynamic = "force-dynamic";
export const metadata = { title: "Clients" };

/** Rows per page of the disconnects table. */
const PAGE_SIZE = 50;

/** ClientID prefix search and the recent disconnects across brokers; every filter lives in the URL. */
export default async function ClientsPage({ searchParams }: { searchParams: Promise<SearchParams> }) {
  const user = await requireUser();
  const raw = await searchParams;
  const params = parseClientsParams(raw);
  const by = raw.by === "broker" ? "broker" : "prefix";
  const now = Date.now();
  const heatmapRange = params.range === "1h" ? "24h" : params.range;
  const [search, page, brokers, heatmap] = await Promise.all([
    params.q ? searchClients(user, params.q) : null,
    recentDisconnects(
      user,
      {
        type: params.type,
        reason: params.reason,
        broker: params.broker,
        from: new Date(Date.now() - rangeSeconds(params.range) * 1000),
      },
      { limit: PAGE_SIZE, before: params.before, after: params.after },
    ),
    brokerNames(user),
    fleetHeatmap(user, {
      from: new Date(now - rangeSeconds(heatmapRange) * 1000),
      to: new Date(now),
      by,
      broker: params.broker,
    }),
  ]);
  const byHref = (next: "prefix" | "broker") => {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(raw)) if (typeof v === "string" && k !== "by") query.set(k, v);
    if (next === "broker") query.set("by", "broker");
    const text = query.toString();
    return text ? `/clients?${text}` : "/clients";
  };
  return (
    <div className="mx-auto max-w-6xl space-y-6">
      <PageHeader
        title="Clients"
        subtitle="Find a device by its ClientID, or see which clients disconnected lately and why."
      />
      <ClientSearch params={params} result={search} />
      <DisconnectHeatmap heatmap={heatmap} rangeLabel={describeRange(heatmapRange)} byHref={byHref} />
      <RecentDisconnects params={params} page={page} brokers={brokers} />
    </div>
  );
}
