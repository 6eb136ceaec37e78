import { afterAll, beforeAll, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { notifications, webhooks } from "@/db/schema";
import { DeliveryWorker, enqueue } from "@/lib/notify/outbox";
import { freshDatabase, type TestDatabase } from "./helpers/db";
import { startWebhookReceiver, type WebhookReceiver } from "./helpers/webhook-receiver";

/**
 * The incident behind issue 23: a receiver answering 500 for 15 minutes had one notification
 * POSTed 291 times, every 3–4 s, while a second, healthy receiver kept taking its pages. A failing
 * receiver must back off exponentially per delivery, whatever happens on other receivers.
 *
 * The worker runs on an injected clock that goes 300× faster than the wall clock, so 15 minutes of
 * its time pass in about 3 s; the test waits on the worker's clock, never on a sleep of its own.
 */
const SERVICE_KEY = "service-key";
const SPEED = 300;
let t: TestDatabase;
let failing: WebhookReceiver;
let healthy: WebhookReceiver;
let worker: DeliveryWorker | null = null;

beforeAll(async () => {
  [t, failing, healthy] = await Promise.all([freshDatabase(), startWebhookReceiver(), startWebhookReceiver()]);
});
afterAll(async () => {
  await worker?.stop();
  await Promise.all([failing?.close(), healthy?.close()]);
  await t?.drop();
});

it("backs a receiver answering 500 off exponentially while another receiver keeps delivering", async () => {
  const db = t.database.db;
  const [bad] = await db.insert(webhooks).values({ name: "failing", url: failing.url, headers: {} }).returning();
  const [good] = await db.insert(webhooks).values({ name: "healthy", url: healthy.url, headers: {} }).returning();
  failing.failNext(1_000_000, 500);

  const started = Date.now();
  const clock = () => started + (Date.now() - started) * SPEED;
  worker = new DeliveryWorker(t.database, { secret: SERVICE_KEY, pollMs: 20, now: clock, log: () => {} });
  const page = (webhookId: number, n: number) =>
    enqueue(db, {
      webhookId,
      dedupKey: `page-${n}`,
      groupKey: `{}:{alertname="Page${n}"}`,
      status: "firing",
      body: JSON.stringify({ version: "4", status: "firing", n }),
    });
  await page(bad.id, 0);
  worker.start();

  // the healthy receiver gets a page every simulated 30 s for 15 simulated minutes
  const fifteenMinutes = 15 * 60_000;
  let n = 1;
  while (clock() - started < fifteenMinutes) {
    if (clock() - started >= n * 30_000) {
      await page(good.id, n);
      worker.wake();
      n += 1;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  await worker.stop();
  worker = null;

  const delivered = await db.select().from(notifications).where(eq(notifications.webhookId, good.id));
  expect(delivered.filter((row) => row.state === "delivered").length).toBeGreaterThanOrEqual(n - 3);

  const posts = failing.requests.length;
  console.log(`failing receiver: ${posts} POSTs of one notification in 15 simulated minutes`);
  // 1 s doubling to a 5-minute cap, each delay at least half its step: at most 14 in 15 minutes
  expect(posts).toBeLessThanOrEqual(14);
  // …and it was still being retried, not given up on
  expect(posts).toBeGreaterThanOrEqual(6);
  const [row] = await db.select().from(notifications).where(eq(notifications.webhookId, bad.id));
  expect(row).toMatchObject({ state: "pending", attempts: posts, lastStatusCode: 500 });
}, 60_000);
