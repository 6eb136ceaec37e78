import { afterAll, beforeAll, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { notifications, webhooks } from "@/db/schema";
import { encryptSecret, webhookSecretAddress } from "@/lib/crypto";
import { DeliveryWorker, enqueue } from "@/lib/notify/outbox";
import { freshDatabase, type TestDatabase } from "./helpers/db";
import { waitFor } from "./helpers/ports";
import { startWebhookReceiver, type WebhookReceiver } from "./helpers/webhook-receiver";

/**
 * A webhook receiver back from an outage gets its backlog within seconds: each notification backs
 * off on its own jittered schedule, so among a backlog one is soon due, and its first success pulls
 * the others' retries (to the same receiver) forward rather than each waiting out its backoff.
 */
const SERVICE_KEY = "service-key";
let t: TestDatabase;
let receiver: WebhookReceiver;
let worker: DeliveryWorker | null = null;

beforeAll(async () => {
  [t, receiver] = await Promise.all([freshDatabase(), startWebhookReceiver()]);
});
afterAll(async () => {
  await worker?.stop();
  await receiver?.close();
  await t?.drop();
});

/** The pending notifications: when each is next due, and whether a worker holds it. */
async function pending() {
  return t.database.db
    .select({ nextAttemptAt: notifications.nextAttemptAt, claimedAt: notifications.claimedAt })
    .from(notifications)
    .where(eq(notifications.state, "pending"));
}

it("delivers a receiver's whole backlog within 10 s of it answering again after a 20 s outage", async () => {
  const [hook] = await t.database.db
    .insert(webhooks)
    .values({ name: "ops", url: receiver.url, secretEnc: encryptSecret(receiver.secret, SERVICE_KEY, webhookSecretAddress(receiver.url)), headers: {} })
    .returning();
  receiver.failNext(1_000_000);
  // The worker runs on this clock: the test moves it on instead of waiting 20 s of wall-clock
  // time, and lets the worker send everything due before moving it again.
  let clock = Date.now();
  const settle = async () => {
    worker!.wake();
    await waitFor(
      "every due notification attempted",
      async () => (await pending()).every((r) => r.claimedAt === null && r.nextAttemptAt.getTime() > clock),
      30_000,
      10,
    );
  };
  // the default 1 s base: after 20 s of failures the backoffs have grown to 8–32 s
  worker = new DeliveryWorker(t.database, { secret: SERVICE_KEY, pollMs: 50, now: () => clock, log: () => {} });
  for (let i = 0; i < 12; i++) {
    await enqueue(t.database.db, {
      webhookId: hook.id,
      dedupKey: `page-${i}`,
      // separate groups: none waits for another's delivery
      groupKey: `{}:{alertname="Page${i}"}`,
      status: "firing",
      body: JSON.stringify({ version: "4", status: "firing", n: i }),
    });
  }
  clock = Date.now(); // every row is due (enqueued at the database's now)
  worker.start();
  const outageStart = clock;
  while (clock - outageStart < 20_000) {
    await settle();
    clock += 1000;
  }
  expect(receiver.requests.filter((r) => r.answered === 503).length).toBeGreaterThanOrEqual(12);

  const backAt = clock;
  receiver.failNext(0);
  // from now on the clock jumps straight to the next due attempt
  for (;;) {
    await settle();
    const rows = await pending();
    if (rows.length === 0 || clock - backAt > 60_000) break;
    clock = Math.max(clock + 1, Math.min(...rows.map((r) => r.nextAttemptAt.getTime())));
  }
  const delivered = await t.database.db.select().from(notifications).where(eq(notifications.state, "delivered"));
  expect(delivered).toHaveLength(12);
  const backlogMs = Math.max(...delivered.map((n) => n.deliveredAt!.getTime())) - backAt;
  console.log(`backlog of 12 delivered ${backlogMs} ms (worker clock) after the receiver answered again`);
  expect(backlogMs).toBeLessThan(10_000);
  // each notification delivered once, under its own webhook-id
  const ids = receiver.requests.filter((r) => r.answered === 200).map((r) => r.headers["webhook-id"]);
  expect(new Set(ids).size).toBe(12);
  expect(ids).toHaveLength(12);
});
