import { WebhookSettings } from "@/components/settings/webhook-settings";
import { requireUser } from "@/lib/auth/page";
import { webhooksFor } from "@/lib/auth/redact";
import { webhookSettings } from "@/lib/settings/webhooks";

export const dynamic = "force-dynamic";
export const metadata = { title: "Webhooks · Settings" };

export default async function WebhookSettingsPage() {
  const user = await requireUser();
  const webhooks = webhooksFor(user, await webhookSettings(user));
  return <WebhookSettings webhooks={webhooks} canEdit={user.role === "admin"} />;
}
