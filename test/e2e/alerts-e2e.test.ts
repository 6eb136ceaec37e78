import { mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startApp, type RunningApp } from "../helpers/app";
import { createServerDatabase } from "../helpers/db";
import { startMosquitto, type RunningMosquitto } from "../helpers/mosquitto";
import { waitFor } from "../helpers/ports";
import { describeIf, needs } from "../helpers/require";
import {
  newWebhookSecret,
  startWebhookReceiver,
  type ReceivedWebhook,
  type WebhookReceiver,
} from "../helpers/webhook-receiver";

/**
 * Alerting end to end, as on-call meets it: real Mosquitto brokers die or hang, the whole service
 * (one `npm start` process) notices, evaluates `MQTT_Broker_Down` and pages a receiver with a
 * signed Alertmanager v4 webhook; the broker comes back and the page resolves. One app and one
 * broker per incident, so the incidents don't share alert groups; the app is killed and restarted
 * only by the last test.
 *
 * `MQTT_Broker_Down` is overridden in the file with `for: 0s` (a config rule with a built-in's
 * name replaces it), so each incident pages within about a second instead of 30 s.
 */
const TOKEN = "alerts-e2e-token";
const BROKERS = [
  "plant-killed",
  "plant-hung",
  "plant-flaky-net",
  "plant-silenced",
  "plant-scraped",
  "plant-restart",
] as const;
type BrokerName = (typeof BROKERS)[number];
/**
 * startApp builds the web app first when the sources changed since the last build (minutes on a
 * busy 2-core machine); the hooks and the test that starts the app again allow for that.
 */
const BUILD_TOLERANT_TIMEOUT_MS = 600_000;
/** Go's zero time: Alertmanager's endsAt of a firing alert. */
const ZERO_TIME = "0001-01-01T00:00:00Z";

interface ApiAlert {
  fingerprint: string;
  alertname: string;
  state: "pending" | "firing";
  labels: Record<string, string>;
  firedAt: string | null;
  silencedBy: string[];
}

