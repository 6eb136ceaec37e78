export const metadata = { title: "Settings" };

export default function SettingsPage() {
  return (
    <div className="mx-auto max-w-6xl">
      <h1 className="mb-6 text-2xl font-semibold tracking-tight">Settings</h1>
      <p className="rounded-lg border border-dashed border-zinc-300 p-8 text-center text-zinc-500 dark:border-zinc-700">
        Brokers, webhooks, rules, API tokens and users are configured here. Until then, use brokerwatch.yaml and the
        environment variables listed in the README.
      </p>
    </div>
  );
}
