import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import mqtt from "mqtt";
import { startApp, type RunningApp } from "../helpers/app";
import { freePort } from "../helpers/ports";
import { loginCookie } from "../helpers/session";

/** `npm start` end to end: the whole service in one process, started and stopped as an operator would. */
describe("npm start", () => {
  let app: RunningApp;

  beforeAll(async () => {
    // `$SYS` is for the monitor and configured users only: the probes below log in as one
    app = await startApp({ env: { BUNDLED_BROKER_USERS: "ops:ops-password" } });
  });
  afterAll(async () => {
    await app?.stop();
  });

  it("answers GET /api/health with 200 ok", async () => {
    const res = await fetch(`${app.url}/api/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });

  it("sends a visitor without a session to the login page, and shows a signed-in admin the bundled broker", async () => {
    const anonymous = await fetch(`${app.url}/`, { redirect: "manual" });
    expect(anonymous.status).toBe(307);
    expect(anonymous.headers.get("location")).toMatch(/\/login\?next=%2F$/);
    expect((await fetch(`${app.url}/login`)).status).toBe(200);
    const cookie = await loginCookie(app.url, "admin", app.adminPassword!);
    const res = await fetch(`${app.url}/`, { headers: { cookie } });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('data-broker="bundled"');
  });

  it("prints the UI URL, the broker URL and a generated admin password on first start", () => {
    expect(app.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(app.mqttUrl).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+$/);
    expect(app.adminPassword).toMatch(/^\S{12,}$/);
  });

  for (const protocolVersion of [4, 5] as const) {
    it(`lets an MQTT ${protocolVersion === 4 ? "3.1.1" : "5"} client receive $SYS/# within 2 s of subscribing`, async () => {
      const client = mqtt.connect(app.mqttUrl!, {
        protocolVersion,
        reconnectPeriod: 0,
        clientId: `probe-v${protocolVersion}`,
        username: "ops",
        password: "ops-password",
      });
      try {
        await new Promise<void>((resolve, reject) => {
          client.once("connect", () => resolve());
          client.once("error", reject);
        });
        const subscribedAt = Date.now();
        const first = new Promise<string>((resolve) => client.once("message", (topic) => resolve(topic)));
        client.subscribe("$SYS/#");
        const topic = await Promise.race([
          first,
          new Promise<never>((_, r) => setTimeout(() => r(new Error("no $SYS in 2 s")), 2000)),
        ]);
        expect(topic.startsWith("$SYS/")).toBe(true);
        expect(Date.now() - subscribedAt).toBeLessThan(2000);
      } finally {
        client.end(true);
      }
    });
  }
});

describe("npm start lifecycle", () => {
  it("stops cleanly on SIGTERM within 5 s with exit code 0, and starts again on the same data without a new password", async () => {
    const app = await startApp({ database: "pglite" });
    const { code, signal, ms } = await app.stop("SIGTERM");
    expect({ code, signal }, app.output.join("")).toEqual({ code: 0, signal: null });
    expect(ms).toBeLessThan(5000);
    expect(app.output.join("")).toContain("brokerwatch: stopped");

    const again = await startApp({ database: "pglite", dataDir: app.dataDir });
    expect(again.adminPassword).toBeNull();
    const health = await fetch(`${again.url}/api/health`);
    expect(health.status).toBe(200);
    expect((await again.stop("SIGINT")).code).toBe(0);
  });

  for (const variable of ["PORT", "MQTT_PORT"] as const) {
    it(`ends with one line naming the port and ${variable} when that port is taken`, async () => {
      const port = await freePort();
      const blocker = net.createServer();
      await new Promise<void>((resolve) => blocker.listen(port, "127.0.0.1", () => resolve()));
      try {
        const error = await startApp({ env: { [variable]: String(port) } }).then(
          async (app) => {
            await app.stop();
            throw new Error("the app started on a taken port");
          },
          (err: Error) => err,
        );
        expect(error.message).toMatch(/app exited \(1\)/);
        const line = error.message.split("\n").find((l) => l.startsWith("brokerwatch:"))!;
        expect(line).toContain(`port ${port}`);
        expect(line).toContain(`set ${variable}`);
      } finally {
        blocker.close();
      }
    });
  }
});
