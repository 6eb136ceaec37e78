import { authorize } from "@/lib/auth/api";
import { eventPage } from "@/lib/api/events";
import { eventFilterSchema, parseQuery } from "@/lib/api/params";
import { ApiError, errorResponse } from "@/lib/http";
import { getRuntime } from "@/lib/runtime";

export const dynamic = "force-dynamic";

const clientEventsSchema = eventFilterSchema.pick({
  broker: true,
  from: true,
  to: true,
  limit: true,
  cursor: true,
  type: true,
  reason: true,
});

/** GET /api/clients/{clientId}/events — one client's history, newest first. `clientId` is URL-encoded. */
export async function GET(request: Request): Promise<Response> {
  try {
    // Decode the segment exactly once, from the raw path: whether the router already decoded
    // `params` must not matter for an id that itself contains "%".
    const url = new URL(request.url);
    const encoded = /^\/api\/clients\/([^/]*)\/events\/?$/.exec(url.pathname)?.[1] ?? "";
    let clientId: string;
    try {
      clientId = decodeURIComponent(encoded);
    } catch {
      throw new ApiError("bad_request", "clientId: not a valid URL-encoded string", { parameter: "clientId" });
    }
    const q = parseQuery(url, clientEventsSchema);
    await authorize(request);
    const page = await eventPage(getRuntime().database.db, { ...q, clientId, before: q.cursor });
    return Response.json({ clientId, ...page });
  } catch (err) {
    return errorResponse(err);
  }
}
