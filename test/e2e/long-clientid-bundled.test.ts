import { randomBytes } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientHistory, searchClients } from "@/db/clients";
import type { Service } from "@/server/service";
import { freePort, waitFor } from "../helpers/ports";
import { startTestService } from "../helpers/service";

/**
 * Issue 18, item 1, end to end: a device connects to the bundled broker with a ClientID (and a
 * username) of 3 KB and of 64 KB that do not compress. Before, its event's index entry was over
 * Postgres's btree limit and every write of every broker failed from then on. Now the event is
 * stored whole, the history of that ClientID returns it, and the broker's other events keep coming.
 */
describe("a ClientID of 3 KB and of 64 KB through the bundled broker", () => {
  let service: Service;
  let dropDatabase: (() => Promise<void>) | undefined;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    ({ service, dropDatabase } = await startTestService({
      dataDir: await mkdtemp(path.join(os.tmpdir(), "bw-long-id-")),
      configPath: null,
      env: {},
      adminPassword: "admin-password-long-ids",
      bundled: { port, host: "127.0.0.1", sysIntervalSeconds: 1 },
      writer: { flushIntervalMs: 20 },
      log: () => {},
    }));
    // the collector subscribes to the bundled broker's events after start: until it does, a connect is not seen
    let attempt = 0;
    await waitFor(
      "the collector watching the bundled broker",
      async () => {
        await connectAs(`warm-up-${attempt++}`, "plain");
        return (await searchClients(service.database.db, "warm-up-")).clients.length > 0;
      },
      60_000,
      200,
    );
  });

  afterAll(async () => {
    await service?.stop();
    await dropDatabase?.();
  });

  async function connectAs(clientId: string, username: string): Promise<void> {
    const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId, username, reconnectPeriod: 0, protocolVersion: 4 });
    await new Promise<void>((resolve, reject) => {
      client.once("connect", () => resolve());
      client.once("error", reject);
    });
    await client.endAsync();
  }

  it.each([
    ["3 KB", 3_000],
    ["64 KB", 65_000],
  ])("stores a %s ClientID and username whole, finds its history, and keeps collecting the others", async (_, size) => {
    const clientId = randomBytes(size / 2).toString("hex");
    const username = randomBytes(size / 2).toString("hex");
    const from = new Date(Date.now() - 60_000);
    await connectAs(clientId, username);
    const history = await waitFor(
      "the long client's connect and disconnect",
      async () => {
        const h = await clientHistory(service.database.db, clientId, { from });
        return h.total >= 2 ? h : undefined;
      },
      30_000,
      100,
    );
    expect(history.events.map((e) => e.type).sort()).toEqual(["connected", "disconnected"]);
    expect(history.events.find((e) => e.type === "connected")!.username).toBe(username);
    const found = await searchClients(service.database.db, clientId.slice(0, 40));
    expect(found.clients.map((c) => c.clientId)).toEqual([clientId]);
    // and the next device's events are stored after it: nothing is stuck behind the long one
    const next = `after-${size}`;
    await connectAs(next, "plain");
    await waitFor(
      "the next device's events",
      async () => (await clientHistory(service.database.db, next, { from })).total >= 2,
      30_000,
      100,
    );
  });
});
