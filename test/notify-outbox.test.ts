import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { Webhook } from "standardwebhooks";
import { notifications, webhooks } from "@/db/schema";
import { encryptSecret, webhookSecretAddress } from "@/lib/crypto";
import type { NotificationStatus } from "@/lib/notify/format";
import { DeliveryWorker, enqueue, parseRetryAfter, type DeliveryWorkerOptions } from "@/lib/notify/outbox";
import { deliveryLog } from "@/lib/notify/webhooks";
import { freshDatabase, type TestDatabase } from "./helpers/db";

const SERVICE_KEY = "service-key";
const WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

interface Received {
  at: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}
interface Answer {
  status: number;
  headers?: Record<string, string>;
  /** answer only after this long (to outlast the worker's timeout) */
  delayMs?: number;
}

/** A webhook receiver on a free port; `answer(n)` decides the reply to the n-th request (0-based). */
async function receiver(answer: (n: number, body: string) => Answer) {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      const reply = answer(received.length, body);
      received.push({ at: Date.now(), headers: req.headers, body });
      const timer = setTimeout(
        () => res.writeHead(reply.status, reply.headers).end("receiver says hi"),
        reply.delayMs ?? 0,
      );
      res.on("close", () => clearTimeout(timer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * Waits for a state. The deadline only bounds a failing test: on a busy 2-core machine a worker's
 * round can take seconds, so it is generous (a passing test never waits for it).
 */
async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("delivery outbox", () => {
  let testDb: TestDatabase;
  const cleanups: (() => Promise<void>)[] = [];
  let counter = 0;

  beforeAll(async () => {
    testDb = await freshDatabase();
  });
  // Each test's workers and rows end with it: a leftover would be delivered in the next test.
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await testDb.database.db
      .update(notifications)
      .set({ state: "cancelled" })
      .where(eq(notifications.state, "pending"));
    expect(internalErrors.splice(0)).toEqual([]);
  });
  afterAll(() => testDb?.drop());

  async function webhook(url: string, opts: { secret?: boolean; headers?: Record<string, string> } = {}) {
    const [row] = await testDb.database.db
      .insert(webhooks)
      .values({
        name: `hook-${++counter}`,
        url,
        secretEnc: opts.secret === false ? null : encryptSecret(WHSEC, SERVICE_KEY, webhookSecretAddress(url)),
        headers: opts.headers ?? {},
      })
      .returning();
    return row;
  }

  async function notify(
    webhookId: number,
    groupKey = '{}:{alertname="MQTT_Broker_Down"}',
    status: NotificationStatus = "firing",
  ) {
    const body = JSON.stringify({ version: "4", status, groupKey, n: ++counter, text: "plant-a ünïcode" });
    expect(
      await enqueue(testDb.database.db, {
        webhookId,
        dedupKey: `k${counter}`,
        groupKey,
        status,
        body,
      }),
    ).toBe(true);
    const [row] = await testDb.database.db
      .select()
      .from(notifications)
      .where(eq(notifications.dedupKey, `k${counter}`));
    return row;
  }

  /** what the workers logged about themselves failing (not about receivers): must stay empty */
  const internalErrors: string[] = [];
  function worker(opts: Partial<DeliveryWorkerOptions> = {}) {
    const log = (line: string) => {
      if (line.startsWith("brokerwatch: webhook delivery")) internalErrors.push(line);
    };
    const w = new DeliveryWorker(testDb.database, { secret: SERVICE_KEY, pollMs: 50, backoffBaseMs: 20, log, ...opts });
    cleanups.push(() => w.stop());
    return w;
  }

  async function stateOf(id: number) {
    const [row] = await testDb.database.db.select().from(notifications).where(eq(notifications.id, id));
    return row;
  }

  async function serve(answer: (n: number, body: string) => Answer) {
    const r = await receiver(answer);
    cleanups.push(r.close);
    return r;
  }

  it("enqueues a notification once, however often the dispatcher retries it", async () => {
    const hook = await webhook("http://127.0.0.1:9/");
    const entry = { webhookId: hook.id, dedupKey: "same", groupKey: "{}:{}", status: "firing" as const, body: "{}" };
    expect(await enqueue(testDb.database.db, entry)).toBe(true);
    expect(await enqueue(testDb.database.db, entry)).toBe(false);
    await testDb.database.db.delete(notifications).where(eq(notifications.webhookId, hook.id));
  });

  it("retries a receiver answering 503 twice and delivers once, with one webhook-id and valid signatures", async () => {
    const r = await serve((n) => ({ status: n < 2 ? 503 : 200 }));
    const hook = await webhook(r.url, { headers: { Authorization: "Bearer receiver-token" } });
    const row = await notify(hook.id);
    const w = worker();
    w.start();
    w.wake();
    await waitFor("delivery", async () => (await stateOf(row.id)).state === "delivered");

    expect(r.received).toHaveLength(3);
    expect(new Set(r.received.map((req) => req.headers["webhook-id"]))).toEqual(new Set([row.messageId]));
    for (const req of r.received) {
      expect(req.body).toBe(row.body);
      expect(req.headers["content-type"]).toBe("application/json");
      expect(req.headers.authorization).toBe("Bearer receiver-token");
      expect(new Webhook(WHSEC).verify(req.body, req.headers as Record<string, string>)).toEqual(JSON.parse(row.body));
    }
    expect(await stateOf(row.id)).toMatchObject({ attempts: 3, lastStatusCode: 200 });
    const log = await deliveryLog(testDb.database.db, hook.id, 10);
    expect(log.map((entry) => entry.statusCode)).toEqual([200, 503, 503]);
    expect(log[2].error).toBe("HTTP 503: receiver says hi");
    expect(log.every((entry) => entry.state === "delivered" && entry.messageId === row.messageId)).toBe(true);
    expect(w.stats).toMatchObject({ delivered: 1, failedAttempts: 2, permanentFailures: 0 });
  });

  it("waits as long as a throttling receiver's Retry-After asks", async () => {
    const r = await serve((n) => (n === 0 ? { status: 429, headers: { "Retry-After": "1" } } : { status: 204 }));
    const row = await notify((await webhook(r.url)).id);
    const w = worker();
    w.start();
    await waitFor("delivery", async () => (await stateOf(row.id)).state === "delivered");
    expect(r.received[1].at - r.received[0].at).toBeGreaterThanOrEqual(1000);
  });

  it("disables a webhook whose receiver answers 410 Gone and cancels its queue", async () => {
    const r = await serve(() => ({ status: 410 }));
    const hook = await webhook(r.url);
    const first = await notify(hook.id, "{}:{a}");
    const second = await notify(hook.id, "{}:{b}");
    const w = worker();
    w.start();
    await waitFor("cancellation", async () => (await stateOf(second.id)).state === "cancelled");
    expect((await stateOf(first.id)).state).toBe("cancelled");
    const [disabled] = await testDb.database.db.select().from(webhooks).where(eq(webhooks.id, hook.id));
    expect(disabled.disabledReason).toMatch(/^receiver answered 410 Gone at \d{4}-/);
    expect(r.received.length).toBeLessThanOrEqual(2);
    expect(w.stats.permanentFailures).toBeGreaterThanOrEqual(1);
  });

  it("gives up at once on a 400: the same body would be refused again", async () => {
    const r = await serve(() => ({ status: 400 }));
    const row = await notify((await webhook(r.url)).id);
    const w = worker();
    w.start();
    await waitFor("failure", async () => (await stateOf(row.id)).state === "failed");
    await sleep(300);
    expect(r.received).toHaveLength(1);
    expect(await stateOf(row.id)).toMatchObject({ attempts: 1, lastStatusCode: 400 });
    expect(w.stats).toMatchObject({ permanentFailures: 1, delivered: 0 });
  });

  it("retries a receiver that hangs past the timeout", async () => {
    // the first request hangs until the receiver closes; the others are answered at once (a busy
    // machine may still take longer than the timeout to do so, and then it is retried again)
    const r = await serve((n) => ({ status: 200, delayMs: n === 0 ? 60_000 : 0 }));
    const hook = await webhook(r.url);
    const row = await notify(hook.id);
    const w = worker({ timeoutMs: 500 });
    w.start();
    await waitFor("delivery", async () => (await stateOf(row.id)).state === "delivered");
    expect(r.received.length).toBeGreaterThanOrEqual(2);
    const log = await deliveryLog(testDb.database.db, hook.id, 10);
    expect(log.at(-1)).toMatchObject({ statusCode: null, error: "no answer within 500 ms" });
    expect(log[0]).toMatchObject({ statusCode: 200 });
  });

  it("loses nothing when the worker is stopped while waiting to retry", async () => {
    const r = await serve((n) => (n === 0 ? { status: 503, headers: { "Retry-After": "1" } } : { status: 200 }));
    const row = await notify((await webhook(r.url)).id);
    const before = worker();
    before.start();
    await waitFor("first attempt", () => r.received.length === 1);
    await waitFor("retry scheduled", async () => (await stateOf(row.id)).attempts === 1);
    await before.stop();

    const after = worker();
    after.start();
    await waitFor("delivery by the new worker", async () => (await stateOf(row.id)).state === "delivered");
    expect(r.received.map((req) => req.headers["webhook-id"])).toEqual([row.messageId, row.messageId]);
    expect(after.stats.delivered).toBe(1);
  });

  it("hands a request cut off by shutdown straight to the next worker", async () => {
    const r = await serve((n) => ({ status: 200, delayMs: n === 0 ? 5000 : 0 }));
    const row = await notify((await webhook(r.url)).id);
    const before = worker();
    before.start();
    await waitFor("request in flight", () => r.received.length === 1);
    await before.stop();
    expect(await stateOf(row.id)).toMatchObject({ state: "pending", attempts: 0 });

    const after = worker();
    after.start();
    // no 30 s lease to wait out: the stopped worker released the row
    await waitFor("delivery", async () => (await stateOf(row.id)).state === "delivered", 20_000);
  });

  it("never tells a receiver 'resolved' before the 'firing' it resolves", async () => {
    const r = await serve((n) => ({ status: n === 0 ? 503 : 200 }));
    const hook = await webhook(r.url);
    const fire = await notify(hook.id, "{}:{g}", "firing");
    const resolve = await notify(hook.id, "{}:{g}", "resolved");
    const w = worker();
    w.start();
    await waitFor("both delivered", async () => (await stateOf(resolve.id)).state === "delivered");
    expect(r.received.map((req) => JSON.parse(req.body).status)).toEqual(["firing", "firing", "resolved"]);
    expect((await stateOf(fire.id)).state).toBe("delivered");
  });

  it("delivers a group's resolution within a minute when the receiver never answers its firing in time", async () => {
    // the firing hangs past the timeout every time it is tried; anything else is answered at once
    const r = await serve((_n, body) => ({
      status: 200,
      delayMs: (JSON.parse(body) as { status: string }).status === "firing" ? 60_000 : 0,
    }));
    const hook = await webhook(r.url);
    const fire = await notify(hook.id, "{}:{hung}", "firing");
    const resolve = await notify(hook.id, "{}:{hung}", "resolved");
    const clock = { offset: 0 };
    // a timeout an immediate answer meets on a busy machine (the resolution must be delivered once)
    const w = worker({ timeoutMs: 3000, backoffBaseMs: 60_000, now: () => Date.now() + clock.offset });
    w.start();
    await waitFor("the firing timed out", async () => (await stateOf(fire.id)).attempts === 1);
    await sleep(300);
    // the resolution still waits behind it (the receiver may yet answer)…
    expect((await stateOf(resolve.id)).state).toBe("pending");
    expect(r.received.every((req) => JSON.parse(req.body).status === "firing")).toBe(true);
    // …but not beyond a minute
    clock.offset = 61_000;
    w.wake();
    await waitFor("the resolution delivered", async () => (await stateOf(resolve.id)).state === "delivered");
    // the resolution, carrying the group's state, replaced the firing (probed meanwhile, never answered)
    const statuses = r.received.map((req) => JSON.parse(req.body).status);
    expect(statuses.at(-1)).toBe("resolved");
    expect(statuses.filter((s) => s === "resolved")).toHaveLength(1);
    expect(await stateOf(fire.id)).toMatchObject({
      state: "cancelled",
      lastError: "superseded by a newer notification of its group",
    });
    const log = await deliveryLog(testDb.database.db, hook.id, 10);
    expect(log.some((a) => a.error === "no answer within 3000 ms")).toBe(true);
  });

  it("keeps paging a healthy receiver while another one hangs on a backlog of 70 pages", async () => {
    // the slow receiver answers nothing until it is closed after the test
    const slow = await serve(() => ({ status: 200, delayMs: 60_000 }));
    const fast = await serve(() => ({ status: 200 }));
    const slowHook = await webhook(slow.url);
    const backlog: number[] = [];
    for (let i = 0; i < 70; i++) backlog.push((await notify(slowHook.id, `{}:{broker="b${i}"}`)).id);
    const w = worker({ timeoutMs: 60_000 });
    w.start();
    await waitFor("slow requests in flight", () => slow.received.length > 0);
    const fastRow = await notify((await webhook(fast.url)).id);
    w.wake();
    // delivered while every request to the hung receiver is still in flight (none answered, none
    // timed out), so nothing waited for the slow receiver to give up
    await waitFor("fast delivery", async () => (await stateOf(fastRow.id)).state === "delivered");
    const attempted = await Promise.all(backlog.map(async (id) => (await stateOf(id)).attempts));
    expect(attempted.every((n) => n === 0)).toBe(true);
    // the hung receiver holds a few slots, not the whole worker
    expect(slow.received.length).toBe(4);
  });

  it("gives up on a notification still failing after 24 hours", async () => {
    const r = await serve(() => ({ status: 502 }));
    const row = await notify((await webhook(r.url)).id);
    const w = worker({ now: () => Date.now() + 25 * 3600_000 });
    w.start();
    await waitFor("failure", async () => (await stateOf(row.id)).state === "failed");
    expect((await stateOf(row.id)).lastError).toMatch(/^gave up after 1 attempts over 24 h; last: HTTP 502/);
  });

  it("sends an unsigned webhook the idempotency key only", async () => {
    const r = await serve(() => ({ status: 200 }));
    const row = await notify((await webhook(r.url, { secret: false })).id);
    const w = worker();
    w.start();
    await waitFor("delivery", async () => (await stateOf(row.id)).state === "delivered");
    expect(r.received[0].headers["webhook-id"]).toBe(row.messageId);
    expect(r.received[0].headers["webhook-signature"]).toBeUndefined();
  });
});

describe("Retry-After", () => {
  it("reads seconds and HTTP-dates", () => {
    const now = Date.parse("2026-05-01T10:00:00Z");
    expect(parseRetryAfter("120", now)).toBe(120_000);
    expect(parseRetryAfter("Fri, 01 May 2026 10:00:30 GMT", now)).toBe(30_000);
    expect(parseRetryAfter("Fri, 01 May 2026 09:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon", now)).toBeNull();
    expect(parseRetryAfter(null, now)).toBeNull();
  });
});
