import { createCipheriv, createHash, randomBytes } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import net, { type AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { inspect } from "node:util";
import { eq } from "drizzle-orm";
import mqttPacket from "mqtt-packet";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getBroker } from "@/db/brokers";
import { notifications, webhooks } from "@/db/schema";
import { decryptSecret, webhookSecretAddress } from "@/lib/crypto";
import { enqueue } from "@/lib/notify/outbox";
import type { Service } from "@/server/service";
import { createBroker, editBroker, storedBrokerPassword } from "@/lib/settings/brokers";
import { sealStoredSecrets } from "@/lib/settings/secrets";
import { sendTestNotification } from "@/lib/settings/test-webhook";
import { createWebhook, editWebhook, webhookTarget } from "@/lib/settings/webhooks";
import * as brokerTestRoute from "@/app/api/brokers/test/route";
import { startTestService } from "./helpers/service";
import { startWebhookReceiver, type WebhookReceiver } from "./helpers/webhook-receiver";

/**
 * A stored secret is sent only to the address it was saved for: pointing a broker or a webhook
 * somewhere else (through the API, or directly in the database) never carries the old password,
 * signing secret or header values there.
 */
const SERVICE_KEY = "security-secrets-service-key";
const BOOTSTRAP = `bootstrap-${randomBytes(8).toString("hex")}`;
const OLD_PASSWORD = "old-broker-password-for-plant-a";

