import type { UserRole } from "@/db/schema";

/**
 * Proof that a caller was checked. The data loaders pages and streams call take one of these and
 * refuse anything else, so a page that forgets its own check fails loudly instead of rendering
 * data: layouts are not an auth boundary (a React Server Components request can ask Next for a
 * page alone, skipping every layout above it). Only requireUser() and authorize() mint one; the
 * registry lives on globalThis because Next bundles each route separately and both must agree.
 */
export interface Verified {
  readonly role: UserRole;
  readonly username: string | null;
}

const REGISTRY = Symbol.for("brokerwatch.verifiedCallers");
type Holder = { [REGISTRY]?: WeakSet<object> };

function registry(): WeakSet<object> {
  const holder = globalThis as Holder;
  return (holder[REGISTRY] ??= new WeakSet());
}

/** Mark a caller as checked; returns it. */
export function markVerified<T extends Verified>(caller: T): T {
  registry().add(caller);
  return caller;
}

export class UnverifiedCallerError extends Error {
  constructor() {
    super("refused: data was requested without a verified user");
    this.name = "UnverifiedCallerError";
  }
}

/** Throws unless `caller` came from requireUser() or authorize(). */
export function assertVerified(caller: unknown): asserts caller is Verified {
  if (typeof caller !== "object" || caller === null || !registry().has(caller)) throw new UnverifiedCallerError();
}

/** Whether a viewer may see secrets such as full webhook URLs. */
export function isAdmin(caller: Verified): boolean {
  assertVerified(caller);
  return caller.role === "admin";
}
