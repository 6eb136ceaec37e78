import { describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { alertHistory, notifications } from "@/db/schema";
import { Dispatcher } from "@/lib/notify/dispatch";
import type { NotifyAlert } from "@/lib/notify/format";
import { oncallDatabase } from "./helpers/notify";

/**
 * The engine saves a round, then hands it to the dispatcher. If brokerwatch dies in between, a
 * resolution is saved but never handed over: the receiver would keep a page open forever. The
 * dispatcher notices a paged alert that is no longer active and sends its resolution itself.
 */
describe("a resolution lost to a crash", () => {
  const t = oncallDatabase();

  const firedAt = new Date("2026-11-23T10:00:00Z");
  const labels = { alertname: "MQTT_Broker_Down", broker: "plant-a", severity: "critical" };
  const alert: NotifyAlert = {
    fingerprint: "0123456789abcdef",
    labels,
    annotations: { summary: "plant-a is down" },
    state: "firing",
    startsAt: firedAt,
    endsAt: null,
    generatorURL: "",
  };

  it("is sent on the next round, from the alert's history, exactly once", async () => {
    const db = t.database.db;
    const dispatcher = () => new Dispatcher(t.database, { externalURL: "http://bw", log: () => {} });
    await db.insert(alertHistory).values({
      rule: "MQTT_Broker_Down",
      fingerprint: alert.fingerprint,
      labels,
      annotations: alert.annotations,
      value: "0",
      activeAt: firedAt,
      firedAt,
    });
    expect(await dispatcher().onEvaluation({ now: new Date(firedAt.getTime() + 1000), alerts: [alert] })).toBe(1);

    // The engine resolved it and saved that (history resolved_at), then died before notifying.
    const resolvedAt = new Date(firedAt.getTime() + 60_000);
    await db.update(alertHistory).set({ resolvedAt }).where(eq(alertHistory.fingerprint, alert.fingerprint));

    // After the restart the alert is simply gone from the engine's snapshot.
    const later = new Date(firedAt.getTime() + 120_000);
    expect(await dispatcher().onEvaluation({ now: later, alerts: [] })).toBe(1);
    expect(await dispatcher().onEvaluation({ now: new Date(later.getTime() + 1000), alerts: [] })).toBe(0);

    const sent = await db.select().from(notifications).orderBy(notifications.id);
    expect(sent.map((n) => n.status)).toEqual(["firing", "resolved"]);
    const body = JSON.parse(sent[1].body);
    expect(body.alerts[0]).toMatchObject({
      status: "resolved",
      fingerprint: alert.fingerprint,
      labels,
      startsAt: firedAt.toISOString().replace(".000Z", "Z"),
    });
    expect(new Date(body.alerts[0].endsAt).getTime()).toBe(resolvedAt.getTime());
  });
});
