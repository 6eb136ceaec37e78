export const metadata = { title: "Alerts" };

export default function AlertsPage() {
  return (
    <div className="mx-auto max-w-6xl">
      <h1 className="mb-6 text-2xl font-semibold tracking-tight">Alerts</h1>
      <p className="rounded-lg border border-dashed border-zinc-300 p-8 text-center text-zinc-500 dark:border-zinc-700">
        Firing and pending alerts, their history and silences appear here once alert rules are evaluated.
      </p>
    </div>
  );
}
