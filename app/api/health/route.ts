import { route } from "@/lib/api/route";
import { writerStall } from "@/lib/collector/writer";
import { getRuntime } from "@/lib/runtime";

export const dynamic = "force-dynamic";

const PING_TIMEOUT_MS = 2000;

/**
 * GET /api/health — 200 when the database answers and the writer commits, 503 naming the failing
 * part otherwise: `database` (no answer within 2 s) or `writer` (rows waiting and nothing committed
 * for 30 s: a database that answers pings but refuses or never finishes the writes). No auth.
 */
export const GET = route({ auth: "public" }, async () => {
  let writer;
  try {
    const runtime = getRuntime();
    writer = runtime.writer;
    await Promise.race([
      runtime.database.ping(),
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error(`no answer within ${PING_TIMEOUT_MS} ms`)), PING_TIMEOUT_MS),
      ),
    ]);
  } catch (err) {
    // the health shape: which part fails, beside the usual error object
    return Response.json(
      {
        status: "error",
        failing: "database",
        error: { code: "unavailable", message: `database unreachable: ${(err as Error).message}` },
      },
      { status: 503 },
    );
  }
  const stall = writer ? writerStall(writer) : null;
  if (stall) {
    return Response.json(
      {
        status: "error",
        failing: "writer",
        waitingSeconds: stall.waitingSeconds,
        queued: stall.queued,
        error: { code: "unavailable", message: stall.message },
      },
      { status: 503 },
    );
  }
  return { status: "ok" };
});
