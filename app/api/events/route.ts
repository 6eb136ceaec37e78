import { eventCsvStream, eventPage } from "@/lib/api/events";
import { eventFilterSchema } from "@/lib/api/params";
import { route } from "@/lib/api/route";
import { getRuntime } from "@/lib/runtime";

export const dynamic = "force-dynamic";

/** GET /api/events — connection events across clients, newest first; `format=csv` streams CSV. */
export const GET = route({ auth: "viewer", query: eventFilterSchema }, async ({ query: q }) => {
  const db = getRuntime().database.db;
  const filter = { type: q.type, reason: q.reason, broker: q.broker, clientId: q.clientId, from: q.from, to: q.to };
  if (q.format === "csv") {
    return new Response(eventCsvStream(db, { ...filter, before: q.cursor }), {
      headers: {
        "content-type": "text/csv; charset=utf-8",
        "content-disposition": `attachment; filename="brokerwatch-events-${new Date().toISOString().slice(0, 19)}.csv"`,
      },
    });
  }
  return eventPage(db, { ...filter, limit: q.limit, before: q.cursor });
});
