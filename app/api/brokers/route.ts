import { authorize } from "@/lib/auth/api";
import { brokerSummaries } from "@/lib/api/brokers";
import { errorResponse } from "@/lib/http";
import { getRuntime } from "@/lib/runtime";
import { createBroker } from "@/lib/settings/brokers";
import { readJsonObject } from "@/lib/settings/input";

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

/**
 * POST /api/brokers (admin) — `{ name, url, dialect?, username?, password?, cluster?, maxConnections?,
 * expectedNodes?, sysTopicPrefix?, clientId?, enabled? }`, the fields of a brokerwatch.yaml entry;
 * 201 with the broker (`hasPassword`, never the password). Its collector starts at once.
 */
export async function POST(request: Request): Promise<Response> {
  try {
    await authorize(request, "admin");
    const body = await readJsonObject(request);
    const broker = await createBroker(getRuntime().database.db, body);
    return Response.json({ broker }, { status: 201 });
  } catch (err) {
    return errorResponse(err);
  }
}
