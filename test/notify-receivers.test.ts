import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SMTPServer } from "smtp-server";
import { z } from "zod";
import { notifications } from "@/db/schema";
import { fingerprint } from "@/lib/alerts/state";
import { BrokerwatchConfigSchema, findDuplicateNames, ReceiverSchema } from "@/lib/config/schema";
import { Dispatcher, type NotifyAlert } from "@/lib/notify/dispatch";
import { DeliveryWorker } from "@/lib/notify/outbox";
import { pagerdutyDedupKey } from "@/lib/notify/receivers";
import { applyWebhookConfig } from "@/lib/notify/webhooks";
import { freshDatabase, type TestDatabase } from "./helpers/db";
import { waitFor } from "./helpers/ports";
import { startWebhookReceiver, type WebhookReceiver } from "./helpers/webhook-receiver";

/**
 * The receivers teams already use (issue 23), each fed by the same dispatcher and outbox as the
 * signed webhook: local receivers check each payload against the vendor's published shape, and a
 * real SMTP server (the smtp-server package) takes the e-mail over STARTTLS with a login.
 */
const SERVICE_KEY = "service-key";
const ROUTING_KEY = "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY01";
const SMTP_PASSWORD = "smtp-pass-word";

/** Slack incoming webhook with Block Kit (api.slack.com/messaging/webhooks, reference/block-kit/blocks). */
const SlackMessage = z.strictObject({
  text: z.string().min(1).max(3000),
  blocks: z
    .array(
      z.discriminatedUnion("type", [
        z.strictObject({
          type: z.literal("header"),
          text: z.strictObject({ type: z.literal("plain_text"), text: z.string().min(1).max(150), emoji: z.boolean().optional() }),
        }),
        z.strictObject({ type: z.literal("section"), text: z.strictObject({ type: z.literal("mrkdwn"), text: z.string().min(1).max(3000) }) }),
        z.strictObject({
          type: z.literal("context"),
          elements: z.array(z.strictObject({ type: z.literal("mrkdwn"), text: z.string().min(1) })).min(1).max(10),
        }),
      ]),
    )
    .min(1)
    .max(50),
});

/** Teams Workflows webhook: a message with one Adaptive Card attachment (adaptivecards.io schema 1.4). */
const TeamsMessage = z.strictObject({
  type: z.literal("message"),
  attachments: z
    .array(
      z.strictObject({
        contentType: z.literal("application/vnd.microsoft.card.adaptive"),
        contentUrl: z.null(),
        content: z.strictObject({
          $schema: z.literal("http://adaptivecards.io/schemas/adaptive-card.json"),
          type: z.literal("AdaptiveCard"),
          version: z.string().regex(/^1\.[0-5]$/),
          body: z
            .array(
              z.looseObject({
                type: z.literal("TextBlock"),
                text: z.string(),
                wrap: z.boolean().optional(),
              }),
            )
            .min(1),
          actions: z.array(z.strictObject({ type: z.literal("Action.OpenUrl"), title: z.string(), url: z.url() })).optional(),
        }),
      }),
    )
    .length(1),
});

/** PagerDuty Events API v2 (developer.pagerduty.com/api-reference: Send Event). */
const PagerDutyEvent = z.discriminatedUnion("event_action", [
  z.strictObject({
    routing_key: z.string().length(32),
    event_action: z.literal("trigger"),
    dedup_key: z.string().min(1).max(255),
    payload: z.strictObject({
      summary: z.string().min(1).max(1024),
      source: z.string().min(1),
      severity: z.enum(["critical", "error", "warning", "info"]),
      timestamp: z.iso.datetime().optional(),
      component: z.string().optional(),
      group: z.string().optional(),
      class: z.string().optional(),
      custom_details: z.record(z.string(), z.unknown()).optional(),
    }),
    links: z.array(z.strictObject({ href: z.url(), text: z.string() })).optional(),
    client: z.string().optional(),
    client_url: z.url().optional(),
  }),
  z.strictObject({
    routing_key: z.string().length(32),
    event_action: z.literal("resolve"),
    dedup_key: z.string().min(1).max(255),
  }),
]);

interface Mail {
  from: string;
  to: string[];
  raw: string;
  user: string | undefined;
  secure: boolean;
}

