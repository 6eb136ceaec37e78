import { z } from "zod";
import { jsonObject, route, segment } from "@/lib/api/route";
import { getRuntime } from "@/lib/runtime";
import { editBroker } from "@/lib/settings/brokers";

export const dynamic = "force-dynamic";

/**
 * PATCH /api/brokers/{name} (admin) — change, disable (`{"enabled": false}`) or enable a broker made
 * in the UI or the API. A key absent keeps its value, null clears it; `password` is write-only
 * (absent or "" keeps it, null removes it). Brokers from brokerwatch.yaml and the bundled broker: 409.
 */
export const PATCH = route(
  { auth: "admin", params: z.object({ name: segment }), body: jsonObject },
  async ({ params: { name }, body }) => ({ broker: await editBroker(getRuntime().database.db, name, body) }),
);
