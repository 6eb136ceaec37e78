import type { UserRole } from "@/db/schema";
import { ApiError } from "@/lib/http";
import { getRuntime } from "@/lib/runtime";
import { verifyApiToken } from "./tokens";

export interface Caller {
  role: UserRole;
  via: "token";
}

/**
 * Who is asking: `Authorization: Bearer <token>` (BROKERWATCH_API_TOKEN or a stored token).
 * Throws ApiError("unauthorized") otherwise; `need: "admin"` also refuses viewers.
 */
export async function authorize(request: Request, need: UserRole = "viewer"): Promise<Caller> {
  const header = request.headers.get("authorization");
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!match) {
    throw new ApiError("unauthorized", "missing credentials: send Authorization: Bearer <token>");
  }
  const role = await verifyApiToken(getRuntime().database.db, match[1], process.env.BROKERWATCH_API_TOKEN || undefined);
  if (!role) throw new ApiError("unauthorized", "invalid or revoked API token");
  if (need === "admin" && role !== "admin")
    throw new ApiError("forbidden", "this needs an admin token; yours is a viewer token");
  return { role, via: "token" };
}
