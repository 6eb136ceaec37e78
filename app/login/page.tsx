import { redirect } from "next/navigation";
import { safeNextPath } from "@/lib/auth/next-path";
import { currentUser } from "@/lib/auth/page";
import { LoginForm } from "./login-form";

export const dynamic = "force-dynamic";
export const metadata = { title: "Sign in" };

export default async function LoginPage({ searchParams }: { searchParams: Promise<{ next?: string }> }) {
  const { next } = await searchParams;
  // only paths on this site: never an open redirect
  const target = safeNextPath(next);
  if (await currentUser()) redirect(target);
  return (
    <main className="flex min-h-screen items-center justify-center px-4">
      <div className="w-full max-w-sm rounded-xl border border-zinc-200 bg-white p-8 shadow-sm dark:border-zinc-800 dark:bg-zinc-900">
        <h1 className="mb-1 text-xl font-semibold tracking-tight">brokerwatch</h1>
        <p className="mb-6 text-sm text-zinc-600 dark:text-zinc-400">Sign in to see your brokers.</p>
        <LoginForm next={target} />
      </div>
    </main>
  );
}
