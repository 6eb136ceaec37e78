import { afterAll, beforeAll, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { deliveryAttempts, notifications, webhooks } from "@/db/schema";
import { healthCounts, receiverHealthById } from "@/lib/notify/health";
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
  const posts = failing.requests.length;
  console.log(`failing receiver: ${posts} POSTs of one notification in 15 simulated minutes`);
  // 1 s doubling to a 5-minute cap, each delay at least half its step: at most 14 in 15 minutes
  expect(posts).toBeLessThanOrEqual(14);
  // …and it was still being retried, not given up on
  expect(posts).toBeGreaterThanOrEqual(4);

  // every page to the healthy receiver arrives meanwhile
  const deliveredToGood = async () =>
    (await db.select().from(notifications).where(eq(notifications.webhookId, good.id))).filter((r) => r.state === "delivered")
      .length;
  const deadline = Date.now() + 30_000;
  while ((await deliveredToGood()) < n - 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await worker.stop();
  worker = null;
  expect(await deliveredToGood()).toBe(n - 1);
  expect(healthy.requests.every((r) => r.answered === 200)).toBe(true);

  const [row] = await db.select().from(notifications).where(eq(notifications.webhookId, bad.id));
  expect(row).toMatchObject({ state: "pending", attempts: failing.requests.length, lastStatusCode: 500 });

  // where people look: the failing receiver is not "enabled" and green, it says since when and why
  const health = await receiverHealthById(
    db,
    [
      { id: bad.id, enabled: true, disabledReason: null },
      { id: good.id, enabled: true, disabledReason: null },
    ],
    new Date(),
  );
  const badHealth = health.get(bad.id)!;
  expect(badHealth).toMatchObject({ state: "failing", delivered: 0, total: 1, pending: 1, lastProblem: "HTTP 500" });
  // since its first attempt, near the start on the worker's clock, not its newest (15 min later)
  expect(Date.parse(badHealth.failingSince!) - started).toBeLessThan(5 * 60_000);
  expect(healthCounts(badHealth)).toBe("0/1 delivered · HTTP 500");
  const goodHealth = health.get(good.id)!;
  expect(goodHealth).toMatchObject({ state: "delivering", failingSince: null, lastProblem: null });
  expect(goodHealth).toMatchObject({ delivered: n - 1, total: n - 1 });
}, 60_000);

it("says a receiver is failing since the first failure after its last success, and delivering once it answers", async () => {
  const db = t.database.db;
  const [hook] = await db.insert(webhooks).values({ name: "flaky", url: "http://127.0.0.1:9/", headers: {} }).returning();
  const base = Date.parse("2026-12-07T22:00:00Z");
  const at = (min: number) => new Date(base + min * 60_000);
  const [n1] = await db
    .insert(notifications)
    .values({ webhookId: hook.id, messageId: "msg_h1", dedupKey: "h1", groupKey: "g", status: "firing", body: "{}", state: "delivered" })
    .returning();
  await db.insert(deliveryAttempts).values([
    { notificationId: n1.id, webhookId: hook.id, attemptedAt: at(10), statusCode: 200, durationMs: 3 },
    { notificationId: n1.id, webhookId: hook.id, attemptedAt: at(25), statusCode: 500, durationMs: 3 },
    { notificationId: n1.id, webhookId: hook.id, attemptedAt: at(40), statusCode: null, error: "fetch failed: ECONNREFUSED", durationMs: 3 },
  ]);
  const receiver = [{ id: hook.id, enabled: true, disabledReason: null }];
  const failing = (await receiverHealthById(db, receiver, new Date())).get(hook.id)!;
  expect(failing).toMatchObject({ state: "failing", failingSince: at(25).toISOString(), lastProblem: "fetch failed: ECONNREFUSED" });

  await db.insert(deliveryAttempts).values({ notificationId: n1.id, webhookId: hook.id, attemptedAt: at(45), statusCode: 204, durationMs: 3 });
  expect((await receiverHealthById(db, receiver, new Date())).get(hook.id)).toMatchObject({
    state: "delivering",
    failingSince: null,
    lastDeliveredAt: at(45).toISOString(),
  });
  // switched off or stopped by a 410 says so, whatever the log holds
  expect((await receiverHealthById(db, [{ ...receiver[0], enabled: false }], new Date())).get(hook.id)!.state).toBe("disabled");
});
