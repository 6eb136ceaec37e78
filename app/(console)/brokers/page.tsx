import { brokerList } from "@/lib/brokers";
import { BrokerTable } from "@/components/broker-table";
import { EmptyState, PageHeader } from "@/components/ui";
import { requireUser } from "@/lib/auth/page";

export const dynamic = "force-dynamic";
export const metadata = { title: "Brokers" };

export default async function BrokersPage() {
  const brokers = await brokerList(await requireUser());
  return (
    <div className="mx-auto max-w-6xl">
      <PageHeader
        title="Brokers"
        subtitle="Every broker brokerwatch knows, including disabled ones. Open one for its charts and events."
      />
      {brokers.length === 0 ? (
        <EmptyState>
          No brokers yet. Add them under <code className="font-mono">brokers:</code> in{" "}
          <code className="font-mono">brokerwatch.yaml</code>, or leave the bundled broker on.
        </EmptyState>
      ) : (
        <BrokerTable brokers={brokers} />
      )}
    </div>
  );
}
