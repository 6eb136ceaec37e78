import { authorize } from "@/lib/auth/api";
import { errorResponse } from "@/lib/http";
import { renderMetrics } from "@/lib/metrics-export";

export const dynamic = "force-dynamic";

/** GET /metrics — Prometheus text exposition (scrape with `authorization: { credentials: <token> }`). */
export async function GET(request: Request): Promise<Response> {
  try {
    await authorize(request);
    const { contentType, body } = await renderMetrics();
    return new Response(body, { headers: { "content-type": contentType } });
  } catch (err) {
    return errorResponse(err);
  }
}
