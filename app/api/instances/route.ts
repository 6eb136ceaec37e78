import { route } from "@/lib/api/route";
import { ingestPlacement, instanceViews } from "@/lib/cluster/instances";

export const dynamic = "force-dynamic";

/**
 * GET /api/instances — the brokerwatch processes sharing this database: name, UI url, when each
 * was last seen, whether it is up, whether it leads (evaluates the alert rules), the brokers it
 * watches, and which one answered (`self`); and where the answering instance runs its ingest
 * (`ingest`: `mode` "worker" or "inline", the collectors' thread id, and the web thread's).
 */
export const GET = route({ auth: "viewer" }, async () => ({
  instances: await instanceViews(),
  ingest: ingestPlacement(),
}));
