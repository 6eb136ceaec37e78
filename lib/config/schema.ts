import "@/lib/zod-browser";
import { z } from "zod";
import type { DialectName } from "../collector/types";
import { validateTemplate } from "../alerts/template";
import { compileLabelRegex } from "../alerts/promql/regex";

/**
 * The shape of `brokerwatch.yaml` (docs/contract.md §2) as zod schemas, and the
 * normalised objects the rest of the service reads. Parsing the YAML, `${VAR}`
 * interpolation and turning issues into `file:line:col: path: problem` lines
 * live in `load.ts`; this file only says what is valid and what it means.
 *
 * Messages here are written for the operator reading them at start-up, so they
 * say what a valid value looks like and echo what was found, except for
 * passwords, secrets and headers, which never appear in an error.
 */

/** `auto` lets the collector pick the dialect from what the broker publishes. */
import { BROKER_DIALECTS, RECEIVER_KINDS, type BrokerDialect, type ReceiverKind } from "@/db/vocabulary";
export { BROKER_DIALECTS, type BrokerDialect };

/** The rules shipped on by default (docs/contract.md §6); a config rule with one of these names replaces it. */
export const BUILTIN_RULE_NAMES = [
  "MQTT_Connection_Saturation",
  "MQTT_Message_Queue_Backlog",
  "MQTT_Cluster_Node_Down",
  "MQTT_Broker_Down",
  "MQTT_Subscription_Memory",
  "MQTT_Connection_Saturation_Predicted",
] as const;
export type BuiltinRuleName = (typeof BUILTIN_RULE_NAMES)[number];

const BROKER_URL_SCHEMES = ["mqtt:", "mqtts:", "ws:", "wss:"] as const;
const WEBHOOK_URL_SCHEMES = ["http:", "https:"] as const;

/** A value as an operator would recognise it in an error message. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "an empty value";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string") return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  return String(value);
}

// ---------------------------------------------------------------------------
// Durations

const MILLISECONDS_PER_UNIT = {
  y: 365 * 24 * 3600_000,
  w: 7 * 24 * 3600_000,
  d: 24 * 3600_000,
  h: 3600_000,
  m: 60_000,
  s: 1000,
  ms: 1,
} as const;

/** Prometheus `model.ParseDuration`: each unit at most once, largest first, integers only. */
const PROMETHEUS_DURATION = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;
const DURATION_UNITS = ["y", "w", "d", "h", "m", "s", "ms"] as const;
const MAX_DURATION_YEARS = 1000;
const MAX_DURATION_MS = MAX_DURATION_YEARS * MILLISECONDS_PER_UNIT.y;

/**
 * A Prometheus duration (`30s`, `5m`, `1h30m`, `2d`, `0s`, `500ms`, or a bare `0`)
 * in seconds, fractional for milliseconds. Shared with the API's `from`/`to`.
 */
export function parseDuration(text: string): number {
  // Prometheus accepts a bare "0" as the one unitless duration.
  if (text === "0") return 0;
  const match = PROMETHEUS_DURATION.exec(text);
  if (text === "" || !match) {
    throw new Error(
      `not a duration: ${describeValue(text)}; write it like 30s, 5m, 1h30m or 7d (units y, w, d, h, m, s, ms, largest first)`,
    );
  }
  let milliseconds = 0;
  DURATION_UNITS.forEach((unit, i) => {
    const count = match[i + 1];
    if (count !== undefined) milliseconds += Number(count) * MILLISECONDS_PER_UNIT[unit];
  });
  // A bound well inside what a Date can add (±8.64e15 ms) and a Postgres interval holds.
  if (!Number.isSafeInteger(milliseconds) || milliseconds > MAX_DURATION_MS) {
    throw new Error(`duration ${describeValue(text)} is too long; at most ${MAX_DURATION_YEARS}y`);
  }
  return milliseconds / 1000;
}

