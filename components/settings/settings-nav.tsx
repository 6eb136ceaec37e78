"use client";

import Link from "next/link";
import { usePathname } from "next/navigation";

export const SETTINGS_SECTIONS = [
  { href: "/settings/brokers", label: "Brokers" },
  { href: "/settings/webhooks", label: "Webhooks" },
  { href: "/settings/rules", label: "Rules" },
  { href: "/settings/tokens", label: "API tokens" },
  { href: "/settings/users", label: "Users" },
  { href: "/settings/instances", label: "Instances" },
] as const;

/** The settings sections as tabs; the current one is marked for screen readers too. */
export function SettingsNav() {
  const pathname = usePathname();
  return (
    <nav aria-label="Settings sections" className="mb-6 overflow-x-auto border-b border-zinc-200 dark:border-zinc-800">
      <ul className="flex min-w-max gap-1">
        {SETTINGS_SECTIONS.map((s) => {
          const current = pathname === s.href || pathname.startsWith(`${s.href}/`);
          return (
            <li key={s.href}>
              <Link
                href={s.href}
                aria-current={current ? "page" : undefined}
                className={`-mb-px inline-block border-b-2 px-3 py-2 text-sm font-medium focus-visible:outline-2 focus-visible:outline-offset-[-2px] focus-visible:outline-sky-500 ${
                  current
                    ? "border-sky-600 text-sky-700 dark:border-sky-400 dark:text-sky-300"
                    : "border-transparent text-zinc-600 hover:border-zinc-300 hover:text-zinc-900 dark:text-zinc-400 dark:hover:text-zinc-100"
                }`}
              >
                {s.label}
              </Link>
            </li>
          );
        })}
      </ul>
    </nav>
  );
}
