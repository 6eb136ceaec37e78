import { InstanceList } from "@/components/settings/instance-list";
import { requireUser } from "@/lib/auth/page";
import { instanceViews } from "@/lib/cluster/instances";

export const dynamic = "force-dynamic";
export const metadata = { title: "Instances · Settings" };

export default async function InstanceSettingsPage() {
  await requireUser();
  return <InstanceList instances={await instanceViews()} />;
}
