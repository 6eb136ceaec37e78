import type { ReactNode } from "react";
import { activeAlerts, ruleViews, silences, silenceStatus } from "@/lib/alerts/console";
import { AlertTabs } from "@/components/alerts/tabs";
import { PageHeader } from "@/components/ui";
import { requireUser } from "@/lib/auth/page";

export const dynamic = "force-dynamic";

/** The alerts section: one header and the tabs, with counts an operator scans for. */
export default async function AlertsLayout({ children }: { children: ReactNode }) {
  const user = await requireUser();
  const [alerts, allSilences] = await Promise.all([activeAlerts(user), silences(user)]);
  const now = new Date();
  return (
    <div className="mx-auto max-w-6xl">
      <PageHeader
        title="Alerts"
        subtitle="What is firing now, what fired before, the rules behind it, and who is told."
      />
      <AlertTabs
        tabs={[
          { href: "/alerts", label: "Firing & pending", count: alerts.length },
          { href: "/alerts/history", label: "History" },
          { href: "/alerts/rules", label: "Rules", count: ruleViews(user).length },
          {
            href: "/alerts/silences",
            label: "Silences",
            count: allSilences.filter((s) => silenceStatus(s, now) !== "expired").length,
          },
          { href: "/alerts/webhooks", label: "Webhooks" },
        ]}
      />
      {children}
    </div>
  );
}
