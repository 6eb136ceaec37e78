import { Time } from "@/components/time";
import { Badge, CardTable, EmptyState, tdClass } from "@/components/ui";
import type { InstanceView } from "@/lib/cluster/instances";
import { SectionHeader } from "./parts";

/** The brokerwatch processes sharing the database, read-only: they come and go by themselves. */
export function InstanceList({ instances }: { instances: InstanceView[] }) {
  return (
    <section>
      <SectionHeader
        title="Instances"
        description="The brokerwatch processes sharing this database. Each broker is watched by several of them; the leader evaluates the alert rules. An instance that stops sending heartbeats is down within 10 seconds and the others take over its brokers."
      />
      {instances.length === 0 ? (
        <EmptyState>No instance has registered yet.</EmptyState>
      ) : (
        <CardTable
          columns={["Instance", "Status", "Last seen", "Started", "Watches"]}
          className="min-w-[40rem]"
          bodyClassName="divide-y divide-zinc-100 dark:divide-zinc-800"
        >
          {instances.map((i) => (
            <tr key={i.name} data-instance={i.name}>
              <td className={`${tdClass} font-medium`}>
                {i.url ? (
                  <a className="text-sky-700 hover:underline dark:text-sky-300" href={i.url}>
                    {i.name}
                  </a>
                ) : (
                  i.name
                )}
                {i.self && <span className="ml-2 text-xs text-zinc-600 dark:text-zinc-400">(this one)</span>}
              </td>
              <td className={`${tdClass} whitespace-nowrap`}>
                <span className="inline-flex gap-1">
                  {i.up ? <Badge tone="good">up</Badge> : <Badge tone="bad">{i.stoppedAt ? "stopped" : "down"}</Badge>}
                  {i.leader && (
                    <Badge tone="info" title="evaluates the alert rules">
                      leader
                    </Badge>
                  )}
                </span>
              </td>
              <td className={`${tdClass} whitespace-nowrap`}>
                <Time value={i.lastSeenAt} relative />
              </td>
              <td className={`${tdClass} whitespace-nowrap`}>
                <Time value={i.startedAt} />
              </td>
              <td className={tdClass}>
                {i.watching.length ? i.watching.join(", ") : <span className="text-zinc-600 dark:text-zinc-400">nothing</span>}
              </td>
            </tr>
          ))}
        </CardTable>
      )}
    </section>
  );
}
