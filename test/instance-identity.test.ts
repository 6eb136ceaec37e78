import { afterEach, describe, expect, it } from "vitest";
import { Cluster, defaultInstanceName, InstanceNameTaken } from "@/lib/cluster/cluster";
import { freshDatabase, type TestDatabase } from "./helpers/db";

/**
 * One name per process (issue 19 §1): two instances with one name share their collectors'
 * ClientIDs and take the broker sessions from each other, so a second live process claiming a
 * name is refused; this process's own previous life (killed before its lease ran out) is not.
 */
for (const backend of ["pglite", "postgres"] as const) {
  const skip = backend === "postgres" && !process.env.DATABASE_URL;
  describe.skipIf(skip)(`instance names (${backend})`, () => {
    let t: TestDatabase;
    const clusters: Cluster[] = [];
    afterEach(async () => {
      for (const c of clusters.splice(0)) await c.stop();
      await t?.drop();
    });
    const cluster = (name: string) => {
      const c = new Cluster(t.database, { name, ttlMs: 1500, heartbeatMs: 300, log: () => {} });
      clusters.push(c);
      return c;
    };

    it("is the machine's hostname and the port, never the bind address", () => {
      expect(defaultInstanceName("pod-7f9c", 3000)).toBe("pod-7f9c:3000");
    });

    it("refuses a second live process claiming a name already held, naming the holder", async () => {
      t = await freshDatabase(backend);
      const first = cluster("0.0.0.0:3000");
      await first.start();
      first.setUrl("http://host-a:3000");
      const second = cluster("0.0.0.0:3000");
      const refusal = await second.start().then(
        () => null,
        (err: Error) => err,
      );
      expect(refusal).toBeInstanceOf(InstanceNameTaken);
      expect(refusal!.message).toMatch(/instance name "0\.0\.0\.0:3000" is held by another live brokerwatch process/);
      expect(refusal!.message).toMatch(/UI http:\/\/host-a:3000/);
      expect(refusal!.message).toMatch(/BROKERWATCH_INSTANCE/);
      clusters.pop();
      // the holder is untouched: it still heartbeats and leads
      await first.beatNow();
      expect(first.isEvicted).toBe(false);
      expect(first.isLeader).toBe(true);
    });

    it("takes the name of its own previous life once that one's heartbeat has stopped", async () => {
      t = await freshDatabase(backend);
      const previous = new Cluster(t.database, { name: "mon-1", ttlMs: 1500, heartbeatMs: 300, log: () => {} });
      await previous.start();
      // SIGKILL: the heartbeat simply stops (no stopped_at)
      (previous as unknown as { timer: NodeJS.Timeout }).timer && clearInterval((previous as unknown as { timer: NodeJS.Timeout }).timer);
      const restarted = cluster("mon-1");
      await restarted.start();
      await restarted.beatNow();
      expect(restarted.isEvicted).toBe(false);
      expect(restarted.live).toEqual(["mon-1"]);
    });

    it("a process paused past its TTL whose name was taken meanwhile stops acting as that instance", async () => {
      t = await freshDatabase(backend);
      const paused = new Cluster(t.database, { name: "mon-1", ttlMs: 1500, heartbeatMs: 300, log: () => {} });
      await paused.start();
      clearInterval((paused as unknown as { timer: NodeJS.Timeout }).timer);
      const taker = cluster("mon-1");
      await taker.start();
      let evicted = false;
      paused.on("evicted", () => (evicted = true));
      await paused.beatNow();
      expect(evicted).toBe(true);
      expect(paused.isLeader).toBe(false);
      await paused.stop();
      // its clean stop does not mark the taker's row stopped
      await taker.beatNow();
      expect(taker.live).toEqual(["mon-1"]);
    });
  });
}
