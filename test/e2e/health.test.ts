import { afterAll, beforeAll, expect, it } from "vitest";
import { startApp, type RunningApp } from "../helpers/app";
import { createServerDatabase } from "../helpers/db";
import { waitFor } from "../helpers/ports";
import { describeIf, needs } from "../helpers/require";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy";

/**
 * An ops engineer's load balancer asks /api/health: it must say 503 and name the database when
 * Postgres goes away, and recover by itself when it comes back. The app reaches Postgres through
 * a proxy the test can cut.
 */
describeIf(needs({ postgres: true }), "health when the database goes away", () => {
  let app: RunningApp;
  let proxy: TcpProxy;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    const server = new URL(process.env.DATABASE_URL!);
    proxy = await startTcpProxy(Number(server.port || 5432));
    const db = await createServerDatabase();
    drop = db.drop;
    const viaProxy = new URL(db.url);
    viaProxy.host = `127.0.0.1:${proxy.port}`;
    app = await startApp({ env: { DATABASE_URL: viaProxy.toString(), BUNDLED_BROKER: "off" } });
  });

  afterAll(async () => {
    proxy?.resume();
    await app?.stop();
    await proxy?.close();
    await drop?.();
  });

  it("answers 503 naming the database while Postgres is unreachable, and 200 again once it is back", async () => {
    expect((await fetch(`${app.url}/api/health`)).status).toBe(200);

    proxy.cut();
    const down = await waitFor(
      "503",
      async () => {
        const res = await fetch(`${app.url}/api/health`);
        return res.status === 503 ? res : undefined;
      },
      15_000,
      250,
    );
    const body = (await down.json()) as { status: string; failing: string; error: { code: string; message: string } };
    expect(body).toMatchObject({ status: "error", failing: "database", error: { code: "unavailable" } });
    expect(body.error.message).toMatch(/database unreachable/);

    proxy.resume();
    await waitFor("200 again", async () => (await fetch(`${app.url}/api/health`)).status === 200, 20_000, 250);
  });
});
