import { HEADLINE_LABELS } from "./format";

/** Label chips `name=value`, in name order; `alertname` and `severity` are shown elsewhere unless `all`. */
export function LabelChips({ labels, all = false }: { labels: Record<string, string>; all?: boolean }) {
  const entries = Object.entries(labels)
    .filter(([name]) => all || !HEADLINE_LABELS.has(name))
    .sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return null;
  return (
    <ul className="flex flex-wrap gap-1" aria-label="labels">
      {entries.map(([name, value]) => (
        <li
          key={name}
          className="rounded bg-zinc-100 px-1.5 py-0.5 font-mono text-xs text-zinc-700 dark:bg-zinc-800 dark:text-zinc-300"
        >
          <span className="text-zinc-500">{name}=</span>
          {value}
        </li>
      ))}
    </ul>
  );
}
