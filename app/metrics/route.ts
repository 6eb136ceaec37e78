import { route } from "@/lib/api/route";
import { renderMetrics } from "@/lib/metrics-export";

export const dynamic = "force-dynamic";

/** GET /metrics — Prometheus text exposition (scrape with `authorization: { credentials: <token> }`). */
export const GET = route({ auth: "viewer" }, async () => {
  const { contentType, body } = await renderMetrics();
  return new Response(body, { headers: { "content-type": contentType } });
});
