import { z } from "zod";
import { subscribeOverview } from "@/components/overview/snapshot";
import { parseQuery } from "@/lib/api/params";
import { authorize, closeWhenRevoked } from "@/lib/auth/api";
import { errorResponse } from "@/lib/http";
import { sseResponse } from "@/lib/live";

export const dynamic = "force-dynamic";

/**
 * GET /api/stream/overview — server-sent events: `event: snapshot` with the whole overview as JSON,
 * at once and then every second, and a comment heartbeat. The overview page subscribes with
 * EventSource; anything else holding a token may too. The stream ends when its credential stops
 * verifying (logout, revoked token).
 */
export async function GET(request: Request): Promise<Response> {
  try {
    parseQuery(new URL(request.url), z.object({}));
    const caller = await authorize(request);
    return sseResponse(request, (channel) => {
      const unsubscribe = subscribeOverview(caller, (snapshot) => channel.send("snapshot", snapshot));
      const stopRecheck = closeWhenRevoked(request, channel.close);
      return () => {
        stopRecheck();
        unsubscribe();
      };
    });
  } catch (err) {
    return errorResponse(err);
  }
}
