import { authorize } from "@/lib/auth/api";
import { instanceViews } from "@/lib/cluster/instances";
import { errorResponse } from "@/lib/http";

export const dynamic = "force-dynamic";

/**
 * GET /api/instances — the brokerwatch processes sharing this database: name, UI url, when each
 * was last seen, whether it is up, whether it leads (evaluates the alert rules), the brokers it
 * watches, and which one answered (`self`).
 */
export async function GET(request: Request): Promise<Response> {
  try {
    await authorize(request);
    return Response.json({ instances: await instanceViews() });
  } catch (err) {
    return errorResponse(err);
  }
}
