import type { BrokerRow } from "@/db/schema";
import { StatusBadge } from "./status-badge";
import { Time } from "./time";

export function BrokerTable({ brokers }: { brokers: BrokerRow[] }) {
  return (
    <div className="overflow-x-auto rounded-lg border border-zinc-200 bg-white dark:border-zinc-800 dark:bg-zinc-900">
      <table className="w-full text-left text-sm" data-testid="broker-table">
        <thead className="border-b border-zinc-200 text-xs text-zinc-500 uppercase dark:border-zinc-800">
          <tr>
            <th className="px-4 py-2 font-medium">Broker</th>
            <th className="px-4 py-2 font-medium">Status</th>
            <th className="px-4 py-2 font-medium">Dialect</th>
            <th className="px-4 py-2 font-medium">URL</th>
            <th className="px-4 py-2 font-medium">Last seen</th>
          </tr>
        </thead>
        <tbody>
          {brokers.map((b) => (
            <tr
              key={b.name}
              className="border-b border-zinc-100 last:border-0 dark:border-zinc-800"
              data-broker={b.name}
            >
              <td className="px-4 py-2 font-medium">{b.name}</td>
              <td className="px-4 py-2">
                <StatusBadge status={b.status} />
              </td>
              <td className="px-4 py-2 text-zinc-600 dark:text-zinc-400">{b.detectedDialect ?? b.dialect}</td>
              <td className="px-4 py-2 font-mono text-xs">{b.url}</td>
              <td className="px-4 py-2">
                <Time value={b.lastSeenAt} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
