import type { ReactNode } from "react";
import { Nav } from "@/components/nav";
import { requireUser } from "@/lib/auth/page";

export const dynamic = "force-dynamic";

/** Every console page needs a signed-in user; the login page lives outside this group. */
export default async function ConsoleLayout({ children }: { children: ReactNode }) {
  const user = await requireUser();
  return (
    <div className="flex min-h-screen flex-col md:flex-row">
      <Nav user={user} />
      <main className="min-w-0 flex-1 px-4 py-6 md:px-8">{children}</main>
    </div>
  );
}
