import { eventPage } from "@/lib/api/events";
import { eventFilterSchema } from "@/lib/api/params";
import { route } from "@/lib/api/route";
import { rejectNul } from "@/lib/api/validate";
import { ApiError } from "@/lib/http";
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

/**
 * Decode the segment exactly once, from the raw path: whether the router already decoded
 * `params` must not matter for an id that itself contains "%".
 */
function clientIdOf(url: URL): string {
  const encoded = /^\/api\/clients\/([^/]*)\/events\/?$/.exec(url.pathname)?.[1] ?? "";
  let clientId: string;
  try {
    clientId = decodeURIComponent(encoded);
  } catch {
    throw new ApiError("bad_request", "clientId: not a valid URL-encoded string", { parameter: "clientId" });
  }
  rejectNul(clientId, "clientId");
  if (clientId.length > 65_535) {
    throw new ApiError("bad_request", "clientId: MQTT allows at most 65535 bytes", { parameter: "clientId" });
  }
  return clientId;
}

/** GET /api/clients/{clientId}/events — one client's history, newest first. `clientId` is URL-encoded. */
export const GET = route({ auth: "viewer", query: clientEventsSchema }, async ({ url, query }) => {
  const clientId = clientIdOf(url);
  const page = await eventPage(getRuntime().database.db, { ...query, clientId, before: query.cursor });
  return { clientId, ...page };
});
