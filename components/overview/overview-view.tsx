import Link from "next/link";
import type { ReactNode } from "react";
import { StatusBadge } from "@/components/status-badge";
import { Time } from "@/components/time";
import {
  Badge,
  Card,
  EmptyState,
  formatNumber,
  rowClass,
  tableClass,
  TableHead,
  tdClass,
  TextLink,
  type Tone,
} from "@/components/ui";
import { saturationTone, severityTone, TONE_BAR } from "./format";
import type { FiringAlert, OverviewBroker, OverviewCluster, OverviewSnapshot } from "@/lib/overview/types";

/**
 * The overview, from one snapshot: rendered on the server first, then re-rendered by
 * OverviewLive with every snapshot the stream sends. Reads top to bottom the way an incident
 * does: how bad (totals), why (firing alerts), where and since when (the broker rows).
 */
export function OverviewView({ snapshot }: { snapshot: OverviewSnapshot }) {
  if (snapshot.totals.brokers === 0) return <NoBrokers />;
  return (
    <div className="space-y-6">
      {snapshot.gettingStarted && <FirstSteps bundledBrokerUrl={snapshot.gettingStarted.bundledBrokerUrl} />}
      <Totals snapshot={snapshot} />
      <FiringPanel firing={snapshot.firing} total={snapshot.firingTotal} />
      {snapshot.clusters.map((cluster) => (
        <ClusterCard key={cluster.name ?? ""} cluster={cluster} />
      ))}
    </div>
  );
}

function NoBrokers() {
  return (
    <EmptyState>
      <p className="font-medium text-zinc-700 dark:text-zinc-300">No brokers are monitored yet.</p>
      <p className="mt-2">
        Add one to <code className="font-mono">brokerwatch.yaml</code> and restart brokerwatch, or run with the bundled
        broker (leave <code className="font-mono">BUNDLED_BROKER</code> unset):
      </p>
      <pre tabIndex={0} className="mx-auto mt-3 max-w-md overflow-x-auto rounded-md bg-zinc-100 p-3 text-left font-mono text-xs text-zinc-700 dark:bg-zinc-800 dark:text-zinc-300">
        {`brokers:
  - name: plant-a
    url: mqtt://10.0.0.5:1883
    dialect: auto        # mosquitto | emqx | auto
    username: monitor
    password: \${PLANT_A_PASSWORD}
    maxConnections: 50000`}
      </pre>
    </EmptyState>
  );
}

const codeBlock =
  "mt-2 overflow-x-auto rounded-md bg-zinc-100 p-3 font-mono text-xs text-zinc-800 dark:bg-zinc-800 dark:text-zinc-200";

/**
 * Until the first client event arrives: three ways to see brokerwatch work, each one command or
 * one file away. Disappears on its own with the first stored event.
 */
function FirstSteps({ bundledBrokerUrl }: { bundledBrokerUrl: string | null }) {
  const bundled = bundledBrokerUrl ? new URL(bundledBrokerUrl) : null;
  return (
    <section
      aria-labelledby="first-steps-title"
      data-testid="first-steps"
      className="rounded-lg border border-sky-300 bg-sky-50 p-5 text-sm text-zinc-800 dark:border-sky-800 dark:bg-sky-950 dark:text-zinc-200"
    >
      <h2 id="first-steps-title" className="text-base font-semibold">
        No client has connected yet
      </h2>
      <p className="mt-1">
        Every connect, disconnect and its reason appears here as it happens. Three ways to see it work:
      </p>
      <ol className="mt-3 grid gap-4 md:grid-cols-3">
        <li>
          <p className="font-medium">1. Connect a device</p>
          {bundled ? (
            <>
              <p className="mt-1">The bundled broker listens at {bundledBrokerUrl}:</p>
              <pre tabIndex={0} className={codeBlock}>
                {`mosquitto_pub -h ${bundled.hostname} -p ${bundled.port || 1883} \\
  -i my-first-device -t demo/hello -m hi`}
              </pre>
            </>
          ) : (
            <p className="mt-1">Point a device at one of the brokers below.</p>
          )}
        </li>
        <li>
          <p className="font-medium">2. Watch your own broker</p>
          <p className="mt-1">
            Add it in{" "}
            <TextLink href="/settings/brokers">Settings → Brokers</TextLink> or in{" "}
            <code className="font-mono">brokerwatch.yaml</code>:
          </p>
          <pre tabIndex={0} className={codeBlock}>
            {`brokers:
  - name: plant-a
    url: mqtt://10.0.0.5:1883`}
          </pre>
        </li>
        <li>
          <p className="font-medium">3. Simulate a fleet</p>
          <p className="mt-1">~300 devices with flapping, shared ClientIDs, keepalive timeouts and storms:</p>
          <pre tabIndex={0} className={codeBlock}>npm run simulate</pre>
        </li>
      </ol>
    </section>
  );
}

