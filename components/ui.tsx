import Link from "next/link";
import type { ReactNode } from "react";

/**
 * The few building blocks every page uses, so pages look alike without a component library.
 * Colours come from Tailwind's zinc scale, sky for actions; dark mode follows the system.
 */
export function PageHeader({
  title,
  subtitle,
  actions,
}: {
  title: ReactNode;
  subtitle?: ReactNode;
  actions?: ReactNode;
}) {
  return (
    <div className="mb-6 flex flex-wrap items-end justify-between gap-3">
      <div className="min-w-0">
        <h1 className="truncate text-2xl font-semibold tracking-tight">{title}</h1>
        {subtitle && <p className="mt-1 text-sm text-zinc-600 dark:text-zinc-400">{subtitle}</p>}
      </div>
      {actions && <div className="flex flex-wrap gap-2">{actions}</div>}
    </div>
  );
}

export function Card({
  title,
  children,
  className = "",
  actions,
}: {
  title?: ReactNode;
  children: ReactNode;
  className?: string;
  actions?: ReactNode;
}) {
  return (
    <section
      className={`rounded-lg border border-zinc-200 bg-white dark:border-zinc-800 dark:bg-zinc-900 ${className}`}
    >
      {(title || actions) && (
        <div className="flex items-center justify-between gap-2 border-b border-zinc-200 px-4 py-2.5 dark:border-zinc-800">
          {title && <h2 className="text-sm font-medium">{title}</h2>}
          {actions}
        </div>
      )}
      <div className="p-4">{children}</div>
    </section>
  );
}

export function EmptyState({ children }: { children: ReactNode }) {
  return (
    <div className="rounded-lg border border-dashed border-zinc-300 p-8 text-center text-sm text-zinc-600 dark:text-zinc-400 dark:border-zinc-700">
      {children}
    </div>
  );
}

const TONES = {
  neutral: "bg-zinc-100 text-zinc-700 ring-zinc-300 dark:bg-zinc-800 dark:text-zinc-300 dark:ring-zinc-700",
  good: "bg-emerald-50 text-emerald-700 ring-emerald-300 dark:bg-emerald-950 dark:text-emerald-300 dark:ring-emerald-800",
  warn: "bg-amber-50 text-amber-800 ring-amber-300 dark:bg-amber-950 dark:text-amber-300 dark:ring-amber-800",
  bad: "bg-red-50 text-red-700 ring-red-300 dark:bg-red-950 dark:text-red-300 dark:ring-red-800",
  info: "bg-sky-50 text-sky-700 ring-sky-300 dark:bg-sky-950 dark:text-sky-300 dark:ring-sky-800",
} as const;
export type Tone = keyof typeof TONES;

export function Badge({ tone = "neutral", children, title }: { tone?: Tone; children: ReactNode; title?: string }) {
  return (
    <span
      title={title}
      className={`inline-flex items-center gap-1 rounded-full px-2 py-0.5 text-xs font-medium whitespace-nowrap ring-1 ${TONES[tone]}`}
    >
      {children}
    </span>
  );
}

/** Reason words in the tone an operator reads them in. */
export function reasonTone(reason: string | null): Tone {
  if (!reason || reason === "normal") return "neutral";
  if (reason === "takenover" || reason === "discarded" || reason === "tcp_closed") return "warn";
  return "bad";
}

export const tableClass = "w-full text-left text-sm";
export const thClass = "px-3 py-2 text-xs font-medium text-zinc-600 dark:text-zinc-400 uppercase";
export const tdClass = "px-3 py-2 align-top";
export const rowClass = "border-b border-zinc-100 last:border-0 dark:border-zinc-800";

/** A column of a table head: its label, or its label with classes of its own (alignment, width) or a tooltip. */
export type Column = ReactNode | { label: ReactNode; className?: string; title?: string };

/** A table's header row, one `th` a column. */
export function TableHead({
  columns,
  className = "border-b border-zinc-200 dark:border-zinc-800",
}: {
  columns: readonly Column[];
  className?: string;
}) {
  return (
    <thead className={className}>
      <tr>
        {columns.map((column, i) => {
          const own = typeof column === "object" && column !== null && "label" in column;
          return (
            <th
              key={i}
              scope="col"
              className={own && column.className ? `${thClass} ${column.className}` : thClass}
              title={own ? column.title : undefined}
            >
              {own ? column.label : column}
            </th>
          );
        })}
      </tr>
    </thead>
  );
}

/** A table on a bordered card that scrolls sideways where the screen is too narrow for it. */
export function CardTable({
  columns,
  className,
  testId,
  bodyClassName,
  children,
}: {
  columns: readonly Column[];
  /** more classes for the table: a min-w-[…] makes narrow screens scroll instead of squashing it */
  className?: string;
  testId?: string;
  bodyClassName?: string;
  /** the rows */
  children: ReactNode;
}) {
  return (
    <div tabIndex={0} className="relative overflow-x-auto rounded-lg border border-zinc-200 bg-white dark:border-zinc-800 dark:bg-zinc-900">
      <table className={className ? `${tableClass} ${className}` : tableClass} data-testid={testId}>
        <TableHead columns={columns} />
        <tbody className={bodyClassName}>{children}</tbody>
      </table>
    </div>
  );
}

/** The last column of a table whose rows end in buttons: named for screen readers only. */
export const ACTIONS_COLUMN: Column = { label: <span className="sr-only">Actions</span>, className: "text-right" };

export const buttonClass =
  "inline-flex items-center gap-1 rounded-md bg-sky-700 px-3 py-1.5 text-sm font-medium text-white hover:bg-sky-800 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-sky-500 disabled:opacity-50";
export const secondaryButtonClass =
  "inline-flex items-center gap-1 rounded-md px-3 py-1.5 text-sm font-medium text-zinc-700 ring-1 ring-zinc-300 hover:bg-zinc-100 focus-visible:outline-2 focus-visible:outline-sky-500 disabled:opacity-50 dark:text-zinc-200 dark:ring-zinc-700 dark:hover:bg-zinc-800";
export const inputClass =
  "w-full rounded-md border border-zinc-300 bg-transparent px-3 py-1.5 text-sm focus-visible:outline-2 focus-visible:outline-sky-500 dark:border-zinc-700";

export function TextLink({ href, children }: { href: string; children: ReactNode }) {
  return (
    <Link
      href={href}
      className="text-sky-800 underline underline-offset-2 hover:text-sky-950 focus-visible:outline-2 focus-visible:outline-sky-500 dark:text-sky-400 dark:hover:text-sky-300"
    >
      {children}
    </Link>
  );
}

/** Links to a client's trace page; the id is shown as text whatever it contains. */
export function clientHref(clientId: string): string {
  return `/clients/${encodeURIComponent(clientId)}`;
}

export function formatNumber(value: number | null | undefined, digits = 1): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  if (Math.abs(value) >= 1e6) return `${(value / 1e6).toFixed(digits)}M`;
  if (Math.abs(value) >= 1e4) return `${(value / 1e3).toFixed(digits)}k`;
  return Number.isInteger(value) ? String(value) : value.toFixed(digits);
}

/** The one duration formatter lives in lib/ so domain code and pages share it. */
export { formatDuration } from "@/lib/duration";
