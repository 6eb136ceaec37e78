import { jsonObject, route } from "@/lib/api/route";
import { getRuntime } from "@/lib/runtime";
import { issueToken, tokenSettings } from "@/lib/settings/tokens";

export const dynamic = "force-dynamic";

/** GET /api/tokens — every API token (revoked ones too) with its prefix, never the secret. */
export const GET = route({ auth: "viewer" }, async ({ caller }) => ({ tokens: await tokenSettings(caller) }));

/** POST /api/tokens (admin) — `{ name, role? }` (role admin|viewer, default viewer); 201 with `token`, shown this once. */
export const POST = route({ auth: "admin", body: jsonObject }, async ({ body }) =>
  Response.json(await issueToken(getRuntime().database.db, body), {
    status: 201,
    headers: { "cache-control": "no-store" },
  }),
);
