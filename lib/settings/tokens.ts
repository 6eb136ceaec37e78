/** API bearer tokens as the settings page and API show them: never the hash, the secret only once. */
import type { Db } from "@/db/client";
import type { ApiTokenRow } from "@/db/schema";
import { createApiToken, listApiTokens, revokeApiToken } from "@/lib/auth/tokens";
import { ApiError } from "@/lib/http";
import { parseInput } from "./input";
import { TokenCreateSchema } from "./schemas";
import type { TokenView } from "./views";
import { assertVerified, type Verified } from "@/lib/auth/verified";
import { getRuntime } from "@/lib/runtime";

export function tokenView(row: ApiTokenRow): TokenView {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    scope: row.scope,
    brokers: row.brokers,
    prefix: row.prefix,
    createdAt: row.createdAt.toISOString(),
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
    revokedAt: row.revokedAt?.toISOString() ?? null,
  };
}

/** For a caller requireUser() or authorize() checked: the settings page and the API's list. */
export async function tokenSettings(viewer: Verified): Promise<TokenView[]> {
  assertVerified(viewer);
  const db = getRuntime().database.db;
  return (await listApiTokens(db)).map(tokenView);
}

/** The secret is in this answer and nowhere else: only its SHA-256 is stored. */
export async function issueToken(db: Db, body: unknown): Promise<{ token: string } & TokenView> {
  const input = parseInput(TokenCreateSchema, body);
  const { token, row } = await createApiToken(db, input.name, input.role, input.scope, input.brokers);
  return { token, ...tokenView(row) };
}

export async function revokeToken(db: Db, id: number): Promise<void> {
  if (!(await revokeApiToken(db, id))) throw new ApiError("not_found", `no active token with id ${id}`);
}
