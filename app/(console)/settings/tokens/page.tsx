import { TokenSettings } from "@/components/settings/token-settings";
import { requireUser } from "@/lib/auth/page";
import { tokenSettings } from "@/lib/settings/tokens";

export const dynamic = "force-dynamic";
export const metadata = { title: "API tokens · Settings" };

export default async function TokenSettingsPage() {
  const user = await requireUser();
  const tokens = await tokenSettings(user);
  return <TokenSettings tokens={tokens} canEdit={user.role === "admin"} />;
}
