import { describe, expect, it } from "vitest";
import { GET as getAlerts } from "@/app/api/alerts/route";
import { GET as getHistory } from "@/app/api/alerts/history/route";
import { GET as getRules } from "@/app/api/rules/route";
import { DELETE as deleteSilence } from "@/app/api/silences/[id]/route";
import { GET as getSilences, POST as postSilence } from "@/app/api/silences/route";
import { metricSamples } from "@/db/schema";
import { BUILTIN_RULES } from "@/lib/alerts/builtin";
import { AlertEngine } from "@/lib/alerts/engine";
import { loadRules } from "@/lib/alerts/rules";
import { setRuntime } from "@/lib/runtime";
import { apiRequest, engineRuntime } from "./helpers/route-api";

const ADMIN = "test-admin-token-for-api-alerts";
const S = 1000;

/** Handlers run against the wall clock (silences, default ranges), so the data is recent. */
const T0 = Date.now() - 60 * S;

const fixture = engineRuntime(ADMIN, async (database) => {
  for (let at = T0; at <= T0 + 40 * S; at += 5 * S) {
    await database.db
      .insert(metricSamples)
      .values({ broker: "plant-a", node: "", metric: "mqtt_broker_up", labels: {}, ts: new Date(at), value: 0 });
  }
  let clock = T0;
  const engine = new AlertEngine(database, {
    intervalMs: 3600 * S,
    rules: async () => loadRules({ builtins: BUILTIN_RULES, fileRules: [], dbRules: [] }),
    now: () => clock,
    log: () => {},
  });
  await engine.start();
  clock = T0 + 30 * S;
  engine.evaluateNow("test");
  await engine.idle();
  return engine;
});
const request = apiRequest;

const postJson = (body: unknown, token: string | null = ADMIN) =>
  postSilence(request("/api/silences", token, { method: "POST", body: JSON.stringify(body) }));

const idParams = (id: string) => ({ params: Promise.resolve({ id }) });

describe("GET /api/alerts", () => {
  it("refuses a request without a token", async () => {
    const res = await getAlerts(request("/api/alerts", null));
    expect(res.status).toBe(401);
    expect((await res.json()).error.code).toBe("unauthorized");
  });

  it("lists the firing broker-down alert with the contract's fields", async () => {
    const res = await getAlerts(request("/api/alerts", fixture.viewer));
    expect(res.status).toBe(200);
    const { alerts } = await res.json();
    expect(alerts).toEqual([
      {
        fingerprint: expect.stringMatching(/^[0-9a-f]{16}$/),
        alertname: "MQTT_Broker_Down",
        state: "firing",
        labels: { alertname: "MQTT_Broker_Down", broker: "plant-a", severity: "critical" },
        annotations: expect.objectContaining({ summary: "Broker plant-a is down" }),
        value: 0,
        activeAt: new Date(T0).toISOString(),
        firedAt: new Date(T0 + 30 * S).toISOString(),
        silencedBy: [],
      },
    ]);
  });

  it("answers from the saved alert state when the engine is not running", async () => {
    setRuntime({ ...fixture.runtime, alertEngine: undefined });
    try {
      const { alerts } = await (await getAlerts(request("/api/alerts", fixture.viewer))).json();
      expect(alerts.map((a: { alertname: string; state: string }) => [a.alertname, a.state])).toEqual([
        ["MQTT_Broker_Down", "firing"],
      ]);
    } finally {
      setRuntime(fixture.runtime);
    }
  });

  it("refuses an unknown parameter, naming it", async () => {
    const res = await getAlerts(request("/api/alerts?state=firing", fixture.viewer));
    expect(res.status).toBe(400);
    expect((await res.json()).error).toMatchObject({ code: "bad_request", parameter: "state" });
  });
});

describe("GET /api/alerts/history", () => {
  it("shows the alert that fired in the last 24 hours by default", async () => {
    const { alerts } = await (await getHistory(request("/api/alerts/history", fixture.viewer))).json();
    expect(alerts).toEqual([
      expect.objectContaining({
        alertname: "MQTT_Broker_Down",
        state: "firing",
        value: 0,
        firedAt: new Date(T0 + 30 * S).toISOString(),
        resolvedAt: null,
      }),
    ]);
  });

  it("a range that ended before the alert fired is empty", async () => {
    const to = new Date(T0 - 3600 * S).toISOString();
    const { alerts } = await (await getHistory(request(`/api/alerts/history?from=7d&to=${to}`, fixture.viewer))).json();
    expect(alerts).toEqual([]);
  });

  it("a bad `from` is a 400 naming it", async () => {
    const res = await getHistory(request("/api/alerts/history?from=yesterday", fixture.viewer));
    expect(res.status).toBe(400);
    expect((await res.json()).error).toMatchObject({ code: "bad_request", parameter: "from" });
  });

  it("`from` after `to` is a 400 naming `from`", async () => {
    const res = await getHistory(request("/api/alerts/history?from=1h&to=2h", fixture.viewer));
    expect(res.status).toBe(400);
    expect((await res.json()).error).toMatchObject({ parameter: "from" });
  });
});

