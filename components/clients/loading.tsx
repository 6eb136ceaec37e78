/** Placeholder cards while a Clients page queries the database. */
export function LoadingCards({ cards }: { cards: number }) {
  return (
    <div className="space-y-6" aria-busy="true" aria-live="polite">
      <span className="sr-only">Loading…</span>
      {Array.from({ length: cards }, (_, i) => (
        <div
          key={i}
          className="animate-pulse rounded-lg border border-zinc-200 bg-white p-4 dark:border-zinc-800 dark:bg-zinc-900"
        >
          <div className="mb-4 h-4 w-40 rounded bg-zinc-200 dark:bg-zinc-800" />
          <div className="space-y-2">
            <div className="h-3 rounded bg-zinc-100 dark:bg-zinc-800" />
            <div className="h-3 w-5/6 rounded bg-zinc-100 dark:bg-zinc-800" />
            <div className="h-3 w-2/3 rounded bg-zinc-100 dark:bg-zinc-800" />
          </div>
        </div>
      ))}
    </div>
  );
}
