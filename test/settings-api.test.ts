import { randomBytes } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import net, { type AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { eq } from "drizzle-orm";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getBroker } from "@/db/brokers";
import { notifications, webhooks } from "@/db/schema";
import { createSession, SESSION_COOKIE } from "@/lib/auth/session";
import { checkPassword, createUser } from "@/lib/auth/users";
import { decryptSecret, webhookSecretAddress } from "@/lib/crypto";
import { getRuntime } from "@/lib/runtime";
import type { Service } from "@/server/service";
import type { ConnectionTestResult, WebhookTestResult } from "@/lib/settings/views";
import * as brokersRoute from "@/app/api/brokers/route";
import * as brokerRoute from "@/app/api/brokers/[name]/route";
import * as brokerTestRoute from "@/app/api/brokers/test/route";
import * as webhooksRoute from "@/app/api/webhooks/route";
import * as webhookRoute from "@/app/api/webhooks/[id]/route";
import * as webhookTestRoute from "@/app/api/webhooks/[id]/test/route";
import * as tokensRoute from "@/app/api/tokens/route";
import * as tokenRoute from "@/app/api/tokens/[id]/route";
import * as usersRoute from "@/app/api/users/route";
import * as userRoute from "@/app/api/users/[id]/route";
import { startTestService } from "./helpers/service";
import { writeConfigFile } from "./helpers/fixtures";
import { startWebhookReceiver } from "./helpers/webhook-receiver";
import { freePort } from "./helpers/ports";
import { call, ORIGIN, params, request, type Credentials, type Json } from "./helpers/settings-requests";

/**
 * The settings API as the settings pages (and an operator's scripts) drive it: the route handlers
 * called with real Requests against a running service (database, collectors, alert engine), real
 * Mosquittos for "test connection" and a real HTTP receiver for "send test notification".
 */
const BOOTSTRAP = `bootstrap-${randomBytes(8).toString("hex")}`;
const ADMIN_PASSWORD = "admin-password-for-settings";
const BROKER_PASSWORD = "br0ker-pa55word-never-served";
const FILE_BROKER_PASSWORD = "file-broker-password-never-served";

const admin: Credentials = { token: BOOTSTRAP };

async function sessionFor(service: Service, username: string, password: string, role: "admin" | "viewer") {
  const user = (await createUser(service.database.db, username, password, role))!;
  const { token } = await createSession(service.database.db, user.id);
  return { id: user.id, cookie: `${SESSION_COOKIE}=${token}` };
}

let service: Service;
let dropDatabase: (() => Promise<void>) | null = null;
let previousToken: string | undefined;
let adminSession: { id: number; cookie: string };
let viewerSession: { id: number; cookie: string };
let viewerToken: string;

beforeAll(async () => {
  previousToken = process.env.BROKERWATCH_API_TOKEN;
  process.env.BROKERWATCH_API_TOKEN = BOOTSTRAP;
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "bw-settings-"));
  const configPath = await writeConfigFile([
    "brokers:",
    "  - name: plant-file",
    "    url: mqtt://127.0.0.1:1",
    "    dialect: mosquitto",
    "    username: monitor",
    `    password: ${FILE_BROKER_PASSWORD}`,
    "webhooks:",
    "  - name: file-hook",
    "    url: http://127.0.0.1:1/hook",
  ]);
  ({ service, dropDatabase } = await startTestService({
    dataDir,
    configPath,
    env: {},
    adminPassword: ADMIN_PASSWORD,
    secret: "settings-test-service-key",
    bundled: { port: 0, host: "127.0.0.1", sysIntervalSeconds: 1 },
    log: () => {},
  }));
  adminSession = await sessionFor(service, "alice", "alice-password-1", "admin");
  viewerSession = await sessionFor(service, "victor", "victor-password-1", "viewer");
  const created = await call(tokensRoute.POST(request("POST", "/api/tokens", admin, { name: "viewer-script" })));
  viewerToken = created.body.token;
});

afterAll(async () => {
  await service?.stop();
  await dropDatabase?.();
  process.env.BROKERWATCH_API_TOKEN = previousToken;
});

