import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { Suspense } from "react";
import { findBroker } from "@/lib/brokers";
import { BrokerCharts } from "@/components/charts/broker-charts";
import { HeadroomPanel } from "@/components/charts/headroom-panel";
import { DEFAULT_CHART_RANGE, isChartRange, type ChartRange } from "@/lib/charts/ranges";
import { loadBrokerDetail } from "@/lib/overview/broker-detail";
import { BrokerLive } from "@/components/overview/broker-live";
import { BrokerSkeleton } from "@/components/overview/broker-skeleton";
import { BrokerStream } from "@/components/overview/broker-stream";
import { DisconnectingClients, DisconnectReasons } from "@/components/overview/disconnect-leaders";
import { displayUrl } from "@/components/overview/format";
import { LiveEvents } from "@/components/overview/live-events";
import { IncidentList } from "@/components/incidents/incident-list";
import { Badge, Card, formatNumber, PageHeader, TextLink } from "@/components/ui";
import { loadHeadroom } from "@/lib/api/brokers";
import { requireUser } from "@/lib/auth/page";
import type { Verified } from "@/lib/auth/verified";
import { loadBrokerIncidents } from "@/lib/incidents/pages";
import { brokerGaps } from "@/lib/brokers";
import { availability } from "@/lib/availability";
import { AvailabilityBar } from "@/components/overview/availability-bar";

export const dynamic = "force-dynamic";

type Props = {
  params: Promise<{ name: string }>;
  searchParams: Promise<Record<string, string | string[] | undefined>>;
};

export async function generateMetadata({ params }: Props): Promise<Metadata> {
  return { title: (await params).name };
}

/**
 * One broker: what it is, how it is now, its history in charts, and who disconnects from it and
 * why. The header renders as soon as the broker is found; the rest streams in behind a skeleton
 * (a Suspense boundary here rather than loading.tsx, so an unknown name is decided before anything
 * is sent and answers with a real 404 status).
 */
export default async function BrokerPage({ params, searchParams }: Props) {
  const user = await requireUser();
  const { name } = await params;
  const { range: rangeParam } = await searchParams;
  const range = isChartRange(rangeParam) ? rangeParam : DEFAULT_CHART_RANGE;
  const broker = await findBroker(user, name);
  if (!broker) notFound();
  const dialect = broker.dialect === "auto" ? `auto → ${broker.detectedDialect ?? "not detected yet"}` : broker.dialect;

  return (
    <div className="mx-auto max-w-6xl space-y-6">
      <div>
        <p className="mb-1 text-sm">
          <TextLink href="/brokers">← Brokers</TextLink>
        </p>
        <PageHeader
          title={
            <span className="flex items-center gap-3">
              {broker.name}
              {!broker.enabled && <Badge>disabled</Badge>}
            </span>
          }
          subtitle={
            <span className="flex flex-wrap gap-x-4 gap-y-1">
              <span>
                <span className="text-zinc-600 dark:text-zinc-400">URL</span>{" "}
                <span className="font-mono text-zinc-700 dark:text-zinc-300" data-testid="broker-url">
                  {displayUrl(broker.url)}
                </span>
              </span>
              <span>
                <span className="text-zinc-600 dark:text-zinc-400">dialect</span> {dialect}
              </span>
              <span>
                <span className="text-zinc-600 dark:text-zinc-400">version</span> {broker.version ?? "not reported yet"}
              </span>
              {broker.cluster && (
                <span>
                  <span className="text-zinc-600 dark:text-zinc-400">cluster</span> {broker.cluster}
                </span>
              )}
              <span>
                <span className="text-zinc-600 dark:text-zinc-400">capacity</span>{" "}
                {broker.maxConnections ? `${formatNumber(broker.maxConnections)} connections` : "not configured"}
              </span>
            </span>
          }
        />
      </div>

      <Suspense fallback={<BrokerSkeleton />}>
        <BrokerBody user={user} broker={broker} range={range} />
      </Suspense>
    </div>
  );
}

async function BrokerBody({
  user,
  broker,
  range,
}: {
  user: Verified;
  broker: { name: string; dialect: string; detectedDialect: string | null; maxConnections: number | null };
  range: ChartRange;
}) {
  const name = broker.name;
  const now = Date.now();
  const week = now - 7 * 86400_000;
  const [detail, headroom, incidents, gaps] = await Promise.all([
    loadBrokerDetail(user, name, range),
    loadHeadroom(broker),
    loadBrokerIncidents(user, name),
    brokerGaps(user, name, new Date(week), new Date(now)),
  ]);
  const down = incidents.map((i) => ({
    start: Date.parse(i.startedAt),
    end: i.upAt ? Date.parse(i.upAt) : i.endedAt ? Date.parse(i.endedAt) : null,
    why: i.kind,
  }));
  const blind = gaps.map((g) => ({ start: g.startedAt.getTime(), end: g.endedAt?.getTime() ?? null, why: g.reason }));
  return (
    <BrokerStream broker={name} initialLive={detail.live} initialEvents={detail.events}>
      <BrokerLive name={name} />

      <Card title="Availability">
        <div className="space-y-3">
          <AvailabilityBar title="Last 24 hours" data={availability({ from: now - 86400_000, to: now, down, blind })} />
          <AvailabilityBar title="Last 7 days" data={availability({ from: week, to: now, down, blind })} />
        </div>
      </Card>

      <BrokerCharts key={name} initial={detail.charts} />

      <HeadroomPanel headroom={headroom} />
      <Card title="Incidents">
        <IncidentList incidents={incidents} />
      </Card>

      <div className="grid gap-4 lg:grid-cols-2">
        <DisconnectReasons hour={detail.reasons.hour} day={detail.reasons.day} />
        <DisconnectingClients hour={detail.clients.hour} day={detail.clients.day} />
      </div>

      <LiveEvents />
    </BrokerStream>
  );
}
