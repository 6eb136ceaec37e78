import { route } from "@/lib/api/route";
import { getRuntime } from "@/lib/runtime";

export const dynamic = "force-dynamic";

const PING_TIMEOUT_MS = 2000;

/** GET /api/health — 200 when the database answers, 503 naming the failing part otherwise. No auth. */
export const GET = route({ auth: "public" }, async () => {
  try {
    const { database } = getRuntime();
    await Promise.race([
      database.ping(),
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error(`no answer within ${PING_TIMEOUT_MS} ms`)), PING_TIMEOUT_MS),
      ),
    ]);
    return { status: "ok" };
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
});
