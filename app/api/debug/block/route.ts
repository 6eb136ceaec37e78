import { z } from "zod";
import { route } from "@/lib/api/route";
import { ApiError } from "@/lib/http";

export const dynamic = "force-dynamic";

const blockQuery = z.object({ ms: z.coerce.number().int().min(1).max(10_000) });

/**
 * POST /api/debug/block?ms= (admin) — a test hook, answered 404 unless BROKERWATCH_TEST_HOOKS=1:
 * holds the web thread for `ms` (at most 10 s), as a page render that slow would, so a test can
 * show that ingest, in its own thread (server/ingest-thread.ts), does not wait for the web.
 */
export const POST = route({ auth: "admin", query: blockQuery }, async ({ query }) => {
  if (process.env.BROKERWATCH_TEST_HOOKS !== "1") throw new ApiError("not_found", "no such route");
  const started = performance.now();
  // Atomics.wait sleeps the calling thread itself: no timer, no I/O runs here until it returns.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, query.ms);
  return { blockedMs: Math.round(performance.now() - started) };
});
