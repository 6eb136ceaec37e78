import Link from "next/link";
import { HEADLINE_LABELS, labelHref } from "./format";

/** Label chips `name=value`, in name order; `alertname` and `severity` are shown elsewhere unless `all`. */
export function LabelChips({ labels, all = false }: { labels: Record<string, string>; all?: boolean }) {
  const entries = Object.entries(labels)
    .filter(([name]) => all || !HEADLINE_LABELS.has(name))
    .sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return null;
  return (
    <ul className="flex flex-wrap gap-1" aria-label="labels">
      {entries.map(([name, value]) => {
        const href = labelHref(name, value);
        return (
          <li
            key={name}
            className="rounded bg-zinc-100 px-1.5 py-0.5 font-mono text-xs text-zinc-800 dark:bg-zinc-800 dark:text-zinc-200"
          >
            <span className="text-zinc-600 dark:text-zinc-400">{name}=</span>
            {href ? (
              <Link
                href={href}
                className="underline underline-offset-2 hover:text-sky-800 focus-visible:outline-2 focus-visible:outline-sky-500 dark:hover:text-sky-300"
              >
                {value}
              </Link>
            ) : (
              value
            )}
          </li>
        );
      })}
    </ul>
  );
}
