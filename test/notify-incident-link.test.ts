import { describe, expect, it } from "vitest";
import { notifications } from "@/db/schema";
import { openIncident } from "@/db/incidents";
import { Dispatcher } from "@/lib/notify/dispatch";
import { withIncidentURL, type WebhookMessage } from "@/lib/notify/format";
import { firingAlert, oncallDatabase } from "./helpers/notify";

/**
 * A broker-down page carries a link to the broker's incident page as an `incidentURL` annotation:
 * the on-call engineer opens what the outage cost and why, straight from the notification. The
 * body stays Alertmanager's v4 shape (an annotation more).
 */
const T0 = Date.parse("2026-05-01T10:00:00Z");
const at = (seconds: number) => new Date(T0 + seconds * 1000);

const firing = (broker: string, alertname = "MQTT_Broker_Down", startsAt = at(30)) =>
  firingAlert(broker, startsAt, alertname);

describe("incident link in notifications", () => {
  const t = oncallDatabase();

  it("adds the incident page of the broker to MQTT_Broker_Down, and nothing to other alerts or brokers without one", async () => {
    const incident = await openIncident(t.database.db, {
      broker: "plant-a",
      kind: "outage",
      detectedBy: "connection_lost",
      lastGoodAt: at(-1),
      startedAt: at(0),
    });
    const dispatcher = new Dispatcher(t.database, { externalURL: "http://bw/", log: () => {} });
    await dispatcher.onEvaluation({
      now: at(60),
      alerts: [firing("plant-a"), firing("plant-a", "MQTT_Connections_High"), firing("plant-b")],
    });
    const bodies = (await t.database.db.select().from(notifications)).map((n) => JSON.parse(n.body) as WebhookMessage);
    const annotations = (alertname: string, broker: string) =>
      bodies.flatMap((b) => b.alerts).find((a) => a.labels.alertname === alertname && a.labels.broker === broker)
        ?.annotations;
    expect(annotations("MQTT_Broker_Down", "plant-a")).toEqual({
      incidentURL: `http://bw/incidents/${incident.id}`,
      summary: "plant-a is down",
    });
    expect(annotations("MQTT_Connections_High", "plant-a")).toEqual({ summary: "plant-a is down" });
    expect(annotations("MQTT_Broker_Down", "plant-b")).toEqual({ summary: "plant-b is down" });
    expect(bodies.every((b) => b.version === "4")).toBe(true);
  });

  it("keeps an incidentURL the rule's own annotations set", () => {
    const own = { ...firing("plant-a"), annotations: { incidentURL: "https://wiki/runbook" } };
    expect(withIncidentURL(own, "http://bw", 7).annotations.incidentURL).toBe("https://wiki/runbook");
    expect(withIncidentURL(firing("plant-a"), "http://bw", null).annotations).toEqual({ summary: "plant-a is down" });
  });
});
