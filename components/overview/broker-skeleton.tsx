/** The broker page's shape while its charts and event history load, so nothing jumps when they arrive. */
export function BrokerSkeleton() {
  const block = "rounded-lg bg-zinc-200 dark:bg-zinc-800";
  return (
    <div className="animate-pulse space-y-6" role="status" aria-label="Loading the broker's charts and events">
      <div className="grid grid-cols-2 gap-3 md:grid-cols-3 xl:grid-cols-6">
        {[0, 1, 2, 3, 4, 5].map((i) => (
          <div key={i} className={`h-20 ${block}`} />
        ))}
      </div>
      <div className="grid gap-4 lg:grid-cols-2">
        {[0, 1, 2, 3].map((i) => (
          <div key={i} className={`h-56 ${block}`} />
        ))}
      </div>
      <div className={`h-72 ${block}`} />
      <span className="sr-only">Loading…</span>
    </div>
  );
}