interface HistoryAlert {
  fingerprint: string;
  alertname: string;
  state: "firing" | "resolved";
  labels: Record<string, string>;
  firedAt: string;
  resolvedAt: string | null;
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text exposition → samples (comments skipped). */
function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeIf(needs({ mosquitto: true }), "alerts end to end: real brokers, the whole service, a signed webhook", () => {
  const mosquittos = new Map<BrokerName, RunningMosquitto>();
  let receiver: WebhookReceiver;
  let app: RunningApp;
  let appEnv: Record<string, string>;
  let dataDir: string;
  /** the Postgres database both app starts share, when DATABASE_URL is set */
  let serverDb: { url: string; drop(): Promise<void> } | null = null;

  const broker = (name: BrokerName) => mosquittos.get(name)!;

  async function api<T>(pathAndQuery: string, init: RequestInit = {}): Promise<T> {
    const res = await fetch(`${app.url}${pathAndQuery}`, {
      ...init,
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    });
    if (!res.ok) throw new Error(`${init.method ?? "GET"} ${pathAndQuery}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }

  async function metrics(): Promise<Sample[]> {
    const res = await fetch(`${app.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    return parseExposition(await res.text());
  }

  const metricValue = (samples: Sample[], name: string) => samples.find((s) => s.name === name)?.value ?? 0;

  /**
   * /metrics once the service has recorded every answer the receiver gave: its delivery counters
   * (since the app started; only the last test restarts it) match the receiver's own count of
   * accepted and refused requests.
   */
  async function deliveriesRecorded(): Promise<Sample[]> {
    return waitFor(
      "/metrics to count every webhook answer",
      async () => {
        const m = await metrics();
        const ok = receiver.requests.filter((r) => r.answered === 200).length;
        return (
          metricValue(m, "brokerwatch_webhook_deliveries_total") === ok &&
          metricValue(m, "brokerwatch_webhook_failed_attempts_total") === receiver.requests.length - ok &&
          m
        );
      },
      5_000,
      50,
    );
  }

  async function alertsOf(name: BrokerName): Promise<ApiAlert[]> {
    const { alerts } = await api<{ alerts: ApiAlert[] }>("/api/alerts");
    return alerts.filter((a) => a.labels.broker === name);
  }

  /** every webhook request about `name`'s alert group */
  const requestsFor = (name: BrokerName) => receiver.requests.filter((r) => r.json?.commonLabels?.broker === name);

  const accepted =
    (name: BrokerName, status: "firing" | "resolved", after = 0) =>
    (r: ReceivedWebhook) =>
      r.at > after && r.answered === 200 && r.json?.status === status && r.json.commonLabels.broker === name;

  async function startBrokerwatch(): Promise<RunningApp> {
    return startApp({ env: appEnv, dataDir, database: serverDb ? "auto" : "pglite" });
  }

  /** The quiet state every incident starts from: the broker up and no alert about it. */
  async function settled(name: BrokerName): Promise<void> {
    await waitFor(
      `${name} up without alerts`,
      async () => {
        const { brokers } = await api<{ brokers: { name: string; status: string }[] }>("/api/brokers");
        return brokers.find((b) => b.name === name)?.status === "up" && (await alertsOf(name)).length === 0;
      },
      20_000,
      200,
    );
  }

  beforeAll(async () => {
    receiver = await startWebhookReceiver({ secret: newWebhookSecret() });
    await Promise.all(
      BROKERS.map(async (name) =>
        mosquittos.set(name, await startMosquitto(["allow_anonymous true", "sys_interval 1", "log_dest topic"])),
      ),
    );
    dataDir = await mkdtemp(path.join(os.tmpdir(), "bw-alerts-e2e-"));
    const config = path.join(dataDir, "brokerwatch.yaml");
    await writeFile(
      config,
      [
        "brokers:",
        ...BROKERS.flatMap((name) => [`  - name: ${name}`, `    url: ${broker(name).url}`, "    dialect: mosquitto"]),
        "rules:",
        "  - alert: MQTT_Broker_Down",
        "    expr: mqtt_broker_up == 0",
        "    for: 0s",
        "    labels: { severity: critical }",
        '    annotations: { summary: "Broker {{ $labels.broker }} is down" }',
        "webhooks:",
        "  - name: oncall",
        "    url: ${RECEIVER_URL}",
        "    secret: ${WEBHOOK_SECRET}",
        "    sendResolved: true",
      ].join("\n"),
    );
    // The restart test needs the same database for both starts: make it here rather than let
    // startApp make (and drop) a fresh one per start.
    serverDb = process.env.DATABASE_URL ? await createServerDatabase() : null;
    appEnv = {
      BROKERWATCH_CONFIG: config,
      BROKERWATCH_API_TOKEN: TOKEN,
      BUNDLED_BROKER: "off",
      RECEIVER_URL: receiver.url,
      WEBHOOK_SECRET: receiver.secret,
      ...(serverDb ? { DATABASE_URL: serverDb.url } : {}),
    };
    app = await startBrokerwatch();
    for (const name of BROKERS) await settled(name);
  }, BUILD_TOLERANT_TIMEOUT_MS);

  afterAll(async () => {
    await app?.stop();
    await Promise.all([...mosquittos.values()].map((m) => m.stop()));
    await receiver?.close();
    await serverDb?.drop();
  });

  it("pages a signed firing webhook when Mosquitto is killed, and resolves the same alert when it is back", async () => {
    const name = "plant-killed";
    const killedAt = performance.timeOrigin + performance.now();
    broker(name).signal("SIGKILL");

    const firing = await receiver.waitFor(`firing for ${name}`, accepted(name, "firing"), 10_000);
    // Verified as the receiver's own code would, with the Standard Webhooks reference library.
    expect(() => new Webhook(receiver.secret).verify(firing.body, firing.headers)).not.toThrow();
    expect(() => new Webhook(newWebhookSecret()).verify(firing.body, firing.headers)).toThrow();
    expect(firing.headers["webhook-id"]).toMatch(/^msg_/);
    const body = firing.json!;
    expect(body).toMatchObject({
      version: "4",
      status: "firing",
      receiver: "oncall",
      groupKey: `{}:{alertname="MQTT_Broker_Down", broker="${name}"}`,
      groupLabels: { alertname: "MQTT_Broker_Down", broker: name },
    });
    expect(body.alerts).toHaveLength(1);
    const [alert] = body.alerts;
    expect(alert).toMatchObject({
      status: "firing",
      labels: { alertname: "MQTT_Broker_Down", broker: name, severity: "critical" },
      annotations: { summary: `Broker ${name} is down` },
      endsAt: ZERO_TIME,
    });
    expect(alert.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    const startsAt = Date.parse(alert.startsAt);
    expect(startsAt).toBeGreaterThanOrEqual(killedAt - 1000);
    expect(startsAt).toBeLessThanOrEqual(firing.at);
    expect(alert.generatorURL).toContain("/alerts?rule=MQTT_Broker_Down");

    expect(await alertsOf(name)).toMatchObject([
      { fingerprint: alert.fingerprint, state: "firing", firedAt: new Date(startsAt).toISOString() },
    ]);

    const restartedAt = performance.timeOrigin + performance.now();
    await broker(name).restart();
    const resolved = await receiver.waitFor(`resolved for ${name}`, accepted(name, "resolved", restartedAt), 15_000);
    expect(() => new Webhook(receiver.secret).verify(resolved.body, resolved.headers)).not.toThrow();
    expect(resolved.json).toMatchObject({ version: "4", status: "resolved", groupKey: body.groupKey });
    expect(resolved.json!.alerts).toHaveLength(1);
    const [resolvedAlert] = resolved.json!.alerts;
    expect(resolvedAlert).toMatchObject({
      status: "resolved",
      fingerprint: alert.fingerprint,
      startsAt: alert.startsAt,
    });
    expect(resolvedAlert.endsAt).not.toBe(ZERO_TIME);
    expect(Date.parse(resolvedAlert.endsAt)).toBeGreaterThanOrEqual(startsAt);
    // A new notification, not a retry of the firing one.
    expect(resolved.headers["webhook-id"]).not.toBe(firing.headers["webhook-id"]);

    await waitFor(`no alert for ${name}`, async () => (await alertsOf(name)).length === 0, 10_000, 200);
    const { alerts: history } = await api<{ alerts: HistoryAlert[] }>("/api/alerts/history?from=1h");
    const episode = history.find((h) => h.fingerprint === alert.fingerprint);
    expect(episode).toMatchObject({ alertname: "MQTT_Broker_Down", state: "resolved", labels: { broker: name } });
    expect(Date.parse(episode!.firedAt)).toBe(startsAt);
    expect(Date.parse(episode!.resolvedAt!)).toBe(Date.parse(resolvedAlert.endsAt));
    expect(requestsFor(name).map((r) => `${r.answered} ${r.json!.status}`)).toEqual(["200 firing", "200 resolved"]);
  });

  it("pages when Mosquitto hangs with its socket open (SIGSTOP: only the heartbeat goes silent), and resolves on SIGCONT", async () => {
    const name = "plant-hung";
    await settled(name);
    const stoppedAt = performance.timeOrigin + performance.now();
    broker(name).signal("SIGSTOP");
    try {
      // Stale after max(3 × the 1 s $SYS interval, 5 s), then one evaluation and a delivery.
      const firing = await receiver.waitFor(`firing for ${name}`, accepted(name, "firing"), 10_000);
      expect(firing.at - stoppedAt).toBeLessThan(10_000);
      expect(firing.signatureValid).toBe(true);
      expect(firing.json!.alerts[0].labels).toMatchObject({ alertname: "MQTT_Broker_Down", broker: name });
    } finally {
      broker(name).signal("SIGCONT");
    }
    const resolved = await receiver.waitFor(`resolved for ${name}`, accepted(name, "resolved"), 15_000);
    expect(resolved.signatureValid).toBe(true);
    await settled(name);
    expect(requestsFor(name).map((r) => r.json!.status)).toEqual(["firing", "resolved"]);
  });

  it("delivers a page once, under one webhook-id, when the receiver answers 503 twice before accepting it", async () => {
    const name = "plant-flaky-net";
    await settled(name);
    const before = await deliveriesRecorded();
    receiver.failNext(2);
    broker(name).signal("SIGKILL");

    const delivered = await receiver.waitFor(`accepted firing for ${name}`, accepted(name, "firing"), 20_000);
    const attempts = requestsFor(name);
    expect(attempts.map((r) => r.answered)).toEqual([503, 503, 200]);
    expect(new Set(attempts.map((r) => r.headers["webhook-id"]))).toEqual(new Set([delivered.headers["webhook-id"]]));
    expect(new Set(attempts.map((r) => r.body)).size).toBe(1);
    for (const r of attempts) {
      // Each attempt is signed afresh (its own webhook-timestamp), and each signature verifies.
      expect(r.signatureError).toBeNull();
      expect(() => new Webhook(receiver.secret).verify(r.body, r.headers)).not.toThrow();
    }

    const after = await deliveriesRecorded();
    expect(metricValue(after, "brokerwatch_webhook_failed_attempts_total")).toBe(
      metricValue(before, "brokerwatch_webhook_failed_attempts_total") + 2,
    );
    expect(metricValue(after, "brokerwatch_webhook_deliveries_total")).toBe(
      metricValue(before, "brokerwatch_webhook_deliveries_total") + 1,
    );
    expect(metricValue(after, "brokerwatch_webhook_permanent_failures_total")).toBe(0);

    await broker(name).restart();
    await receiver.waitFor(`resolved for ${name}`, accepted(name, "resolved"), 15_000);
    await settled(name);
    expect(
      requestsFor(name)
        .filter((r) => r.answered === 200)
        .map((r) => r.json!.status),
    ).toEqual(["firing", "resolved"]);
  });

  it("keeps a silenced broker-down alert off the pager, and pages once the silence is lifted", async () => {
    const name = "plant-silenced";
    await settled(name);
    const silence = await api<{ id: string; status: string }>("/api/silences", {
      method: "POST",
      body: JSON.stringify({
        matchers: [{ name: "alertname", value: "MQTT_Broker_Down" }],
        duration: "1h",
        createdBy: "alerts-e2e",
        comment: "planned maintenance of the plant brokers",
      }),
    });
    expect(silence.status).toBe("active");
    let silenceActive = true;
    try {
      broker(name).signal("SIGKILL");
      const [firing] = await waitFor(
        `${name}'s alert firing`,
        async () => {
          const alerts = await alertsOf(name);
          return alerts.some((a) => a.state === "firing") && alerts;
        },
        10_000,
        100,
      );
      expect(firing.silencedBy).toEqual([silence.id]);
      // Several evaluation rounds with the alert firing and silenced: nothing reaches the receiver.
      await sleep(3000);
      expect(requestsFor(name)).toEqual([]);

      const liftedAt = performance.timeOrigin + performance.now();
      await api(`/api/silences/${silence.id}`, { method: "DELETE" });
      silenceActive = false;
      const page = await receiver.waitFor(`firing for ${name} after the silence`, accepted(name, "firing"), 10_000);
      expect(page.at).toBeGreaterThan(liftedAt);
      expect(page.signatureValid).toBe(true);
      expect(page.json!.alerts[0]).toMatchObject({ fingerprint: firing.fingerprint, status: "firing" });
    } finally {
      if (silenceActive) await api(`/api/silences/${silence.id}`, { method: "DELETE" }).catch(() => {});
    }
    await broker(name).restart();
    await receiver.waitFor(`resolved for ${name}`, accepted(name, "resolved"), 15_000);
    await settled(name);
    expect(requestsFor(name).map((r) => r.json!.status)).toEqual(["firing", "resolved"]);
  });

  it("exports mqtt_broker_up 0 and a firing ALERTS series on /metrics while a broker is down", async () => {
    const name = "plant-scraped";
    await settled(name);
    const up = (await metrics()).find((s) => s.name === "mqtt_broker_up" && s.labels.broker === name);
    expect(up?.value).toBe(1);

    broker(name).signal("SIGKILL");
    await waitFor(`${name}'s alert firing`, async () => (await alertsOf(name))[0]?.state === "firing", 10_000, 100);
    const down = await metrics();
    expect(down.find((s) => s.name === "mqtt_broker_up" && s.labels.broker === name)?.value).toBe(0);
    expect(down.find((s) => s.name === "mqtt_broker_up" && s.labels.broker === "plant-killed")?.value).toBe(1);
    const alerts = down.filter((s) => s.name === "ALERTS" && s.labels.broker === name);
    expect(alerts).toEqual([
      {
        name: "ALERTS",
        labels: expect.objectContaining({
          alertname: "MQTT_Broker_Down",
          alertstate: "firing",
          broker: name,
          severity: "critical",
        }),
        value: 1,
      },
    ]);

    await broker(name).restart();
    await receiver.waitFor(`resolved for ${name}`, accepted(name, "resolved"), 15_000);
    await settled(name);
    const back = await metrics();
    expect(back.find((s) => s.name === "mqtt_broker_up" && s.labels.broker === name)?.value).toBe(1);
    expect(back.filter((s) => s.name === "ALERTS" && s.labels.broker === name)).toEqual([]);
  });

  it(
    "does not page twice when brokerwatch is killed while an alert fires, and resolves it once after the restart",
    { timeout: BUILD_TOLERANT_TIMEOUT_MS },
    async () => {
      const name = "plant-restart";
      await settled(name);
      broker(name).signal("SIGKILL");
      const firing = await receiver.waitFor(`firing for ${name}`, accepted(name, "firing"), 10_000);
      const [alert] = firing.json!.alerts;
      // Killed once the page is on record: the alert state saved and the delivery logged.
      await waitFor(`${name}'s alert firing`, async () => (await alertsOf(name))[0]?.state === "firing", 5_000, 50);
      await deliveriesRecorded();
      const killed = await app.stop("SIGKILL");
      expect(killed.code).toBeNull();
      const requestsBefore = requestsFor(name).length;

      app = await startBrokerwatch();
      const restartedAt = performance.timeOrigin + performance.now();
      // The same episode: still firing, since the same moment, restored from the database.
      await waitFor(
        `${name}'s alert restored`,
        async () => {
          const [restored] = await alertsOf(name);
          return restored?.state === "firing" && restored;
        },
        10_000,
        100,
      ).then((restored) => {
        expect(restored.fingerprint).toBe(alert.fingerprint);
        expect(restored.firedAt).toBe(new Date(Date.parse(alert.startsAt)).toISOString());
      });
      // Ten seconds of evaluation rounds on the restarted service: no second page.
      await sleep(Math.max(0, restartedAt + 10_000 - (performance.timeOrigin + performance.now())));
      expect(requestsFor(name).slice(requestsBefore)).toEqual([]);
      expect((await alertsOf(name))[0]?.state).toBe("firing");

      const backAt = performance.timeOrigin + performance.now();
      await broker(name).restart();
      const resolved = await receiver.waitFor(`resolved for ${name}`, accepted(name, "resolved", backAt), 20_000);
      expect(resolved.signatureValid).toBe(true);
      expect(resolved.json!.alerts[0]).toMatchObject({
        status: "resolved",
        fingerprint: alert.fingerprint,
        startsAt: alert.startsAt,
      });
      await settled(name);
      await sleep(1500);
      expect(requestsFor(name).map((r) => `${r.answered} ${r.json!.status}`)).toEqual(["200 firing", "200 resolved"]);
    },
  );
});
