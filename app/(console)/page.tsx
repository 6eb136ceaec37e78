import { OverviewLive } from "@/components/overview/overview-live";
import { overviewSnapshot } from "@/components/overview/snapshot";
import { requireUser } from "@/lib/auth/page";

export const dynamic = "force-dynamic";
export const metadata = { title: "Overview" };

/** The first page of an incident: rendered with a snapshot, then kept live over server-sent events. */
export default async function OverviewPage() {
  const user = await requireUser();
  const snapshot = await overviewSnapshot(user);
  return (
    <div className="mx-auto max-w-6xl">
      <OverviewLive initial={snapshot} />
    </div>
  );
}
