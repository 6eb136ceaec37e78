import Link from "next/link";
import { ClockTime } from "@/components/time";
import { healthCounts, type ReceiverHealth } from "@/lib/notify/health";

/**
 * Shown on the overview while any receiver fails: an alert nobody receives is the worst kind, and
 * the delivery log is two clicks away from where people look during an incident.
 */
export function ReceiverBanner({ failing }: { failing: { id: number; name: string; health: ReceiverHealth }[] }) {
  if (failing.length === 0) return null;
  return (
    <div
      role="alert"
      data-testid="receiver-banner"
      className="rounded-md border border-red-300 bg-red-50 px-4 py-3 text-sm text-red-900 dark:border-red-800 dark:bg-red-950 dark:text-red-200"
    >
      <p className="font-medium">
        {failing.length === 1 ? "A notification receiver is failing" : `${failing.length} notification receivers are failing`}
        : alerts are not reaching {failing.length === 1 ? "it" : "them"}.
      </p>
      <ul className="mt-1 space-y-0.5">
        {failing.map(({ id, name, health }) => (
          <li key={id}>
            <Link href="/settings/webhooks" className="font-medium underline">
              {name}
            </Link>{" "}
            failing since {health.failingSince ? <ClockTime value={health.failingSince} /> : "its last attempt"} ·{" "}
            {healthCounts(health)}
          </li>
        ))}
      </ul>
    </div>
  );
}
