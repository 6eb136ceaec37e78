"use client";

import Link from "next/link";
import { usePathname } from "next/navigation";

const SECTIONS = [
  { href: "/", label: "Overview" },
  { href: "/brokers", label: "Brokers" },
  { href: "/clients", label: "Clients" },
  { href: "/incidents", label: "Incidents" },
  { href: "/alerts", label: "Alerts" },
  { href: "/settings", label: "Settings" },
] as const;

/** The section a path belongs to: `/brokers/plant-a` is under Brokers, `/` only itself. */
export function currentSection(pathname: string): string | null {
  for (const s of SECTIONS) {
    if (s.href === "/" ? pathname === "/" : pathname === s.href || pathname.startsWith(`${s.href}/`)) return s.href;
  }
  return null;
}

/** The nav's sections, the current one marked for sight (weight and bar) and for screen readers (aria-current). */
export function NavLinks() {
  const current = currentSection(usePathname() ?? "/");
  return (
    <>
      {SECTIONS.map((s) => {
        const active = s.href === current;
        return (
          <Link
            key={s.href}
            href={s.href}
            aria-current={active ? "page" : undefined}
            className={`rounded border-l-2 px-2 py-1.5 text-sm focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-sky-500 ${
              active
                ? "border-sky-600 bg-zinc-100 font-semibold text-zinc-900 dark:border-sky-400 dark:bg-zinc-800 dark:text-white"
                : "border-transparent text-zinc-700 hover:bg-zinc-100 dark:text-zinc-300 dark:hover:bg-zinc-800"
            }`}
          >
            {s.label}
          </Link>
        );
      })}
    </>
  );
}
