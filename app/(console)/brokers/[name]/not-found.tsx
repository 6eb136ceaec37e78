import { EmptyState, TextLink } from "@/components/ui";

export default function BrokerNotFound() {
  return (
    <div className="mx-auto max-w-6xl">
      <h1 className="mb-6 text-2xl font-semibold tracking-tight">Broker not found</h1>
      <EmptyState>
        No broker by that name is monitored. See <TextLink href="/brokers">the list of brokers</TextLink>; names are
        case-sensitive.
      </EmptyState>
    </div>
  );
}
