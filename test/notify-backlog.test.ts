import { afterAll, beforeAll, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { notifications, webhooks } from "@/db/schema";
import { encryptSecret, webhookSecretAddress } from "@/lib/crypto";
import { DeliveryWorker, enqueue } from "@/lib/notify/outbox";
import { freshDatabase, type TestDatabase } from "./helpers/db";
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

it("delivers a receiver's whole backlog within 10 s of it answering again after a 20 s outage", async () => {
  const [hook] = await t.database.db
    .insert(webhooks)
    .values({ name: "ops", url: receiver.url, secretEnc: encryptSecret(receiver.secret, SERVICE_KEY, webhookSecretAddress(receiver.url)), headers: {} })
    .returning();
  receiver.failNext(1_000_000);
  // the default 1 s base: after 20 s of failures the backoffs have grown to 8–32 s
  worker = new DeliveryWorker(t.database, { secret: SERVICE_KEY, pollMs: 200, log: () => {} });
  worker.start();
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
  worker.wake();
  await new Promise((r) => setTimeout(r, 20_000));
  expect(receiver.requests.filter((r) => r.answered === 503).length).toBeGreaterThanOrEqual(12);

  const backAt = performance.timeOrigin + performance.now();
  receiver.failNext(0);
  const delivered = async () =>
    (await t.database.db.select().from(notifications).where(eq(notifications.state, "delivered"))).length;
  while ((await delivered()) < 12 && performance.timeOrigin + performance.now() - backAt < 30_000) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const last = Math.max(...receiver.requests.filter((r) => r.answered === 200).map((r) => r.at));
  const backlogMs = last - backAt;
  console.log(`backlog of 12 delivered ${Math.round(backlogMs)} ms after the receiver answered again`);
  expect(await delivered()).toBe(12);
  expect(backlogMs).toBeLessThan(10_000);
  // each notification delivered once, under its own webhook-id
  const ids = receiver.requests.filter((r) => r.answered === 200).map((r) => r.headers["webhook-id"]);
  expect(new Set(ids).size).toBe(12);
  expect(ids).toHaveLength(12);
}, 60_000);
