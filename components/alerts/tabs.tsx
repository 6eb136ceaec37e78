"use client";

import Link from "next/link";
import { usePathname } from "next/navigation";

export interface AlertTab {
  href: string;
  label: string;
  count?: number;
}

/** The alerts section's tabs; the current one is marked for the eye and for screen readers. */
export function AlertTabs({ tabs }: { tabs: AlertTab[] }) {
  const pathname = usePathname();
  const current = (href: string) => (href === "/alerts" ? pathname === "/alerts" : pathname.startsWith(href));
  return (
    <nav aria-label="Alerts sections" className="mb-6 border-b border-zinc-200 dark:border-zinc-800">
      <ul className="-mb-px flex flex-wrap gap-1">
        {tabs.map((tab) => (
          <li key={tab.href}>
            <Link
              href={tab.href}
              aria-current={current(tab.href) ? "page" : undefined}
              className={`inline-flex items-center gap-1.5 border-b-2 px-3 py-2 text-sm focus-visible:outline-2 focus-visible:outline-sky-500 ${
                current(tab.href)
                  ? "border-sky-600 font-medium text-zinc-900 dark:text-zinc-100"
                  : "border-transparent text-zinc-600 hover:border-zinc-300 hover:text-zinc-900 dark:text-zinc-400 dark:hover:text-zinc-100"
              }`}
            >
              {tab.label}
              {tab.count !== undefined && (
                <span className="rounded-full bg-zinc-100 px-1.5 text-xs text-zinc-600 tabular-nums dark:bg-zinc-800 dark:text-zinc-300">
                  {tab.count}
                </span>
              )}
            </Link>
          </li>
        ))}
      </ul>
    </nav>
  );
}
