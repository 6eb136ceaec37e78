import "server-only";
import { cookies, headers } from "next/headers";
import { redirect } from "next/navigation";
import type { UserRole } from "@/db/schema";
import { getRuntime } from "@/lib/runtime";
import { safeNextPath } from "./next-path";
import { SESSION_COOKIE, sessionUser, type SessionUser } from "./session";
import { markVerified } from "./verified";

/**
 * For pages: the signed-in user, or a redirect to the login page (which sends them back here).
 * `need: "admin"` sends a viewer to the page's read-only parent instead of showing an edit form.
 * Every page calls this itself (not only the console layout: Next can render a page without its
 * layouts), and the data loaders take the user it returns.
 */
export async function requireUser(need: UserRole = "viewer"): Promise<SessionUser & { readonly username: string }> {
  const user = await sessionUser(getRuntime().database.db, (await cookies()).get(SESSION_COOKIE)?.value);
  if (!user) {
    const path = (await headers()).get("x-brokerwatch-path") ?? "/";
    redirect(`/login?next=${encodeURIComponent(safeNextPath(path))}`);
  }
  if (need === "admin" && user.role !== "admin") redirect("/settings?denied=1");
  return markVerified(user);
}

export async function currentUser(): Promise<SessionUser | null> {
  return sessionUser(getRuntime().database.db, (await cookies()).get(SESSION_COOKIE)?.value);
}
