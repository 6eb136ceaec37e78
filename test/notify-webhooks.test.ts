import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { webhooks } from "@/db/schema";
import { WebhookSchema } from "@/lib/config/schema";
import { decryptSecret } from "@/lib/crypto";
import { applyWebhookConfig, listWebhooks } from "@/lib/notify/webhooks";
import { freshDatabase, type TestDatabase } from "./helpers/db";

const SERVICE_KEY = "service-key";
const WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

describe("webhooks from brokerwatch.yaml", () => {
  let testDb: TestDatabase;
  beforeAll(async () => {
    testDb = await freshDatabase();
  });
  afterAll(() => testDb?.drop());

  const byName = async (name: string) => {
    const [row] = await testDb.database.db.select().from(webhooks).where(eq(webhooks.name, name));
    return row;
  };

  it("stores the whsec secret encrypted and applies the file idempotently", async () => {
    const { db } = testDb.database;
    const config = [
      WebhookSchema.parse({ name: "ops-oncall", url: "https://hooks.example.com/bw", secret: WHSEC, groupWait: "30s" }),
      WebhookSchema.parse({ name: "chat", url: "https://chat.example.com/hook", groupBy: ["cluster"] }),
    ];
    expect(await applyWebhookConfig(db, config, SERVICE_KEY)).toEqual({
      applied: ["ops-oncall", "chat"],
      disabled: [],
    });
    expect(await applyWebhookConfig(db, config, SERVICE_KEY)).toEqual({
      applied: ["ops-oncall", "chat"],
      disabled: [],
    });

    const ops = await byName("ops-oncall");
    expect(ops).toMatchObject({
      source: "file",
      enabled: true,
      groupWaitSeconds: 30,
      sendResolved: true,
      groupBy: null,
    });
    expect(ops.secretEnc).not.toContain(WHSEC.slice(6));
    expect(decryptSecret(ops.secretEnc!, SERVICE_KEY, "https://hooks.example.com/bw")).toBe(WHSEC);
    expect(await byName("chat")).toMatchObject({ secretEnc: null, groupBy: ["cluster"] });
    expect(await testDb.database.db.$count(webhooks)).toBe(2);
  });

  it("disables, never deletes, a webhook taken out of the file, and leaves UI webhooks alone", async () => {
    const { db } = testDb.database;
    await db.insert(webhooks).values({ name: "made-in-ui", url: "https://ui.example.com/hook" });
    const result = await applyWebhookConfig(
      db,
      [WebhookSchema.parse({ name: "ops-oncall", url: "https://hooks.example.com/bw", secret: WHSEC })],
      SERVICE_KEY,
    );
    expect(result.disabled).toEqual(["chat"]);
    expect(await byName("chat")).toMatchObject({ enabled: false });
    expect(await byName("made-in-ui")).toMatchObject({ enabled: true, source: "ui" });
  });

  it("keeps a webhook whose receiver answered 410 Gone off across restarts until its URL changes", async () => {
    const { db } = testDb.database;
    await db
      .update(webhooks)
      .set({ disabledReason: "receiver answered 410 Gone at …" })
      .where(eq(webhooks.name, "ops-oncall"));
    const sameUrl = [WebhookSchema.parse({ name: "ops-oncall", url: "https://hooks.example.com/bw", secret: WHSEC })];
    await applyWebhookConfig(db, sameUrl, SERVICE_KEY);
    expect((await byName("ops-oncall")).disabledReason).toMatch(/410 Gone/);
    const newUrl = [WebhookSchema.parse({ name: "ops-oncall", url: "https://hooks.example.com/v2", secret: WHSEC })];
    await applyWebhookConfig(db, newUrl, SERVICE_KEY);
    expect((await byName("ops-oncall")).disabledReason).toBeNull();
  });

  it("lists webhooks for the API without their secrets", async () => {
    const listed = await listWebhooks(testDb.database.db);
    expect(listed.map((w) => [w.name, w.signed])).toEqual([
      ["chat", false],
      ["made-in-ui", false],
      ["ops-oncall", true],
    ]);
    expect(JSON.stringify(listed)).not.toContain("secret");
  });
});
