import type { Metadata } from "next";
import { headers } from "next/headers";
import { notFound } from "next/navigation";
import { brokerGaps } from "@/lib/brokers";
import { clientHistory } from "@/lib/clients";
import { diagnose } from "@/lib/diagnosis";
import { requireUser } from "@/lib/auth/page";
import { ClientTrace } from "@/components/clients/trace";
import { clientIdFromPath, parseWindow, rangeSeconds, type SearchParams } from "@/components/clients/params";

export const dynamic = "force-dynamic";

type Props = { params: Promise<{ clientId: string }>; searchParams: Promise<SearchParams> };

/** The segment decoded exactly once, from the raw request path (see clientIdFromPath). */
async function requestedClientId(params: Props["params"]): Promise<string> {
  const clientId = clientIdFromPath((await headers()).get("x-brokerwatch-path"), (await params).clientId);
  if (clientId === null) notFound();
  return clientId;
}

export async function generateMetadata({ params }: Props): Promise<Metadata> {
  return { title: `Client ${await requestedClientId(params)}` };
}

/** One ClientID's sessions, reason breakdown and diagnosis over a window (24 h, 7 d or 30 d). */
export default async function ClientTracePage({ params, searchParams }: Props) {
  const user = await requireUser();
  const clientId = await requestedClientId(params);
  const window = parseWindow(await searchParams);
  const now = new Date();
  const from = new Date(now.getTime() - rangeSeconds(window) * 1000);
  const history = await clientHistory(user, clientId, { from });
  // where brokerwatch could not see this client's brokers: the client's state there is unknown
  const brokers = [...new Set(history.events.map((e) => e.broker))];
  const blind = (await Promise.all(brokers.map((b) => brokerGaps(user, b, from, now)))).flat().map((g) => ({
    broker: g.broker,
    start: g.startedAt.getTime(),
    end: g.endedAt?.getTime() ?? null,
    reason: g.reason,
  }));
  return (
    <ClientTrace
      clientId={clientId}
      window={window}
      history={history}
      blind={blind}
      findings={diagnose(history.events, now, history.sessions)}
      now={now}
    />
  );
}
