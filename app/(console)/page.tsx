import { OverviewLive } from "@/components/overview/overview-live";
import { overviewSnapshot } from "@/lib/overview/snapshot";
import { IncidentList } from "@/components/incidents/incident-list";
import { Card } from "@/components/ui";
import { requireUser } from "@/lib/auth/page";
import { loadRecentIncidents } from "@/lib/incidents/pages";
import { ReceiverBanner } from "@/components/overview/receiver-banner";
import { failingReceivers } from "@/lib/settings/webhooks";

export const dynamic = "force-dynamic";
export const metadata = { title: "Overview" };

/** The first page of an incident: rendered with a snapshot, then kept live over server-sent events. */
export default async function OverviewPage() {
  const user = await requireUser();
  const [snapshot, incidents, failing] = await Promise.all([
    overviewSnapshot(user),
    loadRecentIncidents(user),
    failingReceivers(user),
  ]);
  return (
    <div className="mx-auto max-w-6xl space-y-6">
      <ReceiverBanner failing={failing} />
      <OverviewLive initial={snapshot} />
      <Card title="Recent incidents">
        <IncidentList incidents={incidents} showBroker />
      </Card>
    </div>
  );
}