const durationSeconds = z
  .string({
    error: (issue) =>
      issue.input === undefined
        ? undefined
        : `must be a duration with a unit, like 30s, 5m or 1h30m (got ${describeValue(issue.input)})`,
  })
  .transform((text, ctx) => {
    try {
      return parseDuration(text);
    } catch (error) {
      ctx.addIssue({ code: "custom", message: (error as Error).message, input: text });
      return z.NEVER;
    }
  });

const positiveDurationSeconds = durationSeconds.refine((seconds) => seconds > 0, {
  error: "must be longer than 0s",
});

// ---------------------------------------------------------------------------
// Scalars

/**
 * `${VAR}` interpolation always yields text, so `maxConnections: ${MAX}` arrives
 * as "50000". Numbers and booleans therefore also accept their exact text form;
 * the reverse is not done (a password `012345` stays text, never a number).
 */
const wholeNumberFromText = (value: unknown) =>
  typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
const booleanFromText = (value: unknown) => (value === "true" ? true : value === "false" ? false : value);

const notAPositiveCount = (issue: { input?: unknown }) =>
  issue.input === undefined ? undefined : `must be a whole number, 1 or more (got ${describeValue(issue.input)})`;
const positiveCount = z.preprocess(
  wholeNumberFromText,
  z
    .number({ error: notAPositiveCount })
    .int({ error: notAPositiveCount })
    .min(1, { error: notAPositiveCount })
    // stored in a Postgres integer column
    .max(2 ** 31 - 1, { error: (issue) => `must be at most ${2 ** 31 - 1} (got ${describeValue(issue.input)})` }),
);

const onOff = z.preprocess(
  booleanFromText,
  z.boolean({
    error: (issue) =>
      issue.input === undefined ? undefined : `must be true or false (got ${describeValue(issue.input)})`,
  }),
);

const text = z.string();
const nonEmptyText = z.string().min(1);

/** Passwords, secrets and header values: the message must not repeat what was found. */
const secretText = z.string({
  error: (issue) =>
    issue.input === undefined ? undefined : "must be text; YAML did not read it as text, so put the value in quotes",
});

const OBJECT_NAME = /^[A-Za-z0-9._-]{1,64}$/;
/** Broker, cluster and webhook names: they become the `broker`/`cluster` label and appear in URLs. */
const objectName = z.string().regex(OBJECT_NAME, {
  error: (issue) => `must be 1 to 64 letters, digits, "-", "_" or "." (got ${describeValue(issue.input)})`,
});

/** Prometheus metric/label-name charset: rule names become the `alertname` label. */
const PROMETHEUS_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const ruleName = z.string().regex(PROMETHEUS_NAME, {
  error: (issue) =>
    `must be letters, digits and "_", not starting with a digit, like MQTT_Broker_Down (got ${describeValue(issue.input)})`,
});
const labelName = z.string().regex(PROMETHEUS_NAME, {
  error: (issue) =>
    `label names are letters, digits and "_", not starting with a digit (got ${describeValue(issue.input)})`,
});
/** `labels: {}` / `annotations: {}`; an empty `labels:` line means none. */
const labelMap = z
  .record(labelName, text)
  .nullish()
  .transform((labels) => labels ?? {});

/** Shows a URL in an error without the password someone put in it. */
function withoutPassword(url: string): string {
  return url.replace(/\/\/([^/@:]*):[^/@]*@/, "//$1:***@");
}

function urlWithScheme(schemes: readonly string[], wrongSchemeMessage: string, credentialsHint: string) {
  return z.string().superRefine((value, ctx) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      ctx.addIssue({ code: "custom", message: `${wrongSchemeMessage} (got ${describeValue(withoutPassword(value))})` });
      return;
    }
    if (!schemes.includes(url.protocol)) {
      ctx.addIssue({ code: "custom", message: `${wrongSchemeMessage} (got ${describeValue(withoutPassword(value))})` });
    } else if (url.hostname === "") {
      ctx.addIssue({
        code: "custom",
        message: `needs a host, like ${schemes[0]}//broker.example:1883 (got ${describeValue(value)})`,
      });
    } else if (url.username !== "" || url.password !== "") {
      ctx.addIssue({ code: "custom", message: credentialsHint });
    }
  });
}

