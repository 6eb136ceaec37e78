import { BrokerSettings } from "@/components/settings/broker-settings";
import { requireUser } from "@/lib/auth/page";
import { brokerSettings } from "@/lib/settings/brokers";

export const dynamic = "force-dynamic";
export const metadata = { title: "Brokers · Settings" };

export default async function BrokerSettingsPage() {
  const user = await requireUser();
  const brokers = await brokerSettings(user);
  return <BrokerSettings brokers={brokers} canEdit={user.role === "admin"} />;
}