export function Tile({
  label,
  children,
  tone = "neutral",
  testId,
}: {
  label: string;
  children: ReactNode;
  tone?: Tone;
  testId?: string;
}) {
  const accent: Record<Tone, string> = {
    neutral: "border-l-zinc-300 dark:border-l-zinc-700",
    good: "border-l-emerald-500 dark:border-l-emerald-500",
    warn: "border-l-amber-500 dark:border-l-amber-500",
    bad: "border-l-red-500 dark:border-l-red-500",
    info: "border-l-sky-500 dark:border-l-sky-500",
  };
  return (
    <div
      data-testid={testId}
      className={`rounded-lg border border-l-4 border-zinc-200 bg-white px-4 py-3 dark:border-zinc-800 dark:bg-zinc-900 ${accent[tone]}`}
    >
      <div className="text-xs font-medium text-zinc-600 dark:text-zinc-400 uppercase">{label}</div>
      <div className="mt-1 text-2xl font-semibold tabular-nums">{children}</div>
    </div>
  );
}

function Totals({ snapshot }: { snapshot: OverviewSnapshot }) {
  const { totals, firingTotal } = snapshot;
  const brokersTone: Tone = totals.down > 0 ? "bad" : totals.unknown > 0 ? "neutral" : "good";
  return (
    <div className="grid grid-cols-2 gap-3 lg:grid-cols-4">
      <Tile label="Brokers up" tone={brokersTone} testId="total-up">
        {totals.up}
        <span className="text-base font-normal text-zinc-600 dark:text-zinc-400"> / {totals.brokers}</span>
        {totals.down > 0 && (
          <span className="ml-2 text-sm font-medium text-red-600 dark:text-red-400">{totals.down} down</span>
        )}
      </Tile>
      <Tile label="Firing alerts" tone={firingTotal > 0 ? "bad" : "good"} testId="total-firing">
        {firingTotal > 0 ? (
          <Link href="/alerts" className="hover:underline focus-visible:outline-2 focus-visible:outline-sky-500">
            {firingTotal}
          </Link>
        ) : (
          0
        )}
      </Tile>
      <Tile label="Connections" testId="total-connections">
        {formatNumber(totals.connections)}
      </Tile>
      <Tile label="Messages / s">
        <span title="received">{formatNumber(totals.messagesInPerSecond)}</span>
        <span className="text-base font-normal text-zinc-600 dark:text-zinc-400"> in · </span>
        <span title="sent">{formatNumber(totals.messagesOutPerSecond)}</span>
        <span className="text-base font-normal text-zinc-600 dark:text-zinc-400"> out</span>
      </Tile>
    </div>
  );
}