const brokerUrl = urlWithScheme(
  BROKER_URL_SCHEMES,
  "must be an mqtt://, mqtts://, ws:// or wss:// URL",
  // The URL is shown by the UI and GET /api/brokers; only `password` is kept secret.
  "must not contain a user name or password; put them in username: and password:, which are never shown",
);

/** `metricsUrl` of a RabbitMQ or HiveMQ broker: its Prometheus endpoint. */
const metricsUrl = urlWithScheme(
  WEBHOOK_URL_SCHEMES,
  "must be the http:// or https:// URL of the broker's Prometheus endpoint, like http://rabbit:15692/metrics",
  "must not contain a user name or password",
);

/** `amqpUrl` of a RabbitMQ broker; the monitoring user is `username:` / `password:`, never the URL. */
const amqpUrl = urlWithScheme(
  ["amqp:", "amqps:"],
  "must be an amqp:// or amqps:// URL, like amqp://rabbit:5672 (a vhost may follow: amqp://rabbit:5672/prod)",
  "must not contain a user name or password; put them in username: and password:, which are never shown",
);

/** `monitorUrl` of a NATS server: its HTTP monitoring port (`http:` in nats-server.conf). */
const monitorUrl = urlWithScheme(
  WEBHOOK_URL_SCHEMES,
  "must be the http:// or https:// URL of the NATS server's monitoring port, like http://nats:8222",
  "must not contain a user name or password (the monitoring port has no authentication)",
);

/** `natsUrl` of a NATS server: its client port, where the system user (`username:` / `password:`) logs in. */
const natsUrl = urlWithScheme(
  ["nats:", "tls:"],
  "must be a nats:// or tls:// URL of the NATS server's client port, like nats://nats:4222",
  "must not contain a user name or password; put the system user in username: and password:, which are never shown",
);

const webhookUrl = urlWithScheme(
  WEBHOOK_URL_SCHEMES,
  "must be an http:// or https:// URL",
  // fetch() refuses URLs with credentials; basic auth goes in a header instead.
  'must not contain a user name or password; send credentials as headers: { Authorization: "Basic ..." }',
);

