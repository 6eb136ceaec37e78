/** A time shown in the viewer's zone, with the exact UTC instant on hover. */
export function Time({ value }: { value: Date | string | null }) {
  if (!value) return <span className="text-zinc-400">never</span>;
  const date = typeof value === "string" ? new Date(value) : value;
  const iso = date.toISOString();
  return (
    <time dateTime={iso} title={iso.replace("T", " ").replace("Z", " UTC")}>
      {date.toLocaleString()}
    </time>
  );
}
