import { listBrokers } from "@/db/brokers";
import { getRuntime } from "@/lib/runtime";
import { BrokerTable } from "@/components/broker-table";

export const dynamic = "force-dynamic";

export default async function OverviewPage() {
  const brokers = await listBrokers(getRuntime().database.db);
  const clusters = new Map<string, typeof brokers>();
  for (const b of brokers) {
    const key = b.cluster ?? "";
    clusters.set(key, [...(clusters.get(key) ?? []), b]);
  }
  return (
    <div className="mx-auto max-w-6xl">
      <h1 className="mb-6 text-2xl font-semibold tracking-tight">Overview</h1>
      {brokers.length === 0 ? (
        <p className="rounded-lg border border-dashed border-zinc-300 p-8 text-center text-zinc-500 dark:border-zinc-700">
          No brokers are monitored yet. Add one to <code>brokerwatch.yaml</code> or start with the bundled broker (unset{" "}
          <code>BUNDLED_BROKER=off</code>).
        </p>
      ) : (
        [...clusters.entries()].map(([cluster, members]) => (
          <section key={cluster} className="mb-8">
            {cluster && <h2 className="mb-2 text-sm font-medium text-zinc-500 uppercase">Cluster {cluster}</h2>}
            <BrokerTable brokers={members} />
          </section>
        ))
      )}
    </div>
  );
}
