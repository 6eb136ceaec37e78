import { randomBytes } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Service } from "@/server/service";
import type { ConnectionTestResult } from "@/lib/settings/views";
import * as brokersRoute from "@/app/api/brokers/route";
import * as brokerTestRoute from "@/app/api/brokers/test/route";
import { startTestService } from "../helpers/service";
import { passwordFile, startMosquitto, type RunningMosquitto } from "../helpers/mosquitto";
import { describeIf, needs } from "../helpers/require";
import { call, request, type Credentials, type Json } from "../helpers/settings-requests";

/**
 * "Test connection" of the settings API against real Mosquittos (the rest of the settings API,
 * and the connection test without a broker: test/settings-api.test.ts).
 */
const BOOTSTRAP = `bootstrap-${randomBytes(8).toString("hex")}`;
const admin: Credentials = { token: BOOTSTRAP };

let service: Service;
let dropDatabase: (() => Promise<void>) | null = null;
let previousToken: string | undefined;

beforeAll(async () => {
  previousToken = process.env.BROKERWATCH_API_TOKEN;
  process.env.BROKERWATCH_API_TOKEN = BOOTSTRAP;
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "bw-settings-"));
  ({ service, dropDatabase } = await startTestService({
    dataDir,
    env: {},
    secret: "settings-test-service-key",
    bundled: null,
    log: () => {},
  }));
});

afterAll(async () => {
  await service?.stop();
  await dropDatabase?.();
  process.env.BROKERWATCH_API_TOKEN = previousToken;
});

describeIf(needs({ mosquitto: true }), "test connection against a real Mosquitto", () => {
  let open: RunningMosquitto;
  let secured: RunningMosquitto;

  beforeAll(async () => {
    const pw = await passwordFile({ monitor: "monitor-pass", nosys: "nosys-pass" });
    [open, secured] = await Promise.all([
      startMosquitto(["allow_anonymous true", "sys_interval 1"]),
      startMosquitto(
        ["allow_anonymous false", "password_file ${dir}/pw.txt", "acl_file ${dir}/acl.txt", "sys_interval 1"],
        { "pw.txt": pw, "acl.txt": "user monitor\ntopic read $SYS/#\n\nuser nosys\ntopic read app/#\n" },
      ),
    ]);
  });
  afterAll(async () => {
    await Promise.all([open?.stop(), secured?.stop()]);
  });

  const test = async (body: Json) => {
    const res = await call(brokerTestRoute.POST(request("POST", "/api/brokers/test", admin, body)));
    expect(res.status).toBe(200);
    return res.body.result as ConnectionTestResult;
  };

  it("reports the version, the detected dialect and a readable $SYS", async () => {
    const result = await test({ url: open.url, dialect: "auto", name: "" });
    expect(result).toMatchObject({ connected: true, error: null, detectedDialect: "mosquitto", sysReadable: true });
    expect(result.version).toMatch(/^2\.\d+\.\d+/);
    expect(result.connectMs).toBeLessThan(5000);
  });

  it("says the credentials were refused, and connects with the right ones", async () => {
    const wrong = await test({ url: secured.url, username: "monitor", password: "wrong-password" });
    expect(wrong.connected).toBe(false);
    expect(wrong.error!.kind).toBe("bad_credentials");
    expect(wrong.error!.message).toMatch(/not authorized|bad user name or password/);

    const right = await test({ url: secured.url, username: "monitor", password: "monitor-pass" });
    expect(right).toMatchObject({ connected: true, sysReadable: true, detectedDialect: "mosquitto" });
  });

  it("says when $SYS is not readable for this user", async () => {
    const result = await test({ url: secured.url, username: "nosys", password: "nosys-pass" });
    expect(result).toMatchObject({ connected: true, sysReadable: false, sysMessages: 0, detectedDialect: null });
    expect(result.listenedMs).toBeGreaterThanOrEqual(2900);
  });

  it("uses the stored password of a broker when the edit form leaves the field blank", async () => {
    await call(
      brokersRoute.POST(
        request("POST", "/api/brokers", admin, {
          name: "secured",
          url: secured.url,
          username: "monitor",
          password: "monitor-pass",
          enabled: false,
        }),
      ),
    );
    const result = await test({ name: "secured", url: secured.url, username: "monitor", password: "" });
    expect(result).toMatchObject({ connected: true, sysReadable: true });
  });
});
