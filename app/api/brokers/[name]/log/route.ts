import { z } from "zod";
import { getBroker } from "@/db/brokers";
import { readCappedBody, route, segment } from "@/lib/api/route";
import { assertBrokerInScope } from "@/lib/auth/api";
import { lineOfRecord, MAX_LOG_BYTES, shipLogLines, splitLogLines } from "@/lib/collector/shipping";
import { ApiError } from "@/lib/http";
import { getRuntime } from "@/lib/runtime";

export const dynamic = "force-dynamic";

/**
 * POST /api/brokers/{name}/log (admin, or a token of scope ingest) — text/plain, one log line per
 * line (or application/x-ndjson, one record per line whose `log` or `message` key is the line), fed through the broker's dialect (mosquitto, hivemq, rabbitmq). Idempotent: re-sent lines
 * are answered as `duplicate` and stored once. At most 1 MiB and 10,000 lines (413 beyond).
 * Answers `{ stored, duplicate, unparsed }`.
 */
export const POST = route(
  { auth: "ingest", params: z.object({ name: segment }) },
  async ({ caller, params: { name }, request }) => {
    const runtime = getRuntime();
    const type = request.headers.get("content-type");
    const records = type !== null && /^application\/(x-ndjson|jsonl|json-lines)\s*(;|$)/i.test(type.trim());
    if (type !== null && !records && !/^text\/plain\s*(;|$)/i.test(type.trim())) {
      throw new ApiError(
        "unsupported_media_type",
        `send the log lines as text/plain, one per line, or as application/x-ndjson records with a log or message key (got ${type})`,
      );
    }
    // before the lookup: a token limited to other brokers gets the same 403 whether this one exists or not
    assertBrokerInScope(caller, name);
    const broker = await getBroker(runtime.database.db, name);
    if (!broker) throw new ApiError("not_found", `no broker named "${name}"`);
    const text = await readText(request);
    const lines = splitLogLines(text);
    const { result, events } = await shipLogLines(runtime.database, broker, records ? lines.map(lineOfRecord) : lines);
    if (events.length) runtime.collectors?.noteShippedEvents(name, events);
    return result;
  },
);

/** The body as UTF-8 (invalid bytes replaced), refused past MAX_LOG_BYTES without reading the rest. */
async function readText(request: Request): Promise<string> {
  const tooLarge = () =>
    new ApiError("payload_too_large", `the body is larger than ${MAX_LOG_BYTES} bytes (1 MiB): send smaller batches`);
  const bytes = await readCappedBody(request, MAX_LOG_BYTES, tooLarge);
  return new TextDecoder("utf-8").decode(bytes).replaceAll("\u0000", "\uFFFD");
}