function FiringPanel({ firing, total }: { firing: FiringAlert[]; total: number }) {
  if (total === 0) {
    return (
      <p className="flex items-center gap-2 text-sm text-zinc-600 dark:text-zinc-400" data-testid="no-alerts">
        <span aria-hidden className="size-2 rounded-full bg-emerald-500" />
        No alerts firing.
      </p>
    );
  }
  return (
    <Card
      title={`Firing now (${total})`}
      actions={
        <span className="text-sm">
          <TextLink href="/alerts">All alerts →</TextLink>
        </span>
      }
      className="border-red-200 dark:border-red-900"
    >
      <ul className="-my-1 divide-y divide-zinc-100 dark:divide-zinc-800" data-testid="firing-alerts">
        {firing.map((a) => (
          <li key={a.fingerprint} className="flex flex-wrap items-baseline gap-x-3 gap-y-1 py-2 text-sm">
            <Badge tone={severityTone(a.severity)}>{a.severity ?? "alert"}</Badge>
            <span className="font-medium">{a.alertname}</span>
            {a.summary && <span className="min-w-0 text-zinc-600 dark:text-zinc-400">{a.summary}</span>}
            <span className="ml-auto text-xs whitespace-nowrap text-zinc-600 dark:text-zinc-400">
              {a.broker ? (
                <TextLink href={`/brokers/${encodeURIComponent(a.broker)}`}>{a.broker}</TextLink>
              ) : a.cluster ? (
                <>cluster {a.cluster}</>
              ) : null}
              {a.firedAt && (
                <>
                  {" "}
                  · fired <Time value={a.firedAt} relative />
                </>
              )}
            </span>
          </li>
        ))}
      </ul>
      {total > firing.length && (
        <p className="mt-2 text-xs text-zinc-600 dark:text-zinc-400">
          and {total - firing.length} more on <TextLink href="/alerts">the alerts page</TextLink>
        </p>
      )}
    </Card>
  );
}

function NodesBadge({ nodes }: { nodes: { alive: number; expected: number } }) {
  const tone: Tone = nodes.alive === 0 ? "bad" : nodes.alive < nodes.expected ? "warn" : "good";
  return (
    <Badge tone={tone} title="nodes with a fresh heartbeat / nodes expected">
      {nodes.alive} / {nodes.expected} nodes alive
    </Badge>
  );
}

function ClusterCard({ cluster }: { cluster: OverviewCluster }) {
  const title = (
    <span className="flex flex-wrap items-center gap-2">
      <span>{cluster.name === null ? "Standalone brokers" : `Cluster ${cluster.name}`}</span>
      {cluster.nodes && <NodesBadge nodes={cluster.nodes} />}
    </span>
  );
  return (
    <section
      data-cluster={cluster.name ?? ""}
      aria-label={cluster.name === null ? "Standalone brokers" : `Cluster ${cluster.name}`}
    >
      <Card
        title={title}
        actions={
          cluster.firingAlerts > 0 ? (
            <Link href="/alerts" className="focus-visible:outline-2 focus-visible:outline-sky-500">
              <Badge tone="bad">{cluster.firingAlerts} firing</Badge>
            </Link>
          ) : undefined
        }
        className="overflow-hidden [&>div:last-child]:p-0"
      >
        <div tabIndex={0} className="relative overflow-x-auto">
          <table className={tableClass}>
            <TableHead
              columns={[
                "Broker",
                "Status",
                { label: "Connections", className: "min-w-48 whitespace-nowrap" },
                { label: "In / s", className: "text-right whitespace-nowrap" },
                { label: "Out / s", className: "text-right whitespace-nowrap" },
                { label: "Queued", className: "text-right whitespace-nowrap" },
                { label: "Alerts", className: "text-right whitespace-nowrap" },
              ]}
            />
            <tbody>
              {cluster.brokers.map((b) => (
                <BrokerRow key={b.name} broker={b} />
              ))}
            </tbody>
          </table>
        </div>
      </Card>
    </section>
  );
}

function BrokerRow({ broker: b }: { broker: OverviewBroker }) {
  const href = `/brokers/${encodeURIComponent(b.name)}`;
  // A down broker's numbers are what it last reported: still worth seeing, but not as "now".
  const stale = b.status !== "up";
  const valueClass = `${tdClass} text-right tabular-nums ${stale ? "text-zinc-600 dark:text-zinc-500" : ""}`;
  const staleTitle = stale ? "last value reported before the broker stopped reporting" : undefined;
  return (
    <tr
      className={`${rowClass} ${b.status === "down" ? "bg-red-50/60 dark:bg-red-950/30" : ""}`}
      data-broker={b.name}
      data-status={b.status}
    >
      <td className={tdClass}>
        <Link
          href={href}
          className="font-medium text-sky-700 underline-offset-2 hover:underline focus-visible:outline-2 focus-visible:outline-sky-500 dark:text-sky-400"
        >
          {b.name}
        </Link>
        <div className="text-xs text-zinc-600 dark:text-zinc-400">
          {b.dialect}
          {b.version && <> · {b.version}</>}
          {b.nodes && (
            <span className="ml-1">
              · {b.nodes.alive}/{b.nodes.expected} nodes
            </span>
          )}
        </div>
      </td>
      <td className={tdClass} data-testid={`status-${b.name}`}>
        <BrokerStatusCell broker={b} />
      </td>
      <td className={tdClass} title={staleTitle}>
        <Connections broker={b} stale={stale} />
      </td>
      <td className={valueClass} title={staleTitle} data-testid={`in-${b.name}`}>
        {formatNumber(b.messagesInPerSecond)}
      </td>
      <td className={valueClass} title={staleTitle} data-testid={`out-${b.name}`}>
        {formatNumber(b.messagesOutPerSecond)}
      </td>
      <td className={valueClass} title={staleTitle} data-testid={`queued-${b.name}`}>
        {formatNumber(b.queuedMessages)}
      </td>
      <td className={`${tdClass} text-right`} data-testid={`alerts-${b.name}`}>
        {b.firingAlerts > 0 ? (
          <Link href="/alerts" className="focus-visible:outline-2 focus-visible:outline-sky-500" title="see the alerts">
            <Badge tone="bad">{b.firingAlerts} firing</Badge>
          </Link>
        ) : (
          <span className="text-zinc-600 dark:text-zinc-400">0</span>
        )}
      </td>
    </tr>
  );
}

