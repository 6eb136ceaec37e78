const STYLES: Record<string, string> = {
  up: "bg-up/15 text-emerald-800 ring-up/40 dark:text-up",
  down: "bg-down/15 text-red-800 ring-down/40 dark:text-down",
  unknown: "bg-unknown/15 text-zinc-700 ring-unknown/40 dark:text-unknown",
};

export function StatusBadge({ status }: { status: string }) {
  const style = STYLES[status] ?? STYLES.unknown;
  return (
    <span className={`inline-flex items-center gap-1.5 rounded-full px-2 py-0.5 text-xs font-medium ring-1 ${style}`}>
      <span aria-hidden className="size-1.5 rounded-full bg-current" />
      {status}
    </span>
  );
}
