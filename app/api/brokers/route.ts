import { brokerCapacities, brokerList } from "@/lib/api/brokers";
import { jsonObject, route } from "@/lib/api/route";
import { getRuntime } from "@/lib/runtime";
import { createBroker } from "@/lib/settings/brokers";

export const dynamic = "force-dynamic";

/**
 * GET /api/brokers — every monitored broker with its live status, latest metrics and `capacity`
 * (headroom, projected saturation time, single-thread ceiling; lib/capacity.ts); never a password.
 * A viewer's `url` has no user info, query or fragment.
 */
export const GET = route({ auth: "viewer" }, async ({ caller }) => {
  const brokers = await brokerList(caller);
  const capacity = await brokerCapacities(brokers);
  return { brokers: brokers.map((b) => ({ ...b, capacity: capacity.get(b.name) ?? null })) };
});

/**
 * POST /api/brokers (admin) — `{ name, url, dialect?, username?, password?, cluster?, maxConnections?,
 * expectedNodes?, sysTopicPrefix?, clientId?, enabled? }`, the fields of a brokerwatch.yaml entry;
 * 201 with the broker (`hasPassword`, never the password). Its collector starts at once.
 */
export const POST = route({ auth: "admin", body: jsonObject }, async ({ body }) =>
  Response.json({ broker: await createBroker(getRuntime().database.db, body) }, { status: 201 }),
);
