/**
 * Issue 22's "Done when" rule file: recording and alerting rules using `offset`, `*_over_time`,
 * `absent`, `histogram_quantile` over `le` buckets, `group_left` and `label_replace`, imported
 * through the API, evaluated against brokerwatch's own metrics, firing.
 */
import { describe, expect, it } from "vitest";
import { POST as importRules } from "@/app/api/rules/import/route";
import { fetchSeries } from "@/db/metrics";
import { metricSamples } from "@/db/schema";
import { AlertEngine } from "@/lib/alerts/engine";
import { ruleProvider } from "@/lib/alerts/rules";
import { apiRequest, engineRuntime } from "./helpers/route-api";

const S = 1000;
const M = 60 * S;

const DONE_WHEN_RULES = `
groups:
  - name: plant-recording
    interval: 1s
    rules:
      - record: broker:mqtt_connections:sum
        expr: sum by (broker) (mqtt_connections_current)
      # offset: growth over the last 10 minutes
      - record: broker:mqtt_connections:growth10m
        expr: broker:mqtt_connections:sum - sum by (broker) (mqtt_connections_current offset 10m)
      # *_over_time
      - record: broker:mqtt_sessions:avg15m
        expr: sum_over_time(mqtt_sessions[15m]) / count_over_time(mqtt_sessions[15m])
      # classic buckets, made by label_replace: how many brokers hold at most le connections
      - record: fleet:mqtt_connections_bucket
        expr: >-
          label_replace(count(mqtt_connections_current <= 2), "le", "2", "", "")
          or label_replace(count(mqtt_connections_current <= 5), "le", "5", "", "")
          or label_replace(count(mqtt_connections_current), "le", "+Inf", "", "")
      # an info series to join on
      - record: broker:team:info
        expr: label_replace(mqtt_broker_up, "team", "plant-$1", "broker", "plant-(.*)")
  - name: plant-alerts
    rules:
      - alert: PlantGrowing
        expr: broker:mqtt_connections:growth10m > 1
      - alert: PlantSessionsHigh
        expr: broker:mqtt_sessions:avg15m > 4
      - alert: PlantCMissing
        expr: absent(mqtt_broker_up{broker="plant-c"})
      - alert: FleetMedianHigh
        expr: histogram_quantile(0.5, fleet:mqtt_connections_bucket) > 1
      - alert: PlantTeamBusy
        expr: broker:mqtt_connections:sum * on (broker) group_left (team) broker:team:info > 2
`;

const ADMIN = "test-admin-token-for-rule-files-full";
const fixture = engineRuntime(ADMIN, async (database) => {
  // The last 20 minutes, every 30 s: plant-a went from 1 to 3 connections 9 minutes ago and
  // holds 5 sessions; plant-b holds 1 connection and 2 sessions throughout.
  const now = Date.now();
  for (let at = now - 20 * M; at <= now - S; at += 30 * S) {
    for (const [broker, connections, sessions] of [
      ["plant-a", at < now - 9 * M ? 1 : 3, 5],
      ["plant-b", 1, 2],
    ] as const) {
      await database.db.insert(metricSamples).values([
        { broker, node: "", metric: "mqtt_connections_current", labels: {}, ts: new Date(at), value: connections },
        { broker, node: "", metric: "mqtt_sessions", labels: {}, ts: new Date(at), value: sessions },
        { broker, node: "", metric: "mqtt_broker_up", labels: {}, ts: new Date(at), value: 1 },
      ]);
    }
  }
  const engine = new AlertEngine(database, {
    intervalMs: 3600 * S,
    rules: ruleProvider(database.db, []),
    log: () => {},
  });
  await engine.start();
  return engine;
});

describe("issue 22 Done when: the full rule file", () => {
  it(
    "imports, evaluates against brokerwatch's own metrics and fires (offset, *_over_time, absent, histogram_quantile, group_left, label_replace)",
    async () => {
      const res = await importRules(
        apiRequest("/api/rules/import", ADMIN, { method: "POST", body: JSON.stringify({ file: DONE_WHEN_RULES }) }),
      );
      const report = await res.json();
      expect(report.rules.filter((r: { status: string }) => r.status !== "imported")).toEqual([]);
      expect(report.imported).toBe(10);
      await fixture.engine.idle();

      const latest = async (metric: string) =>
        Object.fromEntries(
          (await fetchSeries(fixture.database.db, metric, Date.now() - M, Date.now())).map((s) => [
            s.labels.broker ?? s.labels.le,
            s.points.at(-1)!.v,
          ]),
        );
      expect(await latest("broker:mqtt_connections:growth10m")).toEqual({ "plant-a": 2, "plant-b": 0 });
      expect(await latest("broker:mqtt_sessions:avg15m")).toEqual({ "plant-a": 5, "plant-b": 2 });
      expect(await latest("fleet:mqtt_connections_bucket")).toEqual({ "2": 1, "5": 2, "+Inf": 2 });

      const firing = fixture.engine
        .alerts()
        .filter((a) => a.state === "firing")
        .map((a) => [a.alertname, a.labels.broker ?? null, a.labels.team ?? null])
        .sort();
      expect(firing).toEqual([
        ["FleetMedianHigh", null, null],
        ["PlantCMissing", "plant-c", null],
        ["PlantGrowing", "plant-a", null],
        ["PlantSessionsHigh", "plant-a", null],
        ["PlantTeamBusy", "plant-a", "plant-a"],
      ]);
    },
  );
});
