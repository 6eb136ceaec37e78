import { z } from "zod";
import { overviewSource } from "@/components/overview/snapshot";
import { parseQuery } from "@/lib/api/params";
import { authorize } from "@/lib/auth/api";
import { errorResponse } from "@/lib/http";
import { sseResponse } from "@/lib/live";

export const dynamic = "force-dynamic";

/**
 * GET /api/stream/overview — server-sent events: `event: snapshot` with the whole overview as JSON,
 * at once and then every second, and a comment heartbeat. The overview page subscribes with
 * EventSource; anything else holding a token may too.
 */
export async function GET(request: Request): Promise<Response> {
  try {
    parseQuery(new URL(request.url), z.object({}));
    await authorize(request);
    return sseResponse(request, (channel) =>
      overviewSource.subscribe((snapshot) => channel.send("snapshot", snapshot)),
    );
  } catch (err) {
    return errorResponse(err);
  }
}
