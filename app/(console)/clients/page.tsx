import { brokerNames } from "@/lib/brokers";
import { recentDisconnects, searchClients } from "@/lib/clients";
import { requireUser } from "@/lib/auth/page";
import { PageHeader } from "@/components/ui";
import { ClientSearch } from "@/components/clients/client-search";
import { RecentDisconnects } from "@/components/clients/disconnects";
import { parseClientsParams, rangeSeconds, type SearchParams } from "@/components/clients/params";

export const dynamic = "force-dynamic";
export const metadata = { title: "Clients" };

/** Rows per page of the disconnects table. */
const PAGE_SIZE = 50;

/** ClientID prefix search and the recent disconnects across brokers; every filter lives in the URL. */
export default async function ClientsPage({ searchParams }: { searchParams: Promise<SearchParams> }) {
  const user = await requireUser();
  const params = parseClientsParams(await searchParams);
  const [search, page, brokers] = await Promise.all([
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
  ]);
  return (
    <div className="mx-auto max-w-6xl space-y-6">
      <PageHeader
        title="Clients"
        subtitle="Find a device by its ClientID, or see which clients disconnected lately and why."
      />
      <ClientSearch params={params} result={search} />
      <RecentDisconnects params={params} page={page} brokers={brokers} />
    </div>
  );
}
