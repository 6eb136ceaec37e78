import { describe, expect, it } from "vitest";
import { fingerprint } from "@/lib/alerts/state";
import { formatMessage, groupKeyOf, rfc3339, type NotifyAlert } from "@/lib/notify/format";

function alert(labels: Record<string, string>, extra: Partial<NotifyAlert> = {}): NotifyAlert {
  return {
    fingerprint: fingerprint(labels),
    labels,
    annotations: {},
    state: "firing",
    startsAt: new Date("2026-05-01T10:00:00Z"),
    endsAt: null,
    generatorURL: "http://brokerwatch.local/alerts",
    ...extra,
  };
}

describe("Alertmanager webhook v4 body", () => {
  it("matches what an Alertmanager receiver parses, byte for byte", () => {
    const nodeA = { alertname: "MQTT_Cluster_Node_Down", cluster: "plant", broker: "plant-a", severity: "critical" };
    const nodeB = { alertname: "MQTT_Cluster_Node_Down", cluster: "plant", broker: "plant-b", severity: "critical" };
    const message = formatMessage({
      receiver: "ops-oncall",
      groupLabels: { cluster: "plant", alertname: "MQTT_Cluster_Node_Down" },
      externalURL: "http://brokerwatch.local",
      now: new Date("2026-05-01T10:07:00Z"),
      alerts: [
        alert(nodeB, {
          annotations: { summary: "plant-b down", runbook: "https://wiki/node-down" },
          startsAt: new Date("2026-05-01T10:01:30.250Z"),
        }),
        alert(nodeA, {
          annotations: { summary: "plant-a down", runbook: "https://wiki/node-down" },
          state: "resolved",
          endsAt: new Date("2026-05-01T10:06:00Z"),
        }),
      ],
    });
    expect(JSON.stringify(message)).toBe(
      JSON.stringify({
        receiver: "ops-oncall",
        status: "firing",
        alerts: [
          {
            status: "resolved",
            labels: { alertname: "MQTT_Cluster_Node_Down", broker: "plant-a", cluster: "plant", severity: "critical" },
            annotations: { runbook: "https://wiki/node-down", summary: "plant-a down" },
            startsAt: "2026-05-01T10:00:00Z",
            endsAt: "2026-05-01T10:06:00Z",
            generatorURL: "http://brokerwatch.local/alerts",
            fingerprint: fingerprint(nodeA),
          },
          {
            status: "firing",
            labels: { alertname: "MQTT_Cluster_Node_Down", broker: "plant-b", cluster: "plant", severity: "critical" },
            annotations: { runbook: "https://wiki/node-down", summary: "plant-b down" },
            startsAt: "2026-05-01T10:01:30.25Z",
            endsAt: "0001-01-01T00:00:00Z",
            generatorURL: "http://brokerwatch.local/alerts",
            fingerprint: fingerprint(nodeB),
          },
        ],
        groupLabels: { alertname: "MQTT_Cluster_Node_Down", cluster: "plant" },
        commonLabels: { alertname: "MQTT_Cluster_Node_Down", cluster: "plant", severity: "critical" },
        commonAnnotations: { runbook: "https://wiki/node-down" },
        externalURL: "http://brokerwatch.local",
        version: "4",
        groupKey: '{}:{alertname="MQTT_Cluster_Node_Down", cluster="plant"}',
        truncatedAlerts: 0,
      }),
    );
  });

  it("reports resolved only when every alert in the notification has resolved", () => {
    const labels = { alertname: "MQTT_Broker_Down", broker: "plant-a", severity: "critical" };
    const message = formatMessage({
      receiver: "ops",
      groupLabels: {},
      externalURL: "",
      now: new Date("2026-05-01T10:05:00Z"),
      alerts: [alert(labels, { state: "resolved", endsAt: null })],
    });
    expect(message.status).toBe("resolved");
    // a resolution the engine passed without a time ends now
    expect(message.alerts[0].endsAt).toBe("2026-05-01T10:05:00Z");
    expect(message.groupKey).toBe("{}:{}");
  });

  it("quotes group label values the way Go's %q does, so group keys match Alertmanager's", () => {
    expect(groupKeyOf({ broker: 'plant "a"\\b\n', alertname: "X" })).toBe(
      '{}:{alertname="X", broker="plant \\"a\\"\\\\b\\n"}',
    );
  });

  it("prints times like Go's RFC 3339, without redundant fractional zeros", () => {
    expect(rfc3339(new Date("2026-05-01T10:00:00.000Z"))).toBe("2026-05-01T10:00:00Z");
    expect(rfc3339(new Date("2026-05-01T10:00:10.000Z"))).toBe("2026-05-01T10:00:10Z");
    expect(rfc3339(new Date("2026-05-01T10:00:00.100Z"))).toBe("2026-05-01T10:00:00.1Z");
  });
});
