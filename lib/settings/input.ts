import { parseWith } from "@/lib/api/validate";
import { ApiError } from "@/lib/http";
import { getRuntime } from "@/lib/runtime";

/**
 * Request bodies of the settings API, validated with zod at the boundary. A bad field is a 400
 * whose message starts with the field's path and whose `parameter` names it, as for query
 * parameters: the one formatter of the API (lib/api/validate.ts).
 */
export const parseInput = parseWith;

/**
 * HTML forms send "" for a field left blank; the config schemas (shared with brokerwatch.yaml)
 * mean "not set" by an absent key. Blank and null are therefore dropped before validation.
 */
export function withoutBlanks(input: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(input).filter(([, value]) => value !== "" && value !== null));
}

/**
 * A PATCH over the stored definition: a key absent keeps the stored value, null or "" clears it,
 * anything else replaces it. The result is validated as a whole by the same schema as a create.
 */
export function mergePatch(stored: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...stored };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null || value === "") delete merged[key];
    else merged[key] = value;
  }
  return merged;
}

/** A numeric id from the URL, or a 404 (an id that cannot exist names nothing). */
export function idParam(raw: string, what: string): number {
  const id = /^\d{1,9}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(id)) throw new ApiError("not_found", `no ${what} with id "${raw}"`);
  return id;
}

/** The service key that encrypts stored passwords and secrets. */
export function serviceSecret(): string {
  const secret = getRuntime().secret;
  if (!secret) throw new ApiError("unavailable", "the service key is not loaded; restart brokerwatch with `npm start`");
  return secret;
}
