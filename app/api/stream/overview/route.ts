import { subscribeOverview } from "@/lib/overview/snapshot";
import { route } from "@/lib/api/route";
import { closeWhenRevoked, takeStreamSlot } from "@/lib/auth/api";
import { sseResponse } from "@/lib/live";

export const dynamic = "force-dynamic";

/**
 * GET /api/stream/overview — server-sent events: `event: snapshot` with the whole overview as JSON,
 * at once and then every second, and a comment heartbeat. The overview page subscribes with
 * EventSource; anything else holding a token may too. The stream ends when its credential stops
 * verifying (logout, revoked token). At most BROKERWATCH_MAX_STREAMS (20) streams per token or
 * session, counting /api/stream/events too: one more is a 429.
 */
export const GET = route({ auth: "viewer" }, ({ caller, request }) =>
  sseResponse(
    request,
    (channel) => {
      const unsubscribe = subscribeOverview(caller, (snapshot) => channel.send("snapshot", snapshot));
      const stopRecheck = closeWhenRevoked(request, channel.close);
      return () => {
        stopRecheck();
        unsubscribe();
      };
    },
    { onEnd: takeStreamSlot(request) },
  ),
);