describe("GET /api/rules", () => {
  it("lists the built-in rules with their state and last evaluation", async () => {
    const { rules } = await (await getRules(request("/api/rules", fixture.viewer))).json();
    expect(rules).toHaveLength(6);
    expect(rules.find((r: { name: string }) => r.name === "MQTT_Broker_Down")).toMatchObject({
      source: "builtin",
      enabled: true,
      expr: "mqtt_broker_up == 0",
      forSeconds: 30,
      labels: { severity: "critical" },
      state: "firing",
      alerts: { pending: 0, firing: 1 },
      lastEvaluatedAt: new Date(T0 + 30 * S).toISOString(),
      lastDurationMs: expect.any(Number),
      lastError: null,
      loadErrors: [],
    });
  });

  it("is 503 when the alert engine is not running", async () => {
    setRuntime({ ...fixture.runtime, alertEngine: undefined });
    try {
      const res = await getRules(request("/api/rules", fixture.viewer));
      expect(res.status).toBe(503);
    } finally {
      setRuntime(fixture.runtime);
    }
  });
});

describe("silences", () => {
  const plantA = [{ name: "broker", value: "plant-a", isRegex: false, isEqual: true }];

  it("only an admin may create one", async () => {
    const res = await postJson({ matchers: plantA, duration: "2h", createdBy: "ops" }, fixture.viewer);
    expect(res.status).toBe(403);
  });

  it.each([
    ["refuses a silence that would mute every alert", { name: "alertname", value: ".*" }, "matchers"],
    ["names the bad field of a matcher", { name: "broker", value: "plant-(" }, "matchers[0].value"],
  ])("%s", async (_, matcher, parameter) => {
    const res = await postJson({
      matchers: [{ ...matcher, isRegex: true, isEqual: true }],
      duration: "2h",
      createdBy: "ops",
    });
    expect(res.status).toBe(400);
    expect((await res.json()).error).toMatchObject({ code: "bad_request", parameter });
  });

  it("refuses a body that is not JSON", async () => {
    const res = await postSilence(request("/api/silences", ADMIN, { method: "POST", body: "matchers=broker" }));
    expect(res.status).toBe(400);
  });

  it("mutes the broker's alert for two hours, shows it, and expires on DELETE", async () => {
    const created = await postJson({ matchers: plantA, duration: "2h", createdBy: "ops", comment: "maintenance" });
    expect(created.status).toBe(201);
    const silence = await created.json();
    expect(silence).toMatchObject({ matchers: plantA, createdBy: "ops", comment: "maintenance", status: "active" });
    expect(Date.parse(silence.endsAt) - Date.parse(silence.startsAt)).toBe(2 * 3600 * S);

    const { alerts } = await (await getAlerts(request("/api/alerts", fixture.viewer))).json();
    expect(alerts[0].silencedBy).toEqual([silence.id]);
    const { silences } = await (await getSilences(request("/api/silences", fixture.viewer))).json();
    expect(silences.map((s: { id: string }) => s.id)).toContain(silence.id);

    expect(
      (
        await deleteSilence(
          request(`/api/silences/${silence.id}`, fixture.viewer, { method: "DELETE" }),
          idParams(silence.id),
        )
      ).status,
    ).toBe(403);
    const expired = await deleteSilence(
      request(`/api/silences/${silence.id}`, ADMIN, { method: "DELETE" }),
      idParams(silence.id),
    );
    expect(expired.status).toBe(200);
    expect(await expired.json()).toMatchObject({ id: silence.id, status: "expired" });
    const after = await (await getAlerts(request("/api/alerts", fixture.viewer))).json();
    expect(after.alerts[0].silencedBy).toEqual([]);
  });

  it("DELETE of an unknown silence is a 404", async () => {
    const res = await deleteSilence(request("/api/silences/nope", ADMIN, { method: "DELETE" }), idParams("nope"));
    expect(res.status).toBe(404);
  });
});
