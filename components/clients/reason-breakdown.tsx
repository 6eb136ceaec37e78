import type { ReasonCount } from "@/lib/clients";
import { reasonTone } from "@/components/ui";

const BAR: Record<ReturnType<typeof reasonTone>, string> = {
  neutral: "bg-zinc-400 dark:bg-zinc-500",
  good: "bg-emerald-500",
  warn: "bg-amber-500",
  bad: "bg-red-500",
  info: "bg-sky-500",
};

const TYPE_LABEL: Record<string, string> = {
  connected: "connects",
  disconnected: "disconnects",
  connect_failed: "failed connects",
  messages_dropped: "messages dropped",
};

/** Counts per reason over the window: how this client's sessions end, at a glance. */
export function ReasonBreakdown({ breakdown }: { breakdown: ReasonCount[] }) {
  const ends = breakdown.filter((b) => b.type === "disconnected" || b.type === "connect_failed");
  const others = breakdown.filter((b) => !ends.includes(b));
  const largest = Math.max(1, ...ends.map((b) => b.count));
  return (
    <div className="space-y-3 text-sm" data-testid="reason-breakdown">
      {ends.length === 0 ? (
        <p className="text-zinc-600 dark:text-zinc-400">No disconnects in this window.</p>
      ) : (
        <ul className="space-y-2">
          {ends.map((b) => (
            <li key={`${b.type}-${b.reason}`} data-reason={b.reason ?? ""} data-type={b.type}>
              <div className="flex items-baseline justify-between gap-2">
                <span className="font-mono text-xs">
                  {b.reason ?? "unknown"}
                  {b.type === "connect_failed" && (
                    <span className="ml-1 font-sans text-zinc-600 dark:text-zinc-400">(failed connect)</span>
                  )}
                </span>
                <span className="tabular-nums" data-count>
                  {b.count}
                </span>
              </div>
              <div className="mt-1 h-1.5 rounded-full bg-zinc-100 dark:bg-zinc-800">
                <div
                  className={`h-1.5 rounded-full ${BAR[reasonTone(b.reason)]}`}
                  style={{ width: `${Math.max(2, (b.count / largest) * 100)}%` }}
                />
              </div>
            </li>
          ))}
        </ul>
      )}
      {others.length > 0 && (
        <p className="text-xs text-zinc-600 dark:text-zinc-400">
          {others.map((b, i) => (
            <span key={b.type}>
              {i > 0 && " · "}
              {b.count} {TYPE_LABEL[b.type] ?? b.type}
            </span>
          ))}
        </p>
      )}
    </div>
  );
}
