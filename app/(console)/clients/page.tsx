export const metadata = { title: "Clients" };

export default function ClientsPage() {
  return (
    <div className="mx-auto max-w-6xl">
      <h1 className="mb-6 text-2xl font-semibold tracking-tight">Clients</h1>
      <p className="rounded-lg border border-dashed border-zinc-300 p-8 text-center text-zinc-500 dark:border-zinc-700">
        Per-client connection history (connects, disconnects with their reason, diagnosis) appears here once the
        collector is recording events.
      </p>
    </div>
  );
}
