import { PageHeader } from "@/components/ui";
import { LoadingCards } from "@/components/clients/loading";

export default function Loading() {
  return (
    <div className="mx-auto max-w-6xl">
      <PageHeader title="Clients" subtitle="Loading…" />
      <LoadingCards cards={2} />
    </div>
  );
}
