import type { ReactNode } from "react";
import { PageHeader } from "@/components/ui";
import { SettingsNav } from "@/components/settings/settings-nav";

/** Settings: one tab per kind of thing brokerwatch is configured with. The console layout has signed the user in. */
export default function SettingsLayout({ children }: { children: ReactNode }) {
  return (
    <div className="mx-auto max-w-6xl">
      <PageHeader title="Settings" subtitle="Brokers, webhooks, rules, API tokens and users" />
      <SettingsNav />
      {children}
    </div>
  );
}
