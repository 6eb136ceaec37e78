import Link from "next/link";
import type { SessionUser } from "@/lib/auth/session";
import { LogoutButton } from "./logout-button";
import { NavLinks } from "./nav-links";
import { TimeZoneSwitch } from "./time-zone";

export function Nav({ user }: { user: SessionUser }) {
  return (
    <nav
      aria-label="Main"
      className="flex shrink-0 flex-row flex-wrap items-center gap-1 border-b border-zinc-200 bg-white px-4 py-2 md:w-52 md:flex-col md:flex-nowrap md:items-stretch md:border-r md:border-b-0 md:py-6 dark:border-zinc-800 dark:bg-zinc-900"
    >
      <Link href="/" className="mr-4 px-2 text-lg font-semibold tracking-tight md:mr-0 md:mb-6">
        brokerwatch
      </Link>
      <NavLinks />
      <div className="ml-auto flex items-center gap-2 px-2 text-xs text-zinc-600 md:mt-auto dark:text-zinc-400 md:ml-0 md:flex-col md:items-start md:pt-6">
        <span data-testid="signed-in-as">
          {user.username} · {user.role}
        </span>
        <TimeZoneSwitch />
        <LogoutButton />
      </div>
    </nav>
  );
}
