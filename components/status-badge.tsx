const STYLES: Record<string, string> = {
  up: "bg-up/15 text-up ring-up/30",
  down: "bg-down/15 text-down ring-down/30",
  unknown: "bg-unknown/15 text-unknown ring-unknown/30",
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