/** A tiny MQTT listener that records every CONNECT's credentials and accepts it. */
async function startRecordingBroker() {
  const connects: { username: string | null; password: string | null }[] = [];
  const server = net.createServer((socket) => {
    socket.on("error", () => {});
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on("packet", (packet) => {
      if (packet.cmd === "connect") {
        connects.push({
          username: packet.username ?? null,
          password: packet.password ? Buffer.from(packet.password).toString("utf8") : null,
        });
        socket.write(mqttPacket.generate({ cmd: "connack", returnCode: 0, sessionPresent: false }));
      } else if (packet.cmd === "subscribe") {
        socket.write(
          mqttPacket.generate({
            cmd: "suback",
            messageId: packet.messageId,
            granted: packet.subscriptions.map(() => 0),
          }),
        );
      }
    });
    parser.on("error", () => socket.destroy());
    socket.on("data", (d) => parser.parse(d));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connects,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** What an earlier version stored: `v1.` AES-256-GCM without associated data. */
function legacyEncrypt(plain: string, key: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", createHash("sha256").update(key).digest(), iv);
  const data = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
  return ["v1", iv, cipher.getAuthTag(), data]
    .map((p) => (typeof p === "string" ? p : p.toString("base64url")))
    .join(".");
}

function testConnection(body: Record<string, unknown>) {
  return brokerTestRoute.POST(
    new Request("http://brokerwatch.test/api/brokers/test", {
      method: "POST",
      headers: { authorization: `Bearer ${BOOTSTRAP}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    }),
  );
}

let service: Service;
let dropDatabase: (() => Promise<void>) | undefined;
let previousToken: string | undefined;

beforeAll(async () => {
  previousToken = process.env.BROKERWATCH_API_TOKEN;
  process.env.BROKERWATCH_API_TOKEN = BOOTSTRAP;
  ({ service, dropDatabase } = await startTestService({
    dataDir: await mkdtemp(path.join(os.tmpdir(), "bw-secrets-")),
    configPath: null,
    env: {},
    adminPassword: "admin-password-for-secrets",
    secret: SERVICE_KEY,
    bundled: null,
    log: () => {},
  }));
});

afterAll(async () => {
  await service?.stop();
  await dropDatabase?.();
  process.env.BROKERWATCH_API_TOKEN = previousToken;
});

describe("a stored broker password", () => {
  let plantA: Awaited<ReturnType<typeof startRecordingBroker>>;
  let elsewhere: Awaited<ReturnType<typeof startRecordingBroker>>;

  beforeAll(async () => {
    [plantA, elsewhere] = await Promise.all([startRecordingBroker(), startRecordingBroker()]);
    await createBroker(service.database.db, {
      name: "plant-a",
      url: plantA.url,
      username: "monitor",
      password: OLD_PASSWORD,
      enabled: false,
    });
  });
  afterAll(async () => {
    await Promise.all([plantA?.close(), elsewhere?.close()]);
  });

  it("is not sent by a test connection to another address under the stored broker's name", async () => {
    const res = await testConnection({ name: "plant-a", url: elsewhere.url, username: "monitor" });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { parameter: string; message: string } };
    expect(body.error.parameter).toBe("password");
    expect(body.error.message).toMatch(/only sent to mqtt:\/\/127\.0\.0\.1:\d+; enter the password again/);
    expect(elsewhere.connects).toEqual([]);
  });

  it("is sent by a test connection to its own address, and a typed password goes to a new one", async () => {
    const own = await testConnection({ name: "plant-a", url: plantA.url, username: "monitor" });
    expect(own.status).toBe(200);
    expect(plantA.connects).toContainEqual({ username: "monitor", password: OLD_PASSWORD });

    const typed = await testConnection({ name: "plant-a", url: elsewhere.url, username: "monitor", password: "typed" });
    expect(typed.status).toBe(200);
    expect(elsewhere.connects).toEqual([{ username: "monitor", password: "typed" }]);
  });

  it("needs the password again when the broker is moved to another host:port or scheme", async () => {
    const db = service.database.db;
    for (const url of [elsewhere.url, plantA.url.replace("mqtt://", "mqtts://")]) {
      await expect(editBroker(db, "plant-a", { url })).rejects.toMatchObject({
        code: "bad_request",
        details: { parameter: "password" },
        message: expect.stringMatching(/^password: the stored password of broker "plant-a" is only sent to/),
      });
    }
    // the same address written differently keeps it
    await editBroker(db, "plant-a", { url: `${plantA.url}/` });
    expect(await storedBrokerPassword(db, "plant-a", plantA.url)).toBe(OLD_PASSWORD);
    // a new password for the new address is stored for that address only
    await editBroker(db, "plant-a", { url: elsewhere.url, password: "new-password" });
    expect(await storedBrokerPassword(db, "plant-a", elsewhere.url)).toBe("new-password");
    await expect(storedBrokerPassword(db, "plant-a", plantA.url)).rejects.toMatchObject({ code: "bad_request" });
  });

  it("cannot be decrypted once its URL is changed directly in the database", async () => {
    await createBroker(service.database.db, {
      name: "plant-b",
      url: plantA.url,
      password: OLD_PASSWORD,
      enabled: false,
    });
    const row = (await getBroker(service.database.db, "plant-b"))!;
    expect(row.passwordEnc).not.toContain(OLD_PASSWORD);
    expect(() => decryptSecret(row.passwordEnc!, SERVICE_KEY, "mqtt://attacker.example:1883")).toThrow(
      /saved for another address/,
    );
    await service.database.db.execute(
      // what a person with database access might do: point the row elsewhere, keep the ciphertext
      (await import("drizzle-orm")).sql`update brokers set url = ${elsewhere.url} where name = 'plant-b'`,
    );
    const before = elsewhere.connects.length;
    const res = await testConnection({ name: "plant-b", url: elsewhere.url });
    expect(res.status).toBe(409);
    expect(elsewhere.connects.length).toBe(before);
  });
});

describe("a stored webhook secret and custom header values", () => {
  const oldSecret = `whsec_${randomBytes(32).toString("base64")}`;
  const newSecret = `whsec_${randomBytes(32).toString("base64")}`;
  let id: number;
  let first: WebhookReceiver;
  let second: WebhookReceiver;

  beforeAll(async () => {
    [first, second] = await Promise.all([
      startWebhookReceiver({ path: "/hook" }),
      startWebhookReceiver({ path: "/hook" }),
    ]);
    const created = await createWebhook(service.database.db, {
      name: "oncall",
      url: first.url,
      secret: oldSecret,
      headers: { Authorization: "Bearer old-receiver-credential" },
    });
    id = created.id;
  });
  afterAll(async () => {
    await Promise.all([first?.close(), second?.close()]);
  });

  it("stores header values as ciphertext bound to the URL", async () => {
    const [row] = await service.database.db.select().from(webhooks).where(eq(webhooks.id, id));
    expect(Object.keys(row.headers)).toEqual(["Authorization"]);
    expect(JSON.stringify(row)).not.toContain("old-receiver-credential");
    expect(row.headers.Authorization).toMatch(/^v2\./);
    expect(decryptSecret(row.headers.Authorization, SERVICE_KEY, webhookSecretAddress(first.url))).toBe(
      "Bearer old-receiver-credential",
    );
    expect(() => decryptSecret(row.headers.Authorization, SERVICE_KEY, webhookSecretAddress(second.url))).toThrow();
  });

  it("refuses a new URL without the secret and header values again (400), and takes it with them", async () => {
    const db = service.database.db;
    await expect(editWebhook(db, id, { url: second.url })).rejects.toMatchObject({
      code: "bad_request",
      details: { parameter: "secret" },
      message: expect.stringMatching(
        /signing secret and custom header values .* only sent to http:\/\/127\.0\.0\.1:\d+\/hook/,
      ),
    });
    await expect(editWebhook(db, id, { url: second.url, secret: newSecret })).rejects.toMatchObject({
      code: "bad_request",
      details: { parameter: "headers" },
    });
    // a query string alone is the same address: nothing to re-enter
    await editWebhook(db, id, { url: `${first.url}?team=ops`, sendResolved: false });

    const moved = await editWebhook(db, id, {
      url: second.url,
      secret: newSecret,
      headers: { Authorization: "Bearer new-receiver-credential" },
    });
    expect(moved).toMatchObject({ url: second.url, signed: true, headerNames: ["Authorization"] });
  });

  it("sends the test notification after the move with the new secret and headers only", async () => {
    const result = await sendTestNotification(await webhookTarget(service.database.db, id), {
      externalURL: "http://brokerwatch.test",
    });
    expect(result).toMatchObject({ delivered: true, signed: true });
    expect(first.requests).toEqual([]);
    expect(second.requests).toHaveLength(1);
    const [got] = second.requests;
    expect(got.headers.authorization).toBe("Bearer new-receiver-credential");
    expect(JSON.stringify(got)).not.toContain("old-receiver-credential");
    expect(() => new Webhook(newSecret).verify(got.body, got.headers)).not.toThrow();
    expect(() => new Webhook(oldSecret).verify(got.body, got.headers)).toThrow();
  });

  it("sends nothing when the URL was changed directly in the database", async () => {
    const db = service.database.db;
    await db.update(webhooks).set({ url: first.url }).where(eq(webhooks.id, id));
    await expect(webhookTarget(db, id)).rejects.toMatchObject({
      code: "conflict",
      message: expect.stringMatching(/saved for another address/),
    });
    expect(first.requests).toEqual([]);
  });

  it("delivers alerts through the outbox with the decrypted headers, and nothing to a URL moved in the database", async () => {
    const db = service.database.db;
    const paged = await createWebhook(db, {
      name: "paged",
      url: second.url,
      secret: newSecret,
      headers: { "X-Token": "paged-token" },
    });
    const body = JSON.stringify({ version: "4", status: "firing", alerts: [] });
    await enqueue(db, { webhookId: paged.id, dedupKey: "k1", groupKey: "g", status: "firing", body });
    await enqueue(db, { webhookId: id, dedupKey: "k1", groupKey: "g", status: "firing", body });
    await expect
      .poll(() => second.requests.find((r) => r.headers["x-token"] === "paged-token"), { timeout: 10_000 })
      .toBeDefined();
    // "oncall" was pointed at the first receiver behind the API's back: its secrets do not decrypt there
    await expect
      .poll(
        async () =>
          (await db.select().from(notifications).where(eq(notifications.webhookId, id)))[0]?.lastError ?? null,
        { timeout: 10_000 },
      )
      .toMatch(/saved for another address/);
    expect(first.requests).toEqual([]);
  });

  it("seals what an earlier version stored: clear header values and an unbound secret", async () => {
    const db = service.database.db;
    const [legacy] = await db
      .insert(webhooks)
      .values({
        name: "legacy",
        url: first.url,
        secretEnc: legacyEncrypt(oldSecret, SERVICE_KEY),
        headers: { "X-Token": "legacy-clear-token" },
      })
      .returning();
    expect(legacy.headersEncrypted).toBe(false);
    await sealStoredSecrets(db, SERVICE_KEY, () => {});
    const [row] = await db.select().from(webhooks).where(eq(webhooks.id, legacy.id));
    expect(row.headersEncrypted).toBe(true);
    expect(JSON.stringify(row)).not.toContain("legacy-clear-token");
    expect(row.secretEnc).toMatch(/^v2\./);
    expect(await webhookTarget(db, legacy.id)).toMatchObject({
      secret: oldSecret,
      headers: { "X-Token": "legacy-clear-token" },
    });
    // idempotent
    await sealStoredSecrets(db, SERVICE_KEY, () => {});
    expect((await db.select().from(webhooks).where(eq(webhooks.id, legacy.id)))[0]).toEqual(row);
  });
});

describe("a failed query", () => {
  it("carries its SQL text and error into a log, never its parameters", async () => {
    const db = service.database.db;
    const err = await db
      .insert(webhooks)
      // the name is unique: the second insert fails with the header value among its parameters
      .values([
        { name: "dup", url: "http://127.0.0.1:1/x", headers: { A: "param-value-never-logged" } },
        { name: "dup", url: "http://127.0.0.1:1/x", headers: { A: "param-value-never-logged" } },
      ])
      .then(
        () => null,
        (e: unknown) => e as Error,
      );
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toMatch(/^Failed query: insert into "webhooks"/);
    const logged = [err!.message, err!.stack, inspect(err), String(err)].join("\n");
    expect(logged).not.toContain("param-value-never-logged");
    expect(logged).toMatch(/duplicate key|unique/);
  });
});
