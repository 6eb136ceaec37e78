import Link from "next/link";
import type { SessionUser } from "@/lib/auth/session";
import { LogoutButton } from "./logout-button";

const SECTIONS = [
  { href: "/", label: "Overview" },
  { href: "/brokers", label: "Brokers" },
  { href: "/clients", label: "Clients" },
  { href: "/alerts", label: "Alerts" },
  { href: "/settings", label: "Settings" },
] as const;

export function Nav({ user }: { user: SessionUser }) {
  return (
    <nav
      aria-label="Main"
      className="flex shrink-0 flex-row flex-wrap items-center gap-1 border-b border-zinc-200 bg-white px-4 py-2 md:w-52 md:flex-col md:flex-nowrap md:items-stretch md:border-r md:border-b-0 md:py-6 dark:border-zinc-800 dark:bg-zinc-900"
    >
      <Link href="/" className="mr-4 px-2 text-lg font-semibold tracking-tight md:mr-0 md:mb-6">
        brokerwatch
      </Link>
      {SECTIONS.map((s) => (
        <Link
          key={s.href}
          href={s.href}
          className="rounded px-2 py-1.5 text-sm text-zinc-700 hover:bg-zinc-100 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-sky-500 dark:text-zinc-300 dark:hover:bg-zinc-800"
        >
          {s.label}
        </Link>
      ))}
      <div className="ml-auto flex items-center gap-2 px-2 text-xs text-zinc-500 md:mt-auto md:ml-0 md:flex-col md:items-start md:pt-6">
        <span data-testid="signed-in-as">
          {user.username} · {user.role}
        </span>
        <LogoutButton />
      </div>
    </nav>
  );
}
