import type { ReactNode } from "react";
import { Badge } from "@/components/ui";

/** Shared pieces of the settings forms and tables; no state, so server and client pages use them alike. */

export function SourceBadge({ source }: { source: string }) {
  if (source === "file")
    return (
      <Badge tone="info" title="Defined in brokerwatch.yaml: change it there and restart brokerwatch">
        from brokerwatch.yaml
      </Badge>
    );
  if (source === "builtin")
    return (
      <Badge tone="neutral" title="Built into brokerwatch">
        built in
      </Badge>
    );
  return null;
}

export function Field({
  label,
  htmlFor,
  hint,
  children,
  className = "",
}: {
  label: string;
  htmlFor: string;
  hint?: ReactNode;
  children: ReactNode;
  className?: string;
}) {
  return (
    <div className={className}>
      <label htmlFor={htmlFor} className="mb-1 block text-sm font-medium">
        {label}
      </label>
      {children}
      {hint && (
        <p id={`${htmlFor}-hint`} className="mt-1 text-xs text-zinc-600 dark:text-zinc-400">
          {hint}
        </p>
      )}
    </div>
  );
}

const NOTICE_TONES = {
  info: "border-sky-200 bg-sky-50 text-sky-900 dark:border-sky-900 dark:bg-sky-950 dark:text-sky-200",
  warn: "border-amber-200 bg-amber-50 text-amber-900 dark:border-amber-900 dark:bg-amber-950 dark:text-amber-200",
  bad: "border-red-200 bg-red-50 text-red-800 dark:border-red-900 dark:bg-red-950 dark:text-red-200",
  good: "border-emerald-200 bg-emerald-50 text-emerald-900 dark:border-emerald-900 dark:bg-emerald-950 dark:text-emerald-200",
} as const;

export function Notice({
  tone = "info",
  children,
  role,
  className = "",
  testId,
}: {
  tone?: keyof typeof NOTICE_TONES;
  children: ReactNode;
  role?: "alert" | "status";
  className?: string;
  testId?: string;
}) {
  return (
    <div
      role={role}
      data-testid={testId}
      className={`rounded-md border px-3 py-2 text-sm ${NOTICE_TONES[tone]} ${className}`}
    >
      {children}
    </div>
  );
}

/** The outcome of the last action in a settings section, announced to screen readers. */
export function StatusNotice({ status }: { status: { tone: keyof typeof NOTICE_TONES; text: ReactNode } | null }) {
  return (
    <div aria-live="polite">
      {status && (
        <Notice tone={status.tone} role={status.tone === "bad" ? "alert" : "status"} className="mb-4">
          {status.text}
        </Notice>
      )}
    </div>
  );
}

export function ReadOnlyNote({ what }: { what: string }) {
  return (
    <Notice tone="info" className="mb-4" testId="read-only-note">
      You are signed in as a <strong>viewer</strong>: you can see {what} but not change them. Ask an admin for changes.
    </Notice>
  );
}

export function SectionHeader({
  title,
  description,
  actions,
}: {
  title: string;
  description?: ReactNode;
  actions?: ReactNode;
}) {
  return (
    <div className="mb-4 flex flex-wrap items-end justify-between gap-3">
      <div className="min-w-0">
        <h2 className="text-lg font-semibold tracking-tight">{title}</h2>
        {description && <p className="mt-0.5 max-w-3xl text-sm text-zinc-600 dark:text-zinc-400">{description}</p>}
      </div>
      {actions && <div className="flex flex-wrap gap-2">{actions}</div>}
    </div>
  );
}

export const checkboxClass =
  "size-4 rounded border-zinc-300 text-sky-600 focus-visible:outline-2 focus-visible:outline-sky-500 dark:border-zinc-600";
export const dangerButtonClass =
  "inline-flex items-center gap-1 rounded-md px-3 py-1.5 text-sm font-medium text-red-700 ring-1 ring-red-300 hover:bg-red-50 focus-visible:outline-2 focus-visible:outline-red-500 disabled:opacity-50 dark:text-red-300 dark:ring-red-800 dark:hover:bg-red-950";
export const smallButtonClass =
  "inline-flex items-center gap-1 rounded px-2 py-1 text-xs font-medium text-zinc-700 ring-1 ring-zinc-300 hover:bg-zinc-100 focus-visible:outline-2 focus-visible:outline-sky-500 disabled:opacity-50 dark:text-zinc-200 dark:ring-zinc-700 dark:hover:bg-zinc-800";
export const smallDangerButtonClass =
  "inline-flex items-center gap-1 rounded px-2 py-1 text-xs font-medium text-red-700 ring-1 ring-red-300 hover:bg-red-50 focus-visible:outline-2 focus-visible:outline-red-500 disabled:opacity-50 dark:text-red-300 dark:ring-red-800 dark:hover:bg-red-950";
export const selectClass =
  "w-full rounded-md border border-zinc-300 bg-white px-3 py-1.5 text-sm focus-visible:outline-2 focus-visible:outline-sky-500 dark:border-zinc-700 dark:bg-zinc-900";

export function Spinner() {
  return (
    <span
      aria-hidden
      className="inline-block size-3.5 animate-spin rounded-full border-2 border-current border-r-transparent align-[-2px]"
    />
  );
}