/** Bridged `$SYS` trees: `plant-a` and `plant-a//` both mean topics `plant-a/$SYS/...`. */
const sysTopicPrefix = z
  .string()
  .superRefine((prefix, ctx) => {
    if (/[+#]/.test(prefix)) {
      ctx.addIssue({
        code: "custom",
        message: `is the literal topic prefix the bridge adds, so it cannot contain the wildcards + or # (got ${describeValue(prefix)})`,
      });
    } else if (/(^|\/)\$SYS\/*$/.test(prefix)) {
      ctx.addIssue({
        code: "custom",
        message: `leave out $SYS: the prefix is what comes before it, e.g. plant-a/ for topics plant-a/$SYS/... (got ${describeValue(prefix)})`,
      });
    }
  })
  .transform((prefix) => (prefix === "" ? undefined : `${prefix.replace(/\/+$/, "")}/`));

// ---------------------------------------------------------------------------
// Webhook secrets (Standard Webhooks: `whsec_` + base64 of 24–64 random bytes)

const WEBHOOK_SECRET_PREFIX = "whsec_";
const WEBHOOK_SECRET_MIN_BYTES = 24;
const GENERATE_SECRET_HINT = 'generate one with: echo "whsec_$(openssl rand -base64 32)"';

function webhookSecretProblem(secret: string): string | null {
  if (!secret.startsWith(WEBHOOK_SECRET_PREFIX)) {
    return `must be whsec_ followed by base64 of at least ${WEBHOOK_SECRET_MIN_BYTES} random bytes (Standard Webhooks); ${GENERATE_SECRET_HINT}`;
  }
  const base64 = secret.slice(WEBHOOK_SECRET_PREFIX.length);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64) || base64.length % 4 !== 0) {
    return `the part after whsec_ is not valid base64; ${GENERATE_SECRET_HINT}`;
  }
  const bytes = Buffer.from(base64, "base64").length;
  if (bytes < WEBHOOK_SECRET_MIN_BYTES) {
    return `the part after whsec_ decodes to ${bytes} bytes; Standard Webhooks needs at least ${WEBHOOK_SECRET_MIN_BYTES}; ${GENERATE_SECRET_HINT}`;
  }
  return null;
}

const webhookSecret = secretText.superRefine((secret, ctx) => {
  const problem = webhookSecretProblem(secret);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

/** The notifier sets these to sign each delivery (docs/contract.md §6); a configured one would break verification. */
const SIGNATURE_HEADERS = ["webhook-id", "webhook-timestamp", "webhook-signature"];
const HTTP_HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/**
 * RFC 7230 field-value: visible characters, space and tab (and obs-text). CR or LF would split
 * the header (and Node refuses to send it); NUL is refused by Node and Postgres alike.
 */
const HTTP_HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const headerValue = secretText.refine((value) => HTTP_HEADER_VALUE.test(value), {
  // the value may be a credential: say what is wrong, never what was found
  error: "must be a valid HTTP header value: no control characters such as CR, LF or NUL",
});

const headerName = z.string().superRefine((name, ctx) => {
  if (!HTTP_HEADER_NAME.test(name)) {
    ctx.addIssue({ code: "custom", message: `is not a valid HTTP header name (got ${describeValue(name)})` });
  } else if (SIGNATURE_HEADERS.includes(name.toLowerCase())) {
    ctx.addIssue({
      code: "custom",
      message: `${name} is set by brokerwatch to sign each delivery and cannot be configured`,
    });
  }
});

// ---------------------------------------------------------------------------
// Sections

export const BrokerSchema = z.strictObject({
  /** unique in the file; the `broker` label everywhere */
  name: objectName,
  url: brokerUrl,
  dialect: z.enum(BROKER_DIALECTS).default("auto"),
  username: text.optional(),
  password: secretText.optional(),
  /** brokers sharing a cluster are its nodes */
  cluster: objectName.optional(),
  /** capacity for the saturation rule (`mqtt_connections_max`) */
  maxConnections: positiveCount.optional(),
  /** cluster size the node-down rule expects */
  expectedNodes: positiveCount.optional(),
  /** ends with exactly one `/`; the collector subscribes to `${sysTopicPrefix}$SYS/...` */
  sysTopicPrefix: sysTopicPrefix.optional(),
  enabled: onOff.default(true),
  /** the collector's MQTT client id; when absent the collector derives one */
  clientId: nonEmptyText.optional(),
  /** rabbitmq, hivemq: the Prometheus endpoint the scrape collector reads */
  metricsUrl: metricsUrl.optional(),
  /** rabbitmq: the AMQP URL whose `amq.rabbitmq.log` / `amq.rabbitmq.event` exchanges it consumes */
  amqpUrl: amqpUrl.optional(),
  /** nats: the HTTP monitoring port (liveness, metrics, ClientID events from /connz) */
  monitorUrl: monitorUrl.optional(),
  /** nats: the client port where the system user receives pushed connect/disconnect events */
  natsUrl: natsUrl.optional(),
});
export type BrokerConfig = z.output<typeof BrokerSchema>;

/**
 * A broker entry with the checks across its keys: rabbitmq is read from its Prometheus endpoint,
 * and metricsUrl / amqpUrl mean something only for the dialects read by scraping. Separate from
 * BrokerSchema, whose `.pick()` and `.shape` others use (a refined object cannot be picked).
 */
export const BrokerEntrySchema = BrokerSchema.superRefine((broker, ctx) => {
  if (broker.dialect === "rabbitmq" && !broker.metricsUrl) {
    ctx.addIssue({
      code: "custom",
      path: ["metricsUrl"],
      message: "is required for dialect rabbitmq: its Prometheus endpoint, like http://rabbit:15692/metrics",
    });
  }
  if (broker.metricsUrl && broker.dialect !== "rabbitmq" && broker.dialect !== "hivemq") {
    ctx.addIssue({
      code: "custom",
      path: ["metricsUrl"],
      message: `is read only for dialect rabbitmq or hivemq (this broker is ${broker.dialect})`,
    });
  }
  if (broker.amqpUrl && broker.dialect !== "rabbitmq") {
    ctx.addIssue({
      code: "custom",
      path: ["amqpUrl"],
      message: `is read only for dialect rabbitmq (this broker is ${broker.dialect})`,
    });
  }
  if (broker.dialect === "nats" && !broker.monitorUrl) {
    ctx.addIssue({
      code: "custom",
      path: ["monitorUrl"],
      message: "is required for dialect nats: the server's HTTP monitoring port, like http://nats:8222",
    });
  }
  for (const key of ["monitorUrl", "natsUrl"] as const) {
    if (broker[key] && broker.dialect !== "nats") {
      ctx.addIssue({ code: "custom", path: [key], message: `is read only for dialect nats (this broker is ${broker.dialect})` });
    }
  }
  if (broker.natsUrl && !broker.username) {
    ctx.addIssue({
      code: "custom",
      path: ["username"],
      message: "is required with natsUrl: a user of the server's system account, which receives the connect and disconnect events",
    });
  }
});

/**
 * Every rule key of both forms. One object rather than a union of the two forms:
 * a union would answer a typo with "matches neither shape" instead of naming the key.
 */
const ruleFields = z.strictObject({
  // Prometheus form (docs/alerting.md A1)
  alert: ruleName.optional(),
  keep_firing_for: durationSeconds.optional(),
  labels: labelMap.optional(),
  annotations: labelMap.optional(),
  // seed form
  name: ruleName.optional(),
  severity: nonEmptyText.optional(),
  // both
  expr: nonEmptyText.optional(),
  for: durationSeconds.optional(),
  enabled: onOff.default(true),
});

const PROMETHEUS_ONLY_KEYS = ["keep_firing_for", "labels", "annotations"] as const;

interface RuleCommon {
  /** `alert` (Prometheus form) or `name` (seed form); the `alertname` label */
  name: string;
  forSeconds: number;
  keepFiringForSeconds: number;
  /** the seed form's `severity` lands here as `labels.severity` */
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/**
 * One rule, whichever form it was written in. `expr` is null only for a disabled
 * entry that just switches off the built-in rule of that name:
 * `{ name: MQTT_Broker_Down, enabled: false }`.
 */
export type RuleConfig = RuleCommon & ({ enabled: true; expr: string } | { enabled: false; expr: string | null });

export const RuleSchema = ruleFields.transform((rule, ctx): RuleConfig => {
  let problems = 0;
  const issue = (key: string, message: string) => {
    problems += 1;
    ctx.addIssue({ code: "custom", path: key ? [key] : [], message });
  };
  const name = rule.alert ?? rule.name;
  if (rule.alert !== undefined && rule.name !== undefined) {
    issue("name", "a rule is named by alert: (Prometheus form) or by name: (seed form), not both");
  }
  if (name === undefined) {
    issue("", "needs a name: alert: (Prometheus form) or name: (seed form)");
  }
  if (rule.alert !== undefined && rule.severity !== undefined) {
    issue("severity", "is the seed form's shorthand; with alert: write labels: { severity: ... }");
  }
  if (rule.name !== undefined && rule.alert === undefined) {
    for (const key of PROMETHEUS_ONLY_KEYS) {
      if (rule[key] !== undefined) {
        issue(key, "belongs to the Prometheus form; name the rule with alert: instead of name: to use it");
      }
    }
  }
  if (rule.enabled && rule.expr === undefined) {
    issue("expr", "is required (only an entry with enabled: false, switching off a built-in rule, may leave it out)");
  }
  if (name === undefined || problems > 0) return z.NEVER;

  const common: RuleCommon = {
    name,
    forSeconds: rule.for ?? 0,
    keepFiringForSeconds: rule.keep_firing_for ?? 0,
    labels: rule.severity === undefined ? (rule.labels ?? {}) : { ...rule.labels, severity: rule.severity },
    annotations: rule.annotations ?? {},
  };
  if (rule.enabled) {
    if (rule.expr === undefined) return z.NEVER; // reported above
    return { ...common, enabled: true, expr: rule.expr };
  }
  return { ...common, enabled: false, expr: rule.expr ?? null };
});

const webhookFields = z.strictObject({
  name: objectName,
  url: webhookUrl,
  /** `whsec_…`; signs every delivery */
  secret: webhookSecret.optional(),
  sendResolved: onOff.default(true),
  enabled: onOff.default(true),
  headers: z
    .record(headerName, headerValue)
    .nullish()
    .transform((headers) => headers ?? {}),
  /**
   * Label names that group alerts into one notification. Left undefined when not
   * configured, so the notifier's default (alertname, broker, cluster) lives in one place.
   */
  groupBy: z.array(labelName).optional(),
  /** how often a still-firing group is re-sent */
  repeatInterval: positiveDurationSeconds.optional(),
  /** wait before the first notification of a new group */
  groupWait: durationSeconds.optional(),
});

export const WebhookSchema = webhookFields.transform(({ repeatInterval, groupWait, ...webhook }) => ({
  ...webhook,
  repeatIntervalSeconds: repeatInterval,
  groupWaitSeconds: groupWait,
}));
export type WebhookConfig = z.output<typeof WebhookSchema>;

/** Receiver routing regexes compile as Alertmanager's do: anchored, RE2 (linear time). */
function isValidRoutingRegex(source: string): boolean {
  try {
    compileLabelRegex(source, { dotAll: false });
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------
// receivers: (issue 23) — the signed webhook and the receivers teams already run

/** The receiver kinds of `receivers:`; `webhooks:` entries are `webhook` ones. */
export const RECEIVER_TYPES = RECEIVER_KINDS;
export type ReceiverType = ReceiverKind;

/** PagerDuty Events API v2 severities (payload.severity). */
export const PAGERDUTY_SEVERITIES = ["critical", "error", "warning", "info"] as const;
export const PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue";

const templateText = z.string().superRefine((template, ctx) => {
  const problem = validateTemplate(template);
  if (problem !== null) ctx.addIssue({ code: "custom", message: `is not a valid template: ${problem}` });
});

const labelRegexText = z.string().superRefine((source, ctx) => {
  if (!isValidRoutingRegex(source)) ctx.addIssue({ code: "custom", message: "is not a valid RE2 regular expression" });
});

/** Fields every receiver takes: delivery grouping as for webhooks, routing, and the message templates. */
const receiverCommonFields = {
  name: objectName,
  sendResolved: onOff.default(true),
  enabled: onOff.default(true),
  groupBy: z.array(labelName).optional(),
  repeatInterval: positiveDurationSeconds.optional(),
  groupWait: durationSeconds.optional(),
  /** routing: only alerts whose labels equal these (Alertmanager route `match:`) */
  match: z.record(labelName, z.string()).optional(),
  /** routing: only alerts whose labels fully match these RE2 expressions (route `match_re:`) */
  matchRe: z.record(labelName, labelRegexText).optional(),
  /** the message's title (Slack header, Teams card title, PagerDuty summary, e-mail subject); a template */
  title: templateText.optional(),
  /** text above the list of alerts; a template */
  body: templateText.optional(),
};

const receiverVariants = z.discriminatedUnion(
  "type",
  [
    z.strictObject({
      ...receiverCommonFields,
      type: z.literal("webhook"),
      url: webhookUrl,
      secret: webhookSecret.optional(),
      headers: z
        .record(headerName, headerValue)
        .nullish()
        .transform((headers) => headers ?? {}),
    }),
    z.strictObject({ ...receiverCommonFields, type: z.literal("slack"), url: webhookUrl }),
    z.strictObject({ ...receiverCommonFields, type: z.literal("teams"), url: webhookUrl }),
    z.strictObject({
      ...receiverCommonFields,
      type: z.literal("pagerduty"),
      /** the integration's routing key: a credential, stored encrypted */
      routingKey: secretText.min(1, { error: "is required: the Events API v2 integration key" }),
      url: webhookUrl.default(PAGERDUTY_EVENTS_URL),
      /** payload.severity when the alert has no matching `severity` label */
      severity: z.enum(PAGERDUTY_SEVERITIES).default("error"),
    }),
    z.strictObject({
      ...receiverCommonFields,
      type: z.literal("email"),
      to: z.union([nonEmptyText, z.array(nonEmptyText).min(1)]).transform((to) => (Array.isArray(to) ? to : [to])),
      from: nonEmptyText,
      smtp: z.strictObject({
        host: nonEmptyText,
        port: z.number().int().min(1).max(65535).optional(),
        /** starttls: plain connection upgraded (required) with STARTTLS, port 587; tls: TLS from the first byte, port 465; none: no TLS */
        tls: z.enum(["starttls", "tls", "none"]).default("starttls"),
        username: nonEmptyText.optional(),
        /** stored encrypted, bound to the SMTP server's host and port */
        password: secretText.optional(),
        /** false accepts a certificate that does not verify (a self-signed relay) */
        verifyCertificate: onOff.default(true),
      }),
    }),
    z.strictObject({
      ...receiverCommonFields,
      type: z.literal("alertmanager"),
      /** one or more Alertmanagers; each gets every alert (POST /api/v2/alerts), as Prometheus sends */
      urls: z.union([webhookUrl, z.array(webhookUrl).min(1)]).transform((u) => (Array.isArray(u) ? u : [u])),
    }),
  ],
  {
    error: (issue) =>
      issue.code === "invalid_union" ? `must be one of ${RECEIVER_TYPES.join(", ")}` : undefined,
  },
);

export const ReceiverSchema = receiverVariants.transform(({ repeatInterval, groupWait, ...receiver }) => ({
  ...receiver,
  repeatIntervalSeconds: repeatInterval,
  groupWaitSeconds: groupWait,
}));
export type ReceiverConfig = z.output<typeof ReceiverSchema>;

const retentionFields = z.strictObject({
  rawSamples: positiveDurationSeconds.prefault("7d"),
  rollups: positiveDurationSeconds.prefault("400d"),
  events: positiveDurationSeconds.prefault("90d"),
});

/** How long each kind of data is kept, in seconds; a missing or empty `retention:` means all defaults. */
export const RetentionSchema = z.preprocess(
  (retention) => retention ?? {},
  retentionFields.transform((retention) => ({
    rawSamplesSeconds: retention.rawSamples,
    rollupsSeconds: retention.rollups,
    eventsSeconds: retention.events,
  })),
);
export type RetentionConfig = z.output<typeof RetentionSchema>;

/** A missing key and an empty one (`brokers:` with every entry commented out) both mean an empty list. */
function listOf<Item extends z.ZodType>(item: Item) {
  return z
    .array(item)
    .nullish()
    .transform((items): z.output<Item>[] => items ?? []);
}

/** How many instances watch each broker when several run on one Postgres (fewer when fewer are alive). */
export const DEFAULT_WATCHERS = 2;
/** Absent when the file does not say: the service then uses DEFAULT_WATCHERS. */
const WatchersSchema = positiveCount.nullish().transform((v) => v ?? undefined);

export const BrokerwatchConfigSchema = z.strictObject(
  {
    brokers: listOf(BrokerEntrySchema),
    rules: listOf(RuleSchema),
    /** Prometheus rule files (globs, relative to this file) read at start: lib/config/rule-files.ts */
    ruleFiles: listOf(z.string().trim().min(1, { error: "must be a file name or glob" })),
    webhooks: listOf(WebhookSchema),
    receivers: listOf(ReceiverSchema),
    retention: RetentionSchema,
    watchers: WatchersSchema,
  },
  {
    error: (issue) =>
      issue.code === "invalid_type"
        ? `the file must be a mapping with the keys brokers, rules, ruleFiles, webhooks, receivers, retention and watchers (got ${describeValue(issue.input)})`
        : undefined,
  },
);
export type BrokerwatchConfig = z.output<typeof BrokerwatchConfigSchema>;

/** The keys a mapping at `path` accepts, for a "did you mean" on an unknown key. */
export function allowedKeysAt(path: readonly PropertyKey[]): readonly string[] {
  if (path.length === 0) return Object.keys(BrokerwatchConfigSchema.shape);
  if (path.length === 1 && path[0] === "retention") return Object.keys(retentionFields.shape);
  if (path.length === 2 && typeof path[1] === "number") {
    if (path[0] === "brokers") return Object.keys(BrokerSchema.shape);
    if (path[0] === "rules") return Object.keys(ruleFields.shape);
    if (path[0] === "webhooks") return Object.keys(webhookFields.shape);
    if (path[0] === "receivers") return ["type", ...new Set(receiverVariants.options.flatMap((o) => Object.keys(o.shape)))];
  }
  return [];
}

export interface DuplicateName {
  path: (string | number)[];
  message: string;
}

/**
 * Names are upsert keys (docs/contract.md §2), so a second entry with the same name
 * would silently overwrite the first. zod checks one entry at a time and skips
 * cross-entry checks once any entry has a problem, so this reads the raw document
 * and finds duplicates even when other entries are broken too.
 */
export function findDuplicateNames(document: unknown): DuplicateName[] {
  const duplicates: DuplicateName[] = [];
  if (typeof document !== "object" || document === null) return duplicates;
  const sections = document as Record<string, unknown>;
  const lists = [
    { key: "brokers", what: "broker", nameKeys: ["name"] },
    { key: "webhooks", what: "webhook", nameKeys: ["name"] },
    // one name space with webhooks: both are receivers, named in the delivery log
    { key: "receivers", what: "receiver", nameKeys: ["name"], namespace: "webhooks" },
    { key: "rules", what: "rule", nameKeys: ["alert", "name"] },
  ] as { key: string; what: string; nameKeys: string[]; namespace?: string }[];
  const namespaces = new Map<string, Map<string, string>>();
  for (const { key, what, nameKeys, namespace } of lists) {
    const entries = sections[key];
    if (!Array.isArray(entries)) continue;
    const space = namespace ?? key;
    if (!namespaces.has(space)) namespaces.set(space, new Map());
    const firstByName = namespaces.get(space)!;
    entries.forEach((entry, index) => {
      if (typeof entry !== "object" || entry === null) return;
      const fields = entry as Record<string, unknown>;
      const nameKey = nameKeys.find((k) => typeof fields[k] === "string");
      if (nameKey === undefined) return;
      const name = fields[nameKey] as string;
      const first = firstByName.get(name);
      if (first === undefined) {
        firstByName.set(name, `${key}[${index}]`);
      } else {
        duplicates.push({
          path: [key, index, nameKey],
          message: `duplicate ${what} name ${describeValue(name)}: ${first} already uses it`,
        });
      }
    });
  }
  return duplicates;
}
