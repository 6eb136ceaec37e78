import { overviewSource } from "@/components/overview/snapshot";
import { route } from "@/lib/api/route";
import { sseResponse } from "@/lib/live";

export const dynamic = "force-dynamic";

/**
 * GET /api/stream/overview — server-sent events: `event: snapshot` with the whole overview as JSON,
 * at once and then every second, and a comment heartbeat. The overview page subscribes with
 * EventSource; anything else holding a token may too.
 */
export const GET = route({ auth: "viewer" }, ({ request }) =>
  sseResponse(request, (channel) => overviewSource.subscribe((snapshot) => channel.send("snapshot", snapshot))),
);
