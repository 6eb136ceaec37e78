import { listBrokers } from "@/db/brokers";
import { getRuntime } from "@/lib/runtime";
import { BrokerTable } from "@/components/broker-table";

export const dynamic = "force-dynamic";
export const metadata = { title: "Brokers" };

export default async function BrokersPage() {
  const brokers = await listBrokers(getRuntime().database.db, { includeDisabled: true });
  return (
    <div className="mx-auto max-w-6xl">
      <h1 className="mb-6 text-2xl font-semibold tracking-tight">Brokers</h1>
      <BrokerTable brokers={brokers} />
    </div>
  );
}
