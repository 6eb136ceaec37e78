import Link from "next/link";
import { Notice } from "@/components/settings/parts";
import { requireUser } from "@/lib/auth/page";
import { getRuntime } from "@/lib/runtime";
import { brokerSettings } from "@/lib/settings/brokers";
import { tokenSettings } from "@/lib/settings/tokens";
import { userSettings } from "@/lib/settings/users";
import { webhookSettings } from "@/lib/settings/webhooks";

export const dynamic = "force-dynamic";
export const metadata = { title: "Settings" };

/** The settings overview: what is configured, and where it comes from. */
export default async function SettingsPage({ searchParams }: { searchParams: Promise<{ denied?: string }> }) {
  const user = await requireUser();
  const { denied } = await searchParams;
  const [brokers, webhooks, tokens, users] = await Promise.all([
    brokerSettings(user),
    webhookSettings(user),
    tokenSettings(user),
    userSettings(user),
  ]);
  const rules = getRuntime().alertEngine?.ruleStates() ?? null;
  const fromFile = (items: { source: string }[]) => items.filter((i) => i.source === "file").length;

  const sections = [
    {
      href: "/settings/brokers",
      title: "Brokers",
      count: brokers.length,
      detail: `${brokers.filter((b) => b.enabled).length} monitored · ${fromFile(brokers)} from brokerwatch.yaml`,
      about: "Add and edit brokers; test a connection before saving.",
    },
    {
      href: "/settings/webhooks",
      title: "Webhooks",
      count: webhooks.length,
      detail: `${webhooks.filter((w) => w.enabled && !w.disabledReason && w.health?.state !== "failing").length} delivering${failingCount(webhooks)} · ${fromFile(webhooks)} from brokerwatch.yaml`,
      about: "Where alerts go, signed per Standard Webhooks; send a test notification.",
    },
    {
      href: "/settings/rules",
      title: "Rules",
      count: rules?.length ?? null,
      detail: rules ? `${rules.filter((r) => r.enabled).length} evaluated` : "the alert engine is not running",
      about: "Alert rules: built-in, from brokerwatch.yaml, and your own.",
    },
    {
      href: "/settings/tokens",
      title: "API tokens",
      count: tokens.filter((t) => !t.revokedAt).length,
      detail: `${tokens.filter((t) => t.revokedAt).length} revoked`,
      about: "Bearer tokens for scripts and dashboards.",
    },
    {
      href: "/settings/users",
      title: "Users",
      count: users.length,
      detail: `${users.filter((u) => u.role === "admin").length} admin · ${users.filter((u) => u.role === "viewer").length} viewer`,
      about: "Who can sign in; admins change settings, viewers only look.",
    },
  ];

  return (
    <>
      {denied && (
        <Notice tone="warn" role="alert" className="mb-4">
          That page needs an admin; you are signed in as a {user.role}.
        </Notice>
      )}
      {user.role !== "admin" && (
        <Notice className="mb-4" testId="read-only-note">
          You are signed in as a <strong>viewer</strong>: every setting is visible to you, none can be changed.
        </Notice>
      )}
      <ul className="grid gap-4 sm:grid-cols-2 lg:grid-cols-3">
        {sections.map((s) => (
          <li key={s.href}>
            <Link
              href={s.href}
              className="block h-full rounded-lg border border-zinc-200 bg-white p-4 hover:border-sky-400 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-sky-500 dark:border-zinc-800 dark:bg-zinc-900 dark:hover:border-sky-700"
            >
              <div className="flex items-baseline justify-between gap-2">
                <h2 className="font-medium">{s.title}</h2>
                <span className="text-2xl font-semibold tabular-nums">{s.count ?? "—"}</span>
              </div>
              <p className="mt-1 text-xs text-zinc-600 dark:text-zinc-400">{s.detail}</p>
              <p className="mt-3 text-sm text-zinc-600 dark:text-zinc-400">{s.about}</p>
            </Link>
          </li>
        ))}
      </ul>
    </>
  );
}

/** " · 1 failing" while any receiver's newest attempt failed (lib/notify/health.ts). */
function failingCount(webhooks: { health: { state: string } | null }[]): string {
  const n = webhooks.filter((w) => w.health?.state === "failing").length;
  return n > 0 ? ` · ${n} failing` : "";
}
