import { PageHeader } from "@/components/ui";
import { LoadingCards } from "@/components/clients/loading";

export default function Loading() {
  return (
    <div className="mx-auto max-w-6xl">
      <PageHeader title="Client" subtitle="Loading the connection history…" />
      <LoadingCards cards={3} />
    </div>
  );
}
