/** Shown while an alerts tab loads: the shape of a list, so the page does not jump when it arrives. */
export default function AlertsLoading() {
  return (
    <div aria-busy="true" aria-label="Loading" className="animate-pulse space-y-3">
      {[0, 1, 2].map((i) => (
        <div
          key={i}
          className="h-24 rounded-lg border border-zinc-200 bg-white dark:border-zinc-800 dark:bg-zinc-900"
        />
      ))}
    </div>
  );
}
