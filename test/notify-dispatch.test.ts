import { describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { notificationGroups, notifications, webhooks } from "@/db/schema";
import { fingerprint } from "@/lib/alerts/state";
import { Dispatcher, plan, type GroupState, type PlanInput, type PlanWebhook } from "@/lib/notify/dispatch";
import type { NotifyAlert, WebhookMessage } from "@/lib/notify/format";
import type { Silence } from "@/lib/notify/silences";
import { firingAlert, oncallDatabase } from "./helpers/notify";

const T0 = Date.parse("2026-05-01T10:00:00Z");
const at = (seconds: number) => new Date(T0 + seconds * 1000);

const firing = (broker: string, startedSecondsAfterT0 = 0, alertname = "MQTT_Broker_Down"): NotifyAlert =>
  firingAlert(broker, at(startedSecondsAfterT0), alertname);
const resolved = (alert: NotifyAlert, seconds: number): NotifyAlert => ({
  ...alert,
  state: "resolved",
  endsAt: at(seconds),
});

const ops: PlanWebhook = {
  id: 1,
  name: "ops-oncall",
  sendResolved: true,
  groupBy: null,
  groupWaitSeconds: null,
  repeatIntervalSeconds: null,
};

/** Feeds rounds through plan() the way the Dispatcher does, carrying the group state forward. */
function simulate(webhook: PlanWebhook, silences: Silence[] = []) {
  let groups: GroupState[] = [];
  return (seconds: number, alerts: NotifyAlert[]): WebhookMessage[] => {
    const input: PlanInput = { now: at(seconds), alerts, webhooks: [webhook], groups, silences, externalURL: "" };
    const result = plan(input);
    const byKey = new Map(groups.map((g) => [g.groupKey, g]));
    for (const state of result.groupStates) byKey.set(state.groupKey, state);
    groups = [...byKey.values()];
    return result.notifications.map((n) => n.message);
  };
}
const summary = (messages: WebhookMessage[]) =>
  messages.map((m) => `${m.status}: ${m.alerts.map((a) => `${a.labels.broker}=${a.status}`).join(" ")}`);

describe("notification planning", () => {
  it("waits groupWait before the first page of a new group, then pages once", () => {
    const round = simulate({ ...ops, groupWaitSeconds: 30 });
    const a = firing("plant-a");
    expect(round(0, [a])).toEqual([]);
    expect(round(15, [a])).toEqual([]);
    expect(summary(round(30, [a]))).toEqual(["firing: plant-a=firing"]);
    expect(round(45, [a])).toEqual([]);
  });

  it("pages at once when a second broker joins a group that is already firing", () => {
    const round = simulate({ ...ops, groupBy: ["alertname"] });
    const a = firing("plant-a");
    const b = firing("plant-b", 20);
    expect(summary(round(0, [a]))).toEqual(["firing: plant-a=firing"]);
    expect(round(15, [a])).toEqual([]);
    expect(summary(round(20, [a, b]))).toEqual(["firing: plant-a=firing plant-b=firing"]);
    expect(round(35, [a, b])).toEqual([]);
  });

  it("re-sends a group that keeps firing unchanged every repeatInterval, not every round", () => {
    const round = simulate({ ...ops, repeatIntervalSeconds: 3600 });
    const a = firing("plant-a");
    expect(round(0, [a])).toHaveLength(1);
    expect(round(3599, [a])).toEqual([]);
    expect(summary(round(3600, [a]))).toEqual(["firing: plant-a=firing"]);
    expect(round(3615, [a])).toEqual([]);
    expect(round(7200, [a])).toHaveLength(1);
  });

  it("repeats after 4 hours by default", () => {
    const round = simulate(ops);
    const a = firing("plant-a");
    expect(round(0, [a])).toHaveLength(1);
    expect(round(4 * 3600 - 1, [a])).toEqual([]);
    expect(round(4 * 3600, [a])).toHaveLength(1);
  });

  it("sends the resolution in the round the broker comes back, listing what still fires", () => {
    const round = simulate({ ...ops, groupBy: ["alertname"] });
    const a = firing("plant-a");
    const b = firing("plant-b");
    expect(round(0, [a, b])).toHaveLength(1);
    expect(summary(round(15, [resolved(a, 15), b]))).toEqual(["firing: plant-a=resolved plant-b=firing"]);
    const last = round(30, [resolved(b, 30)]);
    expect(summary(last)).toEqual(["resolved: plant-b=resolved"]);
    expect(last[0].alerts[0].endsAt).toBe("2026-05-01T10:00:30Z");
    expect(round(45, [])).toEqual([]);
  });

  it("keeps quiet about a resolution when sendResolved is off, and pages the next outage as new", () => {
    const round = simulate({ ...ops, sendResolved: false, groupWaitSeconds: 30 });
    const a = firing("plant-a");
    round(0, [a]);
    expect(round(30, [a])).toHaveLength(1);
    expect(round(60, [resolved(a, 60)])).toEqual([]);
    const again = firing("plant-a", 120);
    expect(round(120, [again])).toEqual([]); // a new episode waits groupWait again
    expect(summary(round(150, [again]))).toEqual(["firing: plant-a=firing"]);
  });

  it("never sends a resolution for an alert that resolved within groupWait", () => {
    const round = simulate({ ...ops, groupWaitSeconds: 30 });
    const a = firing("plant-a");
    expect(round(0, [a])).toEqual([]);
    expect(round(15, [resolved(a, 15)])).toEqual([]);
  });

  it("leaves silenced brokers out of the page and sends nothing when the whole group is silenced", () => {
    const maintenance: Silence = {
      matchers: [{ name: "broker", value: "plant-b", isRegex: false, isEqual: true }],
      startsAt: at(-60),
      endsAt: at(600),
    };
    const round = simulate({ ...ops, groupBy: ["alertname"] }, [maintenance]);
    const a = firing("plant-a");
    const b = firing("plant-b");
    expect(summary(round(0, [a, b]))).toEqual(["firing: plant-a=firing"]);
    // plant-a recovers: the resolution goes out; plant-b still fires but stays muted
    expect(summary(round(15, [resolved(a, 15), b]))).toEqual(["resolved: plant-a=resolved"]);
    expect(round(30, [b])).toEqual([]);
    // the silence ends at 600 s with plant-b still down: now it pages
    expect(summary(round(600, [b]))).toEqual(["firing: plant-b=firing"]);
  });

  it("does not page again when one broker of an already-paged group gets silenced", () => {
    const lateSilence: Silence = {
      matchers: [{ name: "broker", value: "plant-b", isRegex: false, isEqual: true }],
      startsAt: at(10),
      endsAt: at(999),
    };
    const round = simulate({ ...ops, groupBy: ["alertname"] }, [lateSilence]);
    const a = firing("plant-a");
    const b = firing("plant-b");
    expect(round(0, [a, b])).toHaveLength(1);
    expect(round(15, [a, b])).toEqual([]);
    // and when the silence ends, plant-b was already paged: still nothing new to say
    expect(round(999, [a, b])).toEqual([]);
  });

  it("groups by the webhook's own labels: one page per cluster", () => {
    const round = simulate({ ...ops, groupBy: ["cluster"] });
    const node = (broker: string, cluster: string): NotifyAlert => {
      const alert = firing(broker);
      const labels = { ...alert.labels, cluster };
      return { ...alert, labels, fingerprint: fingerprint(labels) };
    };
    const messages = round(0, [node("a1", "plant"), node("a2", "plant"), node("f1", "fleet")]);
    expect(messages.map((m) => [m.groupKey, m.alerts.length])).toEqual([
      ['{}:{cluster="plant"}', 2],
      ['{}:{cluster="fleet"}', 1],
    ]);
    expect(messages[0].groupLabels).toEqual({ cluster: "plant" });
    expect(messages[0].commonLabels).toEqual({ alertname: "MQTT_Broker_Down", cluster: "plant", severity: "critical" });
  });

  it("groups by alertname, broker and cluster by default, leaving out labels an alert lacks", () => {
    const round = simulate(ops);
    const [message] = round(0, [firing("plant-a")]);
    expect(message.groupKey).toBe('{}:{alertname="MQTT_Broker_Down", broker="plant-a"}');
    expect(message.receiver).toBe("ops-oncall");
  });
});

describe("Dispatcher with the database", () => {
  const testDb = oncallDatabase();

  it("does not page twice after a crash between enqueueing and recording the group state", async () => {
    const { db } = testDb.database;
    const snapshot = { now: at(0), alerts: [firing("plant-a")] };
    let wakes = 0;
    const logged: string[] = [];
    const first = new Dispatcher(testDb.database, {
      externalURL: "http://bw",
      log: (line) => logged.push(line),
      onEnqueued: () => wakes++,
    });
    expect(await first.onEvaluation(snapshot)).toBe(1);
    expect(wakes).toBe(1);
    expect(logged).toEqual([
      'brokerwatch: webhook ops-oncall: firing {}:{alertname="MQTT_Broker_Down", broker="plant-a"}: first notification',
    ]);

    // SIGKILL after the insert into the outbox, before the group state was written
    await db.delete(notificationGroups);
    const restarted = new Dispatcher(testDb.database, { externalURL: "http://bw", log: () => {} });
    expect(await restarted.onEvaluation(snapshot)).toBe(0);
    // a clean restart after a complete round: the stored group state alone prevents a re-send
    expect(
      await new Dispatcher(testDb.database, { externalURL: "http://bw", log: () => {} }).onEvaluation({
        ...snapshot,
        now: at(15),
      }),
    ).toBe(0);

    const rows = await db.select().from(notifications).where(eq(notifications.webhookId, testDb.webhookId));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      status: "firing",
      state: "pending",
      groupKey: '{}:{alertname="MQTT_Broker_Down", broker="plant-a"}',
    });
    expect(rows[0].messageId).toMatch(/^msg_/);
    expect(JSON.parse(rows[0].body)).toMatchObject({ version: "4", receiver: "ops-oncall", externalURL: "http://bw" });
  });

  it("remembers a firing group across a restart and sends the resolution", async () => {
    const { db } = testDb.database;
    const a = firing("plant-a");
    const dispatcher = new Dispatcher(testDb.database, { externalURL: "http://bw", log: () => {} });
    expect(await dispatcher.onEvaluation({ now: at(30), alerts: [resolved(a, 30)] })).toBe(1);
    const rows = await db.select().from(notifications).where(eq(notifications.status, "resolved"));
    expect(rows).toHaveLength(1);
    expect(await db.select().from(notificationGroups)).toMatchObject([{ lastFiringHash: null, firstSeenAt: null }]);
  });

  it("sends nothing to a webhook a receiver disabled with 410 Gone", async () => {
    const { db } = testDb.database;
    await db
      .update(webhooks)
      .set({ disabledReason: "receiver answered 410 Gone" })
      .where(eq(webhooks.id, testDb.webhookId));
    const dispatcher = new Dispatcher(testDb.database, { externalURL: "http://bw", log: () => {} });
    expect(await dispatcher.onEvaluation({ now: at(100), alerts: [firing("plant-z", 100)] })).toBe(0);
  });
});
