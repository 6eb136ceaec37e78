import { authorize } from "@/lib/auth/api";
import { errorResponse } from "@/lib/http";
import { getRuntime } from "@/lib/runtime";
import { editBroker } from "@/lib/settings/brokers";
import { readJsonObject } from "@/lib/settings/input";

export const dynamic = "force-dynamic";

/**
 * PATCH /api/brokers/{name} (admin) — change, disable (`{"enabled": false}`) or enable a broker made
 * in the UI or the API. A key absent keeps its value, null clears it; `password` is write-only
 * (absent or "" keeps it, null removes it). Brokers from brokerwatch.yaml and the bundled broker: 409.
 */
export async function PATCH(request: Request, ctx: { params: Promise<{ name: string }> }): Promise<Response> {
  try {
    await authorize(request, "admin");
    const { name } = await ctx.params;
    const body = await readJsonObject(request);
    const broker = await editBroker(getRuntime().database.db, name, body);
    return Response.json({ broker });
  } catch (err) {
    return errorResponse(err);
  }
}
