import { afterAll, beforeAll, expect, it } from "vitest";
import { fingerprint } from "@/lib/alerts/state";
import { ReceiverSchema } from "@/lib/config/schema";
import { Dispatcher, type NotifyAlert } from "@/lib/notify/dispatch";
import { DeliveryWorker } from "@/lib/notify/outbox";
import { applyWebhookConfig } from "@/lib/notify/webhooks";
import { startAlertmanager, type RunningAlertmanager } from "../helpers/alertmanager";
import { freshDatabase, type TestDatabase } from "../helpers/db";
import { waitFor } from "../helpers/ports";
import { describeIf, needs } from "../helpers/require";

/**
 * Teams that run their own Alertmanager keep their routing, inhibition and on-call there: brokerwatch
 * posts its alerts to `POST /api/v2/alerts` of each one, as Prometheus does. Two real Debian
 * Alertmanagers receive them, show them in their own API with our labels, and end them on resolve.
 */
const SERVICE_KEY = "service-key";

describeIf(needs({ alertmanager: true }), "receiver type alertmanager", () => {
  let t: TestDatabase;
  let ams: RunningAlertmanager[] = [];
  let worker: DeliveryWorker | null = null;

  beforeAll(async () => {
    [t, ...ams] = await Promise.all([freshDatabase(), startAlertmanager(), startAlertmanager()]);
  });
  afterAll(async () => {
    await worker?.stop();
    await Promise.all(ams.map((am) => am.stop()));
    await t?.drop();
  });

  it("shows brokerwatch's alerts in every Alertmanager with their labels while firing, and ends them on resolve", async () => {
    const db = t.database.db;
    const receiver = ReceiverSchema.parse({
      name: "team-am",
      type: "alertmanager",
      urls: ams.map((am) => am.url),
      match: { severity: "critical" },
    });
    await applyWebhookConfig(db, [], SERVICE_KEY, [receiver]);
    worker = new DeliveryWorker(t.database, { secret: SERVICE_KEY, pollMs: 50, log: () => {} });
    worker.start();
    const dispatcher = new Dispatcher(t.database, {
      externalURL: "http://brokerwatch.test",
      log: () => {},
      onEnqueued: () => worker!.wake(),
    });

    const startsAt = new Date(Date.now() - 60_000);
    const alert = (labels: Record<string, string>, state: "firing" | "resolved", endsAt: Date | null = null): NotifyAlert => ({
      fingerprint: fingerprint(labels),
      labels,
      annotations: { summary: `${labels.broker} is down` },
      state,
      startsAt,
      endsAt,
      generatorURL: "http://brokerwatch.test/alerts",
    });
    const down = { alertname: "MQTT_Broker_Down", broker: "plant-a", severity: "critical" };
    // routed elsewhere: this receiver takes severity=critical only
    const slow = { alertname: "MQTT_Slow", broker: "plant-a", severity: "warning" };

    expect(await dispatcher.onEvaluation({ now: new Date(), alerts: [alert(down, "firing"), alert(slow, "firing")] })).toBe(1);
    for (const am of ams) {
      const [held] = await waitFor(`the alert in ${am.url}`, async () => {
        const alerts = await am.alerts();
        return alerts.length > 0 ? alerts : null;
      });
      expect((await am.alerts()).map((a) => a.labels)).toEqual([down]);
      expect(held.annotations).toEqual({ summary: "plant-a is down" });
      expect(held.status.state).toBe("active");
      expect(Date.parse(held.startsAt)).toBe(startsAt.getTime());
      // re-sent while firing; until then it lasts a few resend intervals, not forever
      expect(Date.parse(held.endsAt)).toBeGreaterThan(Date.now());
      expect(Date.parse(held.endsAt)).toBeLessThan(Date.now() + 10 * 60_000);
    }

    // re-sent every minute while it fires, as Prometheus does (its endsAt moves on)
    const firstEnd = Date.parse((await ams[0].alerts())[0].endsAt);
    const later = new Date(Date.now() + 61_000);
    expect(await dispatcher.onEvaluation({ now: later, alerts: [alert(down, "firing")] })).toBe(1);
    await waitFor("endsAt moved on", async () => Date.parse((await ams[0].alerts())[0].endsAt) > firstEnd);

    // (the round's clock runs a minute ahead of Alertmanager's; the alert ended just now on both)
    const resolvedAt = new Date();
    const round = new Date(later.getTime() + 1000);
    expect(await dispatcher.onEvaluation({ now: round, alerts: [alert(down, "resolved", resolvedAt)] })).toBe(1);
    for (const am of ams) {
      // Alertmanager's API lists only alerts that have not ended
      await waitFor(`the alert ended in ${am.url}`, async () => (await am.alerts()).length === 0);
    }
  });
});
