import { UserSettings } from "@/components/settings/user-settings";
import { requireUser } from "@/lib/auth/page";
import { userSettings } from "@/lib/settings/users";

export const dynamic = "force-dynamic";
export const metadata = { title: "Users · Settings" };

export default async function UserSettingsPage() {
  const user = await requireUser();
  const users = await userSettings(user);
  return <UserSettings users={users} canEdit={user.role === "admin"} currentUsername={user.username} />;
}
