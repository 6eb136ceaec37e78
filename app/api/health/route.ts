import { getRuntime } from "@/lib/runtime";

export const dynamic = "force-dynamic";

const PING_TIMEOUT_MS = 2000;

/** GET /api/health — 200 when the database answers, 503 naming the failing part otherwise. No auth. */
export async function GET(): Promise<Response> {
  try {
    const { database } = getRuntime();
    await Promise.race([
      database.ping(),
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error(`no answer within ${PING_TIMEOUT_MS} ms`)), PING_TIMEOUT_MS),
      ),
    ]);
    return Response.json({ status: "ok" });
  } catch (err) {
    return Response.json(
      {
        status: "error",
        failing: "database",
        error: { code: "unavailable", message: `database unreachable: ${(err as Error).message}` },
      },
      { status: 503 },
    );
  }
}