describe("brokers", () => {
  it("refuses a broker URL that is not mqtt://, naming the url field", async () => {
    const res = await call(
      brokersRoute.POST(request("POST", "/api/brokers", admin, { name: "plant-x", url: "http://10.0.0.5:1883" })),
    );
    expect(res.status).toBe(400);
    expect(res.body.error.parameter).toBe("url");
    expect(res.body.error.message).toMatch(/^url: must be an mqtt:\/\/, mqtts:\/\/, ws:\/\/ or wss:\/\/ URL/);
  });

  it("names a missing field, an unknown field and a body that is not JSON", async () => {
    const missing = await call(brokersRoute.POST(request("POST", "/api/brokers", admin, { name: "plant-x" })));
    expect(missing.status).toBe(400);
    expect(missing.body.error).toMatchObject({ parameter: "url", message: "url: is required" });
    const unknown = await call(
      brokersRoute.POST(
        request("POST", "/api/brokers", admin, { name: "plant-x", url: "mqtt://h:1883", passwd: "oops" }),
      ),
    );
    expect(unknown.body.error).toMatchObject({ parameter: "passwd", message: "passwd: unknown field" });
    const garbage = await call(brokersRoute.POST(request("POST", "/api/brokers", admin, "{not json")));
    expect(garbage.status).toBe(400);
    expect(garbage.body.error.parameter).toBe("body");
  });

  it("creates a broker, stores its password encrypted and never returns it", async () => {
    const res = await call(
      brokersRoute.POST(
        request("POST", "/api/brokers", admin, {
          name: "plant-ui",
          url: "mqtt://127.0.0.1:1",
          dialect: "auto",
          username: "monitor",
          password: BROKER_PASSWORD,
          cluster: "",
          maxConnections: "5000",
        }),
      ),
    );
    expect(res.status).toBe(201);
    expect(res.text).not.toContain(BROKER_PASSWORD);
    expect(res.body.broker).toMatchObject({
      name: "plant-ui",
      source: "ui",
      hasPassword: true,
      username: "monitor",
      cluster: null,
      maxConnections: 5000,
    });
    expect(res.body.broker).not.toHaveProperty("password");
    expect(res.body.broker).not.toHaveProperty("passwordEnc");

    const row = (await getBroker(service.database.db, "plant-ui"))!;
    expect(row.passwordEnc).not.toContain(BROKER_PASSWORD);
    expect(decryptSecret(row.passwordEnc!, "settings-test-service-key", "mqtt://127.0.0.1:1")).toBe(BROKER_PASSWORD);
    // the collector started without a restart
    expect(service.collectors.get("plant-ui")).toBeDefined();

    const list = await call(brokersRoute.GET(request("GET", "/api/brokers", admin)));
    expect(list.body.brokers.map((b: Json) => b.name)).toContain("plant-ui");
    expect(list.text).not.toContain(BROKER_PASSWORD);
    expect(list.text).not.toContain(FILE_BROKER_PASSWORD);
    expect(list.text).not.toContain(row.passwordEnc!);
  });

  it("refuses a second broker with a taken name, saying where the first one lives", async () => {
    const ui = await call(
      brokersRoute.POST(request("POST", "/api/brokers", admin, { name: "plant-ui", url: "mqtt://127.0.0.1:2" })),
    );
    expect(ui.status).toBe(409);
    const file = await call(
      brokersRoute.POST(request("POST", "/api/brokers", admin, { name: "plant-file", url: "mqtt://127.0.0.1:2" })),
    );
    expect(file.status).toBe(409);
    expect(file.body.error.message).toMatch(/already exists in brokerwatch\.yaml/);
    expect((await getBroker(service.database.db, "plant-file"))!.url).toBe("mqtt://127.0.0.1:1");
  });

  it("edits a broker: validates the merged definition and keeps the write-only password unless told", async () => {
    const bad = await call(
      brokerRoute.PATCH(
        request("PATCH", "/api/brokers/plant-ui", admin, { url: "tcp://nowhere" }),
        params({ name: "plant-ui" }),
      ),
    );
    expect(bad.status).toBe(400);
    expect(bad.body.error.parameter).toBe("url");

    const rename = await call(
      brokerRoute.PATCH(
        request("PATCH", "/api/brokers/plant-ui", admin, { name: "other" }),
        params({ name: "plant-ui" }),
      ),
    );
    expect(rename.status).toBe(400);
    expect(rename.body.error.parameter).toBe("name");

    const edited = await call(
      brokerRoute.PATCH(
        request("PATCH", "/api/brokers/plant-ui", admin, {
          url: "mqtt://127.0.0.1:1/",
          password: "",
          cluster: "plant",
        }),
        params({ name: "plant-ui" }),
      ),
    );
    expect(edited.status).toBe(200);
    expect(edited.body.broker).toMatchObject({ url: "mqtt://127.0.0.1:1/", cluster: "plant", hasPassword: true });
    expect(edited.text).not.toContain(BROKER_PASSWORD);
    const row = (await getBroker(service.database.db, "plant-ui"))!;
    expect(decryptSecret(row.passwordEnc!, "settings-test-service-key", "mqtt://127.0.0.1:1")).toBe(BROKER_PASSWORD);

    const cleared = await call(
      brokerRoute.PATCH(
        request("PATCH", "/api/brokers/plant-ui", admin, { password: null, cluster: null }),
        params({ name: "plant-ui" }),
      ),
    );
    expect(cleared.body.broker).toMatchObject({ hasPassword: false, cluster: null });
  });

  it("disables and re-enables a broker, stopping and starting its collector", async () => {
    const off = await call(
      brokerRoute.PATCH(
        request("PATCH", "/api/brokers/plant-ui", admin, { enabled: false }),
        params({ name: "plant-ui" }),
      ),
    );
    expect(off.body.broker.enabled).toBe(false);
    expect(service.collectors.get("plant-ui")).toBeUndefined();
    const on = await call(
      brokerRoute.PATCH(
        request("PATCH", "/api/brokers/plant-ui", admin, { enabled: true }),
        params({ name: "plant-ui" }),
      ),
    );
    expect(on.body.broker.enabled).toBe(true);
    expect(service.collectors.get("plant-ui")).toBeDefined();
  });

  it("refuses to edit a broker from brokerwatch.yaml or the bundled broker, saying where to change it", async () => {
    const file = await call(
      brokerRoute.PATCH(
        request("PATCH", "/api/brokers/plant-file", admin, { enabled: false }),
        params({ name: "plant-file" }),
      ),
    );
    expect(file.status).toBe(409);
    expect(file.body.error.message).toMatch(/defined in brokerwatch\.yaml; change it there/);
    expect((await getBroker(service.database.db, "plant-file"))!.enabled).toBe(true);

    const bundled = await call(
      brokerRoute.PATCH(
        request("PATCH", "/api/brokers/bundled", admin, { enabled: false }),
        params({ name: "bundled" }),
      ),
    );
    expect(bundled.status).toBe(409);
    expect(bundled.body.error.message).toMatch(/bundled broker, built in/);

    const missing = await call(
      brokerRoute.PATCH(request("PATCH", "/api/brokers/nope", admin, { enabled: false }), params({ name: "nope" })),
    );
    expect(missing.status).toBe(404);
  });

  it("edits a broker named test through the static /api/brokers/test segment", async () => {
    await call(brokersRoute.POST(request("POST", "/api/brokers", admin, { name: "test", url: "mqtt://127.0.0.1:1" })));
    const res = await call(brokerTestRoute.PATCH(request("PATCH", "/api/brokers/test", admin, { enabled: false })));
    expect(res.status).toBe(200);
    expect(res.body.broker).toMatchObject({ name: "test", enabled: false });
  });
});

