import { authorize } from "@/lib/auth/api";
import { brokerSummaries } from "@/lib/api/brokers";
import { errorResponse } from "@/lib/http";

export const dynamic = "force-dynamic";

/** GET /api/brokers — every monitored broker with its live status and latest metrics; never a password. */
export async function GET(request: Request): Promise<Response> {
  try {
    await authorize(request);
    return Response.json({ brokers: await brokerSummaries() });
  } catch (err) {
    return errorResponse(err);
  }
}
