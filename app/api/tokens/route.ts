import { authorize } from "@/lib/auth/api";
import { errorResponse } from "@/lib/http";
import { getRuntime } from "@/lib/runtime";
import { readJsonObject } from "@/lib/settings/input";
import { issueToken, tokenSettings } from "@/lib/settings/tokens";

export const dynamic = "force-dynamic";

/** GET /api/tokens — every API token (revoked ones too) with its prefix, never the secret. */
export async function GET(request: Request): Promise<Response> {
  try {
    await authorize(request);
    return Response.json({ tokens: await tokenSettings(getRuntime().database.db) });
  } catch (err) {
    return errorResponse(err);
  }
}

/** POST /api/tokens (admin) — `{ name, role? }` (role admin|viewer, default viewer); 201 with `token`, shown this once. */
export async function POST(request: Request): Promise<Response> {
  try {
    await authorize(request, "admin");
    const body = await readJsonObject(request);
    const created = await issueToken(getRuntime().database.db, body);
    return Response.json(created, { status: 201, headers: { "cache-control": "no-store" } });
  } catch (err) {
    return errorResponse(err);
  }
}