describe("test connection without a broker", () => {
  const test = async (body: Json) => {
    const res = await call(brokerTestRoute.POST(request("POST", "/api/brokers/test", admin, body)));
    expect(res.status).toBe(200);
    return res.body.result as ConnectionTestResult;
  };

  it("says the connection was refused on a port where nothing listens", async () => {
    const port = await freePort();
    const started = Date.now();
    const result = await test({ url: `mqtt://127.0.0.1:${port}` });
    expect(result.connected).toBe(false);
    expect(result.error).toMatchObject({ kind: "refused" });
    expect(result.error!.message).toMatch(new RegExp(`connection refused by 127\\.0\\.0\\.1:${port}`));
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("times out on a port that accepts TCP but never answers CONNECT", async () => {
    const silent = net.createServer(() => {}); // holds the socket, says nothing
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const port = (silent.address() as AddressInfo).port;
    try {
      const res = await call(
        brokerTestRoute.POST(request("POST", "/api/brokers/test", admin, { url: `mqtt://127.0.0.1:${port}` })),
      );
      expect(res.body.result.connected).toBe(false);
      expect(res.body.result.error.kind).toBe("timeout");
      expect(res.body.result.error.message).toMatch(/no answer to CONNECT within 5 s/);
    } finally {
      silent.close();
    }
  }, 15_000);
});

describe("webhooks", () => {
  const secret = `whsec_${randomBytes(32).toString("base64")}`;
  let id: number;

  it("creates a webhook and never returns its secret or header values", async () => {
    const res = await call(
      webhooksRoute.POST(
        request("POST", "/api/webhooks", admin, {
          name: "oncall",
          url: "http://127.0.0.1:1/hook",
          secret,
          headers: { Authorization: "Bearer receiver-credential" },
          groupWait: "30s",
        }),
      ),
    );
    expect(res.status).toBe(201);
    expect(res.body.webhook).toMatchObject({
      name: "oncall",
      signed: true,
      source: "ui",
      headerNames: ["Authorization"],
      groupWaitSeconds: 30,
    });
    expect(res.text).not.toContain(secret.slice(6));
    expect(res.text).not.toContain("receiver-credential");
    id = res.body.webhook.id;

    const list = await call(webhooksRoute.GET(request("GET", "/api/webhooks", { token: viewerToken })));
    expect(list.body.webhooks.map((w: Json) => [w.name, w.source])).toEqual(
      expect.arrayContaining([
        ["oncall", "ui"],
        ["file-hook", "file"],
      ]),
    );
    expect(list.text).not.toContain(secret.slice(6));
    expect(list.text).not.toContain("receiver-credential");
  });

  it("names the bad field: a URL, a secret (without echoing it), a duration", async () => {
    const url = await call(
      webhooksRoute.POST(request("POST", "/api/webhooks", admin, { name: "x", url: "ftp://example.com" })),
    );
    expect(url.body.error.parameter).toBe("url");
    const badSecret = await call(
      webhooksRoute.POST(
        request("POST", "/api/webhooks", admin, { name: "x", url: "https://example.com", secret: "hunter2hunter2" }),
      ),
    );
    expect(badSecret.status).toBe(400);
    expect(badSecret.body.error.parameter).toBe("secret");
    expect(badSecret.text).not.toContain("hunter2");
    const duration = await call(
      webhookRoute.PATCH(
        request("PATCH", `/api/webhooks/${id}`, admin, { repeatInterval: "soon" }),
        params({ id: String(id) }),
      ),
    );
    expect(duration.body.error.parameter).toBe("repeatInterval");
  });

  /** Points the webhook at `url` and sends it a test notification through the API. */
  async function testNotificationTo(url: string) {
    await call(
      webhookRoute.PATCH(
        // a new address needs the secret and header values again
        request("PATCH", `/api/webhooks/${id}`, admin, {
          url,
          secret,
          headers: { Authorization: "Bearer receiver-credential" },
        }),
        params({ id: String(id) }),
      ),
    );
    return call(webhookTestRoute.POST(request("POST", `/api/webhooks/${id}/test`, admin), params({ id: String(id) })));
  }

  it("sends a signed Alertmanager v4 test notification straight to the receiver", async () => {
    const receiver = await startWebhookReceiver({ secret });
    try {
      const res = await testNotificationTo(receiver.url);
      expect(res.status).toBe(200);
      const result = res.body.result as WebhookTestResult;
      expect(result).toMatchObject({ delivered: true, statusCode: 200, error: null, signed: true });
      expect(result.durationMs).toBeGreaterThanOrEqual(0);

      expect(receiver.requests).toHaveLength(1);
      const [got] = receiver.requests;
      // The receiver's check, with the reference library and the secret it was given.
      const message = new Webhook(secret).verify(got.body, got.headers) as Json;
      expect(got.headers["webhook-id"]).toBe(result.messageId);
      expect(got.headers.authorization).toBe("Bearer receiver-credential");
      expect(message).toMatchObject({ version: "4", status: "firing", receiver: "oncall", externalURL: ORIGIN });
      expect(message.alerts).toHaveLength(1);
      expect(message.alerts[0]).toMatchObject({
        status: "firing",
        labels: { alertname: "BrokerwatchTest", broker: "brokerwatch", severity: "info" },
        endsAt: "0001-01-01T00:00:00Z",
      });
      expect(message.groupKey).toBe('{}:{alertname="BrokerwatchTest"}');
      // not through the outbox: nothing of it queued or logged
      const queued = await service.database.db.select({ body: notifications.body }).from(notifications);
      expect(queued.filter((n) => n.body.includes("BrokerwatchTest"))).toEqual([]);
    } finally {
      await receiver.close();
    }
  });

  it("shows what a failing receiver answered, and a receiver that is not there", async () => {
    const receiver = await startWebhookReceiver({ secret });
    receiver.failNext(1, 500);
    try {
      const res = await testNotificationTo(receiver.url);
      expect(res.body.result).toMatchObject({
        delivered: false,
        statusCode: 500,
        error: "HTTP 500: receiver unavailable (test)",
      });
    } finally {
      await receiver.close();
    }
    const gone = await testNotificationTo(`http://127.0.0.1:${await freePort()}/hook`);
    expect(gone.body.result).toMatchObject({ delivered: false, statusCode: null });
    expect(gone.body.result.error).toMatch(/connection refused/);
  });

  it("keeps the secret on edit unless told, and re-enables after a 410 Gone", async () => {
    const db = service.database.db;
    await call(
      webhookRoute.PATCH(
        request("PATCH", `/api/webhooks/${id}`, admin, { secret: "", sendResolved: false }),
        params({ id: String(id) }),
      ),
    );
    let [row] = await db.select().from(webhooks).where(eq(webhooks.id, id));
    expect(decryptSecret(row.secretEnc!, "settings-test-service-key", webhookSecretAddress(row.url))).toBe(secret);
    expect(row.sendResolved).toBe(false);

    await db.update(webhooks).set({ disabledReason: "receiver answered 410 Gone at …" }).where(eq(webhooks.id, id));
    const listed = await call(webhooksRoute.GET(request("GET", "/api/webhooks", admin)));
    expect(listed.body.webhooks.find((w: Json) => w.id === id).disabledReason).toMatch(/410 Gone/);
    const reenabled = await call(
      webhookRoute.PATCH(request("PATCH", `/api/webhooks/${id}`, admin, { enabled: true }), params({ id: String(id) })),
    );
    expect(reenabled.body.webhook).toMatchObject({ enabled: true, disabledReason: null });

    const disabled = await call(
      webhookRoute.PATCH(
        request("PATCH", `/api/webhooks/${id}`, admin, { enabled: false }),
        params({ id: String(id) }),
      ),
    );
    expect(disabled.body.webhook.enabled).toBe(false);
    [row] = await db.select().from(webhooks).where(eq(webhooks.id, id));
    expect(row.enabled).toBe(false);
  });

  it("treats a brokerwatch.yaml webhook as read-only, except for lifting a 410 stop", async () => {
    const db = service.database.db;
    const [file] = await db.select().from(webhooks).where(eq(webhooks.name, "file-hook"));
    const fileId = String(file.id);
    const edit = await call(
      webhookRoute.PATCH(
        request("PATCH", `/api/webhooks/${fileId}`, admin, { url: "https://x.example" }),
        params({ id: fileId }),
      ),
    );
    expect(edit.status).toBe(409);
    expect(edit.body.error.message).toMatch(/defined in brokerwatch\.yaml/);

    await db.update(webhooks).set({ disabledReason: "receiver answered 410 Gone" }).where(eq(webhooks.id, file.id));
    const reenable = await call(
      webhookRoute.PATCH(request("PATCH", `/api/webhooks/${fileId}`, admin, { enabled: true }), params({ id: fileId })),
    );
    expect(reenable.status).toBe(200);
    expect(reenable.body.webhook.disabledReason).toBeNull();
  });
});

describe("tokens", () => {
  it("creates a token shown once, lists it by prefix, and revokes it", async () => {
    const created = await call(
      tokensRoute.POST(request("POST", "/api/tokens", admin, { name: "grafana", role: "viewer" })),
    );
    expect(created.status).toBe(201);
    const { token, id, prefix } = created.body;
    expect(token).toMatch(/^bw_/);
    expect(token.startsWith(prefix)).toBe(true);

    const list = await call(tokensRoute.GET(request("GET", "/api/tokens", admin)));
    const listed = list.body.tokens.find((t: Json) => t.id === id);
    expect(listed).toMatchObject({ name: "grafana", role: "viewer", prefix, revokedAt: null });
    expect(list.text).not.toContain(token);
    expect(list.text).not.toMatch(/tokenHash|token_hash/);

    expect((await call(brokersRoute.GET(request("GET", "/api/brokers", { token })))).status).toBe(200);
    const after = await call(tokensRoute.GET(request("GET", "/api/tokens", admin)));
    expect(after.body.tokens.find((t: Json) => t.id === id).lastUsedAt).not.toBeNull();

    expect(
      (await call(tokenRoute.DELETE(request("DELETE", `/api/tokens/${id}`, admin), params({ id: String(id) })))).status,
    ).toBe(200);
    expect((await call(brokersRoute.GET(request("GET", "/api/brokers", { token })))).status).toBe(401);
    const again = await call(
      tokenRoute.DELETE(request("DELETE", `/api/tokens/${id}`, admin), params({ id: String(id) })),
    );
    expect(again.status).toBe(404);
  });

  it("requires a name", async () => {
    const res = await call(tokensRoute.POST(request("POST", "/api/tokens", admin, { name: " ", role: "viewer" })));
    expect(res.body.error.parameter).toBe("name");
    const role = await call(tokensRoute.POST(request("POST", "/api/tokens", admin, { name: "x", role: "root" })));
    expect(role.body.error).toMatchObject({ parameter: "role", message: "role: must be one of admin, viewer" });
  });
});

describe("users", () => {
  it("adds a user, refuses a taken name and a short password, and changes a password", async () => {
    const created = await call(
      usersRoute.POST(
        request("POST", "/api/users", admin, { username: "olga", password: "olga-password", role: "viewer" }),
      ),
    );
    expect(created.status).toBe(201);
    expect(created.body.user).toMatchObject({ username: "olga", role: "viewer" });
    expect(created.text).not.toMatch(/olga-password|passwordHash|argon2/);

    const taken = await call(
      usersRoute.POST(
        request("POST", "/api/users", admin, { username: "olga", password: "olga-password", role: "viewer" }),
      ),
    );
    expect(taken.status).toBe(409);
    const short = await call(
      usersRoute.POST(request("POST", "/api/users", admin, { username: "pat", password: "short", role: "viewer" })),
    );
    expect(short.body.error).toMatchObject({
      parameter: "password",
      message: "password: must be at least 8 characters",
    });

    const id = String(created.body.user.id);
    const changed = await call(
      userRoute.PATCH(request("PATCH", `/api/users/${id}`, admin, { password: "olga-new-password" }), params({ id })),
    );
    expect(changed.status).toBe(200);
    expect(await checkPassword(service.database.db, "olga", "olga-new-password")).not.toBeNull();
    expect(await checkPassword(service.database.db, "olga", "olga-password")).toBeNull();

    const list = await call(usersRoute.GET(request("GET", "/api/users", { cookie: viewerSession.cookie })));
    expect(list.body.users.map((u: Json) => u.username)).toEqual(expect.arrayContaining(["admin", "alice", "olga"]));
    expect(list.text).not.toMatch(/passwordHash|\$argon2/);

    expect((await call(userRoute.DELETE(request("DELETE", `/api/users/${id}`, admin), params({ id })))).status).toBe(
      200,
    );
  });

  it("does not let an admin remove themselves", async () => {
    const id = String(adminSession.id);
    const res = await call(
      userRoute.DELETE(request("DELETE", `/api/users/${id}`, { cookie: adminSession.cookie }), params({ id })),
    );
    expect(res.status).toBe(409);
    expect(res.body.error.message).toMatch(/cannot remove yourself/);
  });

  it("never removes the last admin", async () => {
    const db = service.database.db;
    const users = (await call(usersRoute.GET(request("GET", "/api/users", admin)))).body.users as Json[];
    const adminId = String(users.find((u) => u.username === "admin")!.id);
    // two admins (admin, alice): one may go
    expect(
      (
        await call(
          userRoute.DELETE(
            request("DELETE", `/api/users/${adminId}`, { cookie: adminSession.cookie }),
            params({ id: adminId }),
          ),
        )
      ).status,
    ).toBe(200);
    // alice is now the last admin: not even the bootstrap token removes her
    const aliceId = String(adminSession.id);
    const last = await call(
      userRoute.DELETE(request("DELETE", `/api/users/${aliceId}`, admin), params({ id: aliceId })),
    );
    expect(last.status).toBe(409);
    expect(last.body.error.message).toMatch(/"alice" is the last admin/);
    expect(await checkPassword(db, "alice", "alice-password-1")).not.toBeNull();
  });
});

describe("who may change settings", () => {
  const mutations = (): [string, () => Promise<Response> | Response][] => {
    const viewer = { cookie: viewerSession.cookie };
    return [
      [
        "POST /api/brokers",
        () => brokersRoute.POST(request("POST", "/api/brokers", viewer, { name: "v", url: "mqtt://h:1883" })),
      ],
      [
        "PATCH /api/brokers/plant-ui",
        () =>
          brokerRoute.PATCH(
            request("PATCH", "/api/brokers/plant-ui", viewer, { enabled: false }),
            params({ name: "plant-ui" }),
          ),
      ],
      [
        "POST /api/brokers/test",
        () => brokerTestRoute.POST(request("POST", "/api/brokers/test", viewer, { url: "mqtt://127.0.0.1:1" })),
      ],
      [
        "POST /api/webhooks",
        () => webhooksRoute.POST(request("POST", "/api/webhooks", viewer, { name: "v", url: "https://x.example" })),
      ],
      [
        "PATCH /api/webhooks/1",
        () => webhookRoute.PATCH(request("PATCH", "/api/webhooks/1", viewer, { enabled: false }), params({ id: "1" })),
      ],
      [
        "POST /api/webhooks/1/test",
        () => webhookTestRoute.POST(request("POST", "/api/webhooks/1/test", viewer), params({ id: "1" })),
      ],
      [
        "POST /api/tokens",
        () => tokensRoute.POST(request("POST", "/api/tokens", viewer, { name: "v", role: "admin" })),
      ],
      [
        "DELETE /api/tokens/1",
        () => tokenRoute.DELETE(request("DELETE", "/api/tokens/1", viewer), params({ id: "1" })),
      ],
      [
        "POST /api/users",
        () =>
          usersRoute.POST(
            request("POST", "/api/users", viewer, { username: "v", password: "viewer-pass", role: "admin" }),
          ),
      ],
      [
        "PATCH /api/users/1",
        () =>
          userRoute.PATCH(request("PATCH", "/api/users/1", viewer, { password: "new-password" }), params({ id: "1" })),
      ],
      ["DELETE /api/users/1", () => userRoute.DELETE(request("DELETE", "/api/users/1", viewer), params({ id: "1" }))],
    ];
  };

  it("answers 403 to a viewer's session on every mutation, and changes nothing", async () => {
    const tokensBefore = (await call(tokensRoute.GET(request("GET", "/api/tokens", admin)))).body.tokens.length;
    for (const [what, send] of mutations()) {
      const res = await call(send());
      expect(res.status, what).toBe(403);
      expect(res.body.error.message, what).toMatch(/needs an admin/);
    }
    expect((await call(tokensRoute.GET(request("GET", "/api/tokens", admin)))).body.tokens.length).toBe(tokensBefore);
  });

  it("answers 403 to a viewer token too, and 401 to nobody", async () => {
    const viewer = await call(
      brokersRoute.POST(request("POST", "/api/brokers", { token: viewerToken }, { name: "v", url: "mqtt://h:1883" })),
    );
    expect(viewer.status).toBe(403);
    const nobody = await call(
      usersRoute.POST(request("POST", "/api/users", null, { username: "v", password: "x".repeat(10), role: "admin" })),
    );
    expect(nobody.status).toBe(401);
  });

  it("refuses a cross-site POST that carries an admin's session cookie", async () => {
    const body = { username: "mallory", password: "mallory-password", role: "admin" };
    const res = await call(
      usersRoute.POST(
        request("POST", "/api/users", { cookie: adminSession.cookie, origin: "https://evil.example" }, body),
      ),
    );
    expect(res.status).toBe(403);
    expect(res.body.error.message).toMatch(/cross-site request refused/);
    expect(await checkPassword(service.database.db, "mallory", "mallory-password")).toBeNull();
    // the same request from our own pages goes through
    const same = await call(usersRoute.POST(request("POST", "/api/users", { cookie: adminSession.cookie }, body)));
    expect(same.status).toBe(201);
  });

  it("serves the settings routes from the running service's runtime", () => {
    expect(getRuntime().secret).toBe("settings-test-service-key");
  });
});
