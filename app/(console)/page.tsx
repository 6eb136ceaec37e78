import { OverviewLive } from "@/components/overview/overview-live";
import { overviewSnapshot } from "@/components/overview/snapshot";

export const dynamic = "force-dynamic";
export const metadata = { title: "Overview" };

/** The first page of an incident: rendered with a snapshot, then kept live over server-sent events. */
export default async function OverviewPage() {
  const snapshot = await overviewSnapshot();
  return (
    <div className="mx-auto max-w-6xl">
      <OverviewLive initial={snapshot} />
    </div>
  );
}