async function smtpServer() {
  const mails: Mail[] = [];
  const server = new SMTPServer({
    // smtp-server's built-in self-signed certificate: STARTTLS offered, checked by nothing here
    authMethods: ["PLAIN", "LOGIN"],
    onAuth(auth, _session, callback) {
      if (auth.username === "alerts" && auth.password === SMTP_PASSWORD) return callback(null, { user: auth.username });
      return callback(new Error("535 authentication failed"));
    },
    onData(stream, session, callback) {
      let raw = "";
      stream.on("data", (chunk: Buffer) => (raw += chunk.toString("utf8")));
      stream.on("end", () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
          user: session.user as string | undefined,
          secure: session.secure,
        });
        callback();
      });
    },
    logger: false,
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.server.address() as AddressInfo;
  return { port, mails, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe("receivers", () => {
  let t: TestDatabase;
  let slack: WebhookReceiver;
  let teams: WebhookReceiver;
  let pagerduty: WebhookReceiver;
  let smtp: Awaited<ReturnType<typeof smtpServer>>;
  let worker: DeliveryWorker | null = null;

  beforeAll(async () => {
    [t, slack, teams, pagerduty, smtp] = await Promise.all([
      freshDatabase(),
      startWebhookReceiver({ path: "/services/T000/B000/XXXX" }),
      startWebhookReceiver({ path: "/workflows/abc/triggers/manual/paths/invoke" }),
      startWebhookReceiver({ path: "/v2/enqueue" }),
      smtpServer(),
    ]);
  });
  afterAll(async () => {
    await worker?.stop();
    await Promise.all([slack?.close(), teams?.close(), pagerduty?.close(), smtp?.close()]);
    await t?.drop();
  });

  it("sends one alert group to Slack, Teams, PagerDuty and e-mail in each one's published shape, and resolves it", async () => {
    const db = t.database.db;
    const config = BrokerwatchConfigSchema.parse({
      receivers: [
        {
          name: "chat",
          type: "slack",
          url: slack.url,
          title: "{{ $labels.alertname }} on {{ $labels.broker }} ({{ $value }} firing)",
          body: "Runbook: https://wiki.example/mqtt",
        },
        { name: "teams-ops", type: "teams", url: teams.url },
        { name: "pager", type: "pagerduty", url: pagerduty.url, routingKey: ROUTING_KEY, match: { severity: "critical" } },
        {
          name: "mail",
          type: "email",
          from: "brokerwatch@example.test",
          to: ["ops@example.test", "oncall@example.test"],
          smtp: { host: "127.0.0.1", port: smtp.port, tls: "starttls", username: "alerts", password: SMTP_PASSWORD, verifyCertificate: false },
        },
      ],
    });
    await applyWebhookConfig(db, config.webhooks, SERVICE_KEY, config.receivers);
    worker = new DeliveryWorker(t.database, { secret: SERVICE_KEY, pollMs: 50, log: () => {} });
    worker.start();
    const dispatcher = new Dispatcher(t.database, {
      externalURL: "http://brokerwatch.test",
      log: () => {},
      onEnqueued: () => worker!.wake(),
    });
    const labels = { alertname: "MQTT_Broker_Down", broker: "plant-a", severity: "critical" };
    const startsAt = new Date(Date.now() - 120_000);
    const alert = (state: "firing" | "resolved"): NotifyAlert => ({
      fingerprint: fingerprint(labels),
      labels,
      annotations: { summary: "plant-a <is> down & out" },
      state,
      startsAt,
      endsAt: state === "resolved" ? new Date() : null,
      generatorURL: "http://brokerwatch.test/alerts",
    });

    expect(await dispatcher.onEvaluation({ now: new Date(), alerts: [alert("firing")] })).toBe(4);

    const slackReq = await slack.waitFor("slack message", () => true);
    const slackMsg = SlackMessage.parse(JSON.parse(slackReq.body));
    expect(slackMsg.text).toBe("MQTT_Broker_Down on plant-a (1 firing)");
    const section = slackMsg.blocks.find((b) => b.type === "section")!;
    // mrkdwn control characters escaped, the template's text above the list
    expect(section.text.text).toContain("plant-a &lt;is&gt; down &amp; out");
    expect(section.text.text.startsWith("Runbook: https://wiki.example/mqtt")).toBe(true);

    const teamsReq = await teams.waitFor("teams message", () => true);
    const card = TeamsMessage.parse(JSON.parse(teamsReq.body)).attachments[0].content;
    expect(card.body[0].text).toBe("[FIRING:1] MQTT_Broker_Down broker=plant-a");

    const trigger = PagerDutyEvent.parse(JSON.parse((await pagerduty.waitFor("trigger", () => true)).body));
    expect(trigger).toMatchObject({ routing_key: ROUTING_KEY, event_action: "trigger", payload: { severity: "critical", source: "plant-a" } });

    const mail = await waitFor("the e-mail", () => smtp.mails[0]);
    expect(mail).toMatchObject({ from: "brokerwatch@example.test", to: ["ops@example.test", "oncall@example.test"], user: "alerts", secure: true });
    expect(mail.raw).toMatch(/^Subject: \[FIRING:1\] MQTT_Broker_Down broker=plant-a$/m);
    expect(mail.raw).toMatch(/Content-Type: text\/plain/);
    expect(mail.raw).toMatch(/Content-Type: text\/html/);
    expect(mail.raw).toMatch(/^Message-ID: <msg_[A-Za-z0-9_-]+@brokerwatch>$/m);

    // secrets stay encrypted in the receiver: no stored body carries the routing key or the password
    const bodies = (await db.select().from(notifications)).map((n) => n.body).join("\n");
    expect(bodies).not.toContain(ROUTING_KEY);
    expect(bodies).not.toContain(SMTP_PASSWORD);

    expect(await dispatcher.onEvaluation({ now: new Date(), alerts: [alert("resolved")] })).toBe(4);
    const resolve = PagerDutyEvent.parse(
      JSON.parse((await pagerduty.waitFor("resolve", (r) => r.body.includes('"resolve"'))).body),
    );
    // one stable dedup_key: the resolve closes the incident the trigger opened
    expect(resolve).toEqual({ routing_key: ROUTING_KEY, event_action: "resolve", dedup_key: trigger.dedup_key });
    expect(trigger.dedup_key).toBe(pagerdutyDedupKey("pager", '{}:{alertname="MQTT_Broker_Down", broker="plant-a"}'));
    await slack.waitFor("slack resolved", (r) => r.body.includes("MQTT_Broker_Down on plant-a (0 firing)"));
    await teams.waitFor("teams resolved", (r) => r.body.includes("[RESOLVED]"));
    await waitFor("the resolved e-mail", () => smtp.mails.find((m) => /^Subject: \[RESOLVED\]/m.test(m.raw)));
    expect(pagerduty.requests).toHaveLength(2);
  });

  it("routes by label: a receiver matching severity=critical hears nothing of a warning", async () => {
    const before = pagerduty.requests.length;
    const dispatcher = new Dispatcher(t.database, { externalURL: "http://brokerwatch.test", log: () => {} });
    const labels = { alertname: "MQTT_Slow", broker: "plant-a", severity: "warning" };
    const n = await dispatcher.onEvaluation({
      now: new Date(),
      alerts: [
        {
          fingerprint: fingerprint(labels),
          labels,
          annotations: {},
          state: "firing",
          startsAt: new Date(),
          endsAt: null,
          generatorURL: "",
        },
      ],
    });
    // slack, teams and mail take everything; the pager only critical
    expect(n).toBe(3);
    expect(pagerduty.requests.length).toBe(before);
  });
});

describe("receivers: config", () => {
  it("keeps webhooks: and receivers: in one name space and says which entry took a name first", () => {
    const doc = {
      webhooks: [{ name: "ops", url: "http://a.test/" }],
      receivers: [{ name: "ops", type: "slack", url: "https://hooks.slack.test/x" }],
    };
    expect(findDuplicateNames(doc)).toEqual([
      { path: ["receivers", 0, "name"], message: 'duplicate receiver name "ops": webhooks[0] already uses it' },
    ]);
  });

  it("refuses an unknown type, a bad template and a regex RE2 cannot run, each with the reason", () => {
    const problems = (input: unknown) =>
      ReceiverSchema.safeParse(input).error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`) ?? [];
    expect(problems({ name: "x", type: "opsgenie", url: "http://a.test/" })).toEqual([
      "type: must be one of webhook, slack, teams, pagerduty, email, alertmanager",
    ]);
    expect(problems({ name: "x", type: "slack", url: "http://a.test/", title: "{{ $labels.x " })[0]).toMatch(
      /^title: is not a valid template/,
    );
    expect(problems({ name: "x", type: "slack", url: "http://a.test/", matchRe: { broker: "(a" } })).toEqual([
      "matchRe.broker: is not a valid RE2 regular expression",
    ]);
    expect(problems({ name: "x", type: "pagerduty" })).toEqual(["routingKey: Invalid input: expected string, received undefined"]);
  });
});
