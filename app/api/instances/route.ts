import { route } from "@/lib/api/route";
import { instanceViews } from "@/lib/cluster/instances";

export const dynamic = "force-dynamic";

/**
 * GET /api/instances — the brokerwatch processes sharing this database: name, UI url, when each
 * was last seen, whether it is up, whether it leads (evaluates the alert rules), the brokers it
 * watches, and which one answered (`self`).
 */
export const GET = route({ auth: "viewer" }, async () => ({ instances: await instanceViews() }));
