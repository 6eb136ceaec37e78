import { z } from "zod";
import { findBroker } from "@/lib/brokers";
import { eventBacklog } from "@/lib/overview/broker-detail";
import { liveEvent } from "@/lib/overview/events";
import { subscribeOverview } from "@/lib/overview/snapshot";
import { route } from "@/lib/api/route";
import { closeWhenRevoked, takeStreamSlot } from "@/lib/auth/api";
import { ApiError } from "@/lib/http";
import { onCommittedEvents, sseResponse } from "@/lib/live";
import { getRuntime } from "@/lib/runtime";

export const dynamic = "force-dynamic";

const streamQuery = z.object({ broker: z.string().min(1, "name a broker").max(200) });

/**
 * GET /api/stream/events?broker= — server-sent events for one broker's page: `event: backlog` with
 * the newest stored connection events (newest first) when the stream opens, so a reconnect fills
 * what it missed; `event: events` with each batch as the writer commits it; and `event: broker`
 * every second with the broker's live summary (the overview's entry for it, null while disabled),
 * so the page needs one connection, not two. The stream ends when its credential stops verifying.
 * It counts against the caller's BROKERWATCH_MAX_STREAMS (20) like /api/stream/overview.
 */
export const GET = route({ auth: "viewer", query: streamQuery }, async ({ caller, request, query: q }) => {
  const { writer } = getRuntime();
  if (!(await findBroker(caller, q.broker))) throw new ApiError("not_found", `no broker named "${q.broker}"`);
  const releaseSlot = takeStreamSlot(request);
  return sseResponse(request, async (channel) => {
    // Subscribe before reading the backlog: an event committed in between arrives twice (the
    // page drops duplicates) rather than not at all.
    const unsubscribe = writer
      ? onCommittedEvents(writer, (events) => {
          const mine = events.filter((e) => e.broker === q.broker);
          if (mine.length) channel.send("events", mine.map(liveEvent).reverse());
        })
      : () => {};
    let backlog;
    try {
      backlog = await eventBacklog(caller, q.broker);
    } catch (err) {
      unsubscribe();
      throw err;
    }
    channel.send("backlog", backlog);
    const unwatch = subscribeOverview(caller, (snapshot) =>
      channel.send("broker", snapshot.clusters.flatMap((c) => c.brokers).find((b) => b.name === q.broker) ?? null),
    );
    const stopRecheck = closeWhenRevoked(request, channel.close);
    return () => {
      stopRecheck();
      unsubscribe();
      unwatch();
    };
  }, { onEnd: releaseSlot });
});
