import { jsonObject, route } from "@/lib/api/route";
import { getRuntime } from "@/lib/runtime";
import { storedBrokerPassword } from "@/lib/settings/brokers";
import { parseInput, withoutBlanks } from "@/lib/settings/input";
import { BrokerTestSchema } from "@/lib/settings/schemas";
import { testBrokerConnection } from "@/lib/settings/test-connection";
import { PATCH as patchBroker } from "../[name]/route";

export const dynamic = "force-dynamic";

/**
 * POST /api/brokers/test (admin) — `{ url, username?, password?, sysTopicPrefix?, name? }`: connects
 * once (5 s timeout, its own client id, clean session), listens on `$SYS/#` for up to 3 s and answers
 * 200 `{ result: { connected, error, version, detectedDialect, sysReadable, … } }` whatever the broker
 * said: a refused connection is a result, not a failed request. With `name` and no password, the
 * stored password of that broker is used (the edit form never holds it), only for the address it
 * was saved for: another address is a 400 asking for the password.
 */
export const POST = route({ auth: "admin", body: jsonObject }, async ({ body }) => {
  // the form sends "" for a blank field: dropped before validation, so the schema runs on the result
  const input = parseInput(BrokerTestSchema, withoutBlanks(body));
  const db = getRuntime().database.db;
  const password = input.password ?? (input.name ? await storedBrokerPassword(db, input.name, input.url) : null);
  return { result: await testBrokerConnection({ ...input, password }) };
});

/** PATCH /api/brokers/test edits a broker named "test": this static segment shadows /api/brokers/[name] for it. */
export function PATCH(request: Request): Promise<Response> {
  return patchBroker(request, { params: Promise.resolve({ name: "test" }) });
}