export function BrokerStatusCell({ broker: b }: { broker: OverviewBroker }) {
  if (b.lastSeenAt === null && b.status !== "down") {
    return (
      <div className="flex flex-col gap-0.5">
        <StatusBadge status="unknown" />
        <span className="text-xs text-zinc-600 dark:text-zinc-400">waiting for first heartbeat</span>
      </div>
    );
  }
  return (
    <div className="flex flex-col gap-0.5">
      <span className="flex items-center gap-2">
        <StatusBadge status={b.status} />
        {b.statusSince && (
          <span className="text-xs whitespace-nowrap text-zinc-600 dark:text-zinc-400">
            since <Time value={b.statusSince} relative />
          </span>
        )}
      </span>
      {b.status === "down" && (
        <span className="max-w-64 text-xs text-red-700 dark:text-red-300">
          {b.downReason ?? "not reachable"}
          {b.lastSeenAt && (
            <span className="text-zinc-600 dark:text-zinc-400">
              {" "}
              · last seen <Time value={b.lastSeenAt} relative />
            </span>
          )}
        </span>
      )}
    </div>
  );
}

export function Connections({ broker: b, stale }: { broker: OverviewBroker; stale: boolean }) {
  const ratio = b.connections !== null && b.maxConnections ? b.connections / b.maxConnections : null;
  const tone = ratio === null ? null : saturationTone(ratio);
  return (
    <div className="flex flex-col gap-1">
      <div className={`tabular-nums ${stale ? "text-zinc-600 dark:text-zinc-500" : ""}`}>
        <span data-testid={`connections-${b.name}`} data-value={b.connections ?? ""}>
          {formatNumber(b.connections)}
        </span>
        {b.maxConnections ? <span className="text-zinc-600 dark:text-zinc-400"> / {formatNumber(b.maxConnections)}</span> : null}
        {ratio !== null && (
          <span
            className={`ml-2 text-xs font-medium ${tone === "bad" ? "text-red-600 dark:text-red-400" : tone === "warn" ? "text-amber-600 dark:text-amber-400" : "text-zinc-600 dark:text-zinc-400"}`}
          >
            {Math.round(ratio * 100)}%
          </span>
        )}
      </div>
      {ratio !== null && tone && (
        <div
          role="meter"
          aria-label={`${b.name} connection saturation`}
          aria-valuemin={0}
          aria-valuemax={b.maxConnections!}
          aria-valuenow={b.connections!}
          aria-valuetext={`${Math.round(ratio * 100)}% of capacity`}
          data-testid={`saturation-${b.name}`}
          className="h-1.5 w-full max-w-40 overflow-hidden rounded-full bg-zinc-200 dark:bg-zinc-800"
        >
          <div
            className={`h-full rounded-full transition-[width] duration-500 ${stale ? "bg-zinc-400" : TONE_BAR[tone]}`}
            style={{ width: `${Math.min(100, Math.max(ratio > 0 ? 2 : 0, ratio * 100))}%` }}
          />
        </div>
      )}
    </div>
  );
}
