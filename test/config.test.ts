import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BUILTIN_RULE_NAMES,
  ConfigError,
  loadConfigFile,
  parseConfig,
  parseDuration,
  resolveConfigPath,
  type BrokerwatchConfig,
} from "../lib/config";

/** A valid Standard Webhooks secret: whsec_ + base64 of 32 bytes. */
const WEBHOOK_SECRET = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;

const DEFAULT_RETENTION = { rawSamplesSeconds: 7 * 86400, rollupsSeconds: 400 * 86400, eventsSeconds: 90 * 86400 };

function parse(yaml: string, env: Record<string, string | undefined> = {}): BrokerwatchConfig {
  return parseConfig(yaml, { fileName: "brokerwatch.yaml", env });
}

/** The ConfigError a file produces; fails the test when the file is accepted. */
function configErrorOf(yaml: string, env: Record<string, string | undefined> = {}): ConfigError {
  try {
    parse(yaml, env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected the config to be rejected");
}

/** Smallest valid broker, to build files that are wrong in exactly one place. */
const BROKER = "  - name: plant-a\n    url: mqtt://10.0.0.5:1883\n";

describe("the docs/contract.md §2 example", () => {
  // Verbatim from docs/contract.md §2; only `\`` and `\${` are escaped for the template literal.
  const CONTRACT_EXAMPLE = `brokers:
  - name: plant-a                 # unique; used as the \`broker\` label everywhere
    url: mqtt://10.0.0.5:1883     # mqtt:// mqtts:// ws:// wss://
    dialect: mosquitto            # mosquitto | emqx | bundled | auto
    username: monitor
    password: \${PLANT_A_PASSWORD}
    cluster: plant                # optional; brokers sharing a cluster are its nodes
    maxConnections: 50000         # capacity for the saturation rule
  - name: fleet
    url: mqtt://emqx.internal:1883
    dialect: emqx                 # one connection sees every node of an EMQX cluster ($SYS/brokers)
    username: dashboard           # EMQX's default ACL lets only \`dashboard\` read $SYS/#
    password: \${EMQX_PASSWORD}
    expectedNodes: 3              # cluster size the node-down rule expects
rules:                            # Prometheus alerting-rule shape; the seed form below is accepted too
  - alert: MQTT_Connection_Saturation
    expr: mqtt_connections_current / mqtt_connections_max > 0.85
    for: 5m
    keep_firing_for: 1m
    labels: { severity: warning }
    annotations: { summary: "{{ $labels.broker }} at {{ $value | humanizePercentage }} of capacity" }
  - name: MQTT_Message_Queue_Backlog   # seed form: name/expr/for/severity
    expr: mqtt_queued_messages > 100000
    for: 2m
    severity: critical
webhooks:
  - name: ops-oncall
    url: https://hooks.example.com/brokerwatch
    secret: \${WEBHOOK_SECRET}     # whsec_… ; signs every delivery (section 5)
    sendResolved: true
`;

  it("parses with the passwords and secret taken from the environment", () => {
    const config = parse(CONTRACT_EXAMPLE, {
      PLANT_A_PASSWORD: "plant-a-pw",
      EMQX_PASSWORD: "emqx-pw",
      WEBHOOK_SECRET,
    });
    expect(config).toEqual({
      brokers: [
        {
          name: "plant-a",
          url: "mqtt://10.0.0.5:1883",
          dialect: "mosquitto",
          username: "monitor",
          password: "plant-a-pw",
          cluster: "plant",
          maxConnections: 50000,
          enabled: true,
        },
        {
          name: "fleet",
          url: "mqtt://emqx.internal:1883",
          dialect: "emqx",
          username: "dashboard",
          password: "emqx-pw",
          expectedNodes: 3,
          enabled: true,
        },
      ],
      rules: [
        {
          name: "MQTT_Connection_Saturation",
          expr: "mqtt_connections_current / mqtt_connections_max > 0.85",
          forSeconds: 300,
          keepFiringForSeconds: 60,
          labels: { severity: "warning" },
          annotations: { summary: "{{ $labels.broker }} at {{ $value | humanizePercentage }} of capacity" },
          enabled: true,
        },
        {
          name: "MQTT_Message_Queue_Backlog",
          expr: "mqtt_queued_messages > 100000",
          forSeconds: 120,
          keepFiringForSeconds: 0,
          labels: { severity: "critical" },
          annotations: {},
          enabled: true,
        },
      ],
      ruleFiles: [],
      webhooks: [
        {
          name: "ops-oncall",
          url: "https://hooks.example.com/brokerwatch",
          secret: WEBHOOK_SECRET,
          sendResolved: true,
          enabled: true,
          headers: {},
        },
      ],
      receivers: [],
      retention: DEFAULT_RETENTION,
    });
  });

  it("names both brokers' unset password variables when started without the environment", () => {
    const error = configErrorOf(CONTRACT_EXAMPLE, { WEBHOOK_SECRET });
    expect(error.issues).toEqual([
      { path: "brokers[0].password", line: 6, column: 15, message: "environment variable PLANT_A_PASSWORD is not set" },
      { path: "brokers[1].password", line: 13, column: 15, message: "environment variable EMQX_PASSWORD is not set" },
    ]);
    expect(error.message.split("\n")[0]).toBe(
      "brokerwatch.yaml:6:15: brokers[0].password: environment variable PLANT_A_PASSWORD is not set",
    );
  });

  it("uses built-in rule names for its rules, so they replace the defaults", () => {
    const config = parse(CONTRACT_EXAMPLE, { PLANT_A_PASSWORD: "x", EMQX_PASSWORD: "y", WEBHOOK_SECRET });
    for (const rule of config.rules) expect(BUILTIN_RULE_NAMES).toContain(rule.name);
  });
});

describe("${VAR} interpolation", () => {
  it("keeps a password containing ': #' whole instead of ending the value at the comment", () => {
    const config = parse(`brokers:\n${BROKER}    password: \${PW}\n    username: monitor\n`, { PW: "a: b # c" });
    expect(config.brokers[0]).toMatchObject({ password: "a: b # c", username: "monitor" });
  });

  it("does not let a variable holding YAML add keys or list items", () => {
    const config = parse(`brokers:\n${BROKER}    username: \${USER}\n`, {
      USER: "x\n    maxConnections: 1\n  - name: evil",
    });
    expect(config.brokers).toHaveLength(1);
    expect(config.brokers[0].username).toBe("x\n    maxConnections: 1\n  - name: evil");
    expect(config.brokers[0].maxConnections).toBeUndefined();
  });

  it("writes a literal ${VAR} for $${VAR}, and leaves pa$$word and {{ $labels }} alone", () => {
    const config = parse(
      `brokers:\n${BROKER}    password: "pa$$word-$\${NOT_A_VAR}"\n` +
        `rules:\n  - alert: A\n    expr: up == 0\n    annotations: { summary: "{{ $labels.broker }} costs $$5 \${CURRENCY}" }\n`,
      { NOT_A_VAR: "substituted", CURRENCY: "EUR" },
    );
    expect(config.brokers[0].password).toBe("pa$$word-${NOT_A_VAR}");
    expect(config.rules[0].annotations.summary).toBe("{{ $labels.broker }} costs $$5 EUR");
  });

  it("substitutes several variables in one value and inside a URL", () => {
    const config = parse("brokers:\n  - name: plant-a\n    url: mqtts://${HOST}:${PORT}\n", {
      HOST: "broker.plant-a.example",
      PORT: "8883",
    });
    expect(config.brokers[0].url).toBe("mqtts://broker.plant-a.example:8883");
  });

  it("accepts counts and switches that come from variables, which are always text", () => {
    const config = parse(`brokers:\n${BROKER}    maxConnections: \${MAX}\n    enabled: \${ON}\n`, {
      MAX: "50000",
      ON: "false",
    });
    expect(config.brokers[0]).toMatchObject({ maxConnections: 50000, enabled: false });
  });

  it("uses a variable set to the empty string rather than calling it unset", () => {
    expect(parse(`brokers:\n${BROKER}    password: \${EMPTY}\n`, { EMPTY: "" }).brokers[0].password).toBe("");
  });

  it("rejects ${ without a closing brace and ${VAR:-default} instead of passing them through", () => {
    const error = configErrorOf(`brokers:\n${BROKER}    username: \${USER\n    password: \${PW:-x}\n`, { USER: "u" });
    expect(error.issues.map((issue) => issue.path)).toEqual(["brokers[0].username", "brokers[0].password"]);
    expect(error.issues[0].message).toContain("without a closing }");
    expect(error.issues[1].message).toContain("not supported");
  });

  it("reports only the unset variable, not a second complaint about the ${...} text left in a URL", () => {
    const error = configErrorOf("brokers:\n  - name: plant-a\n    url: ${BROKER_URL}\n");
    expect(error.message).toBe("brokerwatch.yaml:3:10: brokers[0].url: environment variable BROKER_URL is not set");
  });
});

describe("error messages an operator can act on", () => {
  it("points at brokers[1].url with file, line and column when the scheme is http", () => {
    const error = configErrorOf(`brokers:\n${BROKER}  - name: fleet\n    url: http://x\n`);
    expect(error.message).toBe(
      'brokerwatch.yaml:5:10: brokers[1].url: must be an mqtt://, mqtts://, ws:// or wss:// URL (got "http://x")',
    );
    expect(error.issues).toEqual([
      {
        path: "brokers[1].url",
        line: 5,
        column: 10,
        message: 'must be an mqtt://, mqtts://, ws:// or wss:// URL (got "http://x")',
      },
    ]);
  });

  it("rejects a second broker with the same name at the second one, since it would overwrite the first", () => {
    const error = configErrorOf(`brokers:\n${BROKER}${BROKER}`);
    expect(error.message).toBe(
      'brokerwatch.yaml:4:11: brokers[1].name: duplicate broker name "plant-a": brokers[0] already uses it',
    );
  });

  it("rejects duplicate webhook names and duplicate rule names across the two rule forms", () => {
    const error = configErrorOf(
      "rules:\n  - alert: Hot\n    expr: a > 1\n  - name: Hot\n    expr: b > 1\n" +
        "webhooks:\n  - name: ops\n    url: https://a.example\n  - name: ops\n    url: https://b.example\n",
    );
    expect(error.issues.map((issue) => issue.path)).toEqual(["rules[1].name", "webhooks[1].name"]);
  });

  it("does not silently ignore maxConnection (missing s) and suggests the real key", () => {
    const error = configErrorOf(`brokers:\n${BROKER}    maxConnection: 50000\n`);
    expect(error.message).toBe(
      "brokerwatch.yaml:4:5: brokers[0].maxConnection: unknown key; did you mean maxConnections?",
    );
  });

  it("does not silently ignore a top-level broker: written for brokers:", () => {
    const error = configErrorOf("broker:\n  - name: plant-a\n    url: mqtt://x\n");
    expect(error.message).toBe("brokerwatch.yaml:1:1: broker: unknown key; did you mean brokers?");
  });

  it("rejects unknown keys in webhooks, rules and retention but accepts any label or annotation name", () => {
    const error = configErrorOf(
      "rules:\n  - alert: A\n    expr: up == 0\n    keepFiringFor: 1m\n    labels: { team: mqtt }\n    annotations: { runbook: x }\n" +
        "webhooks:\n  - name: ops\n    url: https://x.example\n    send_resolved: false\n" +
        "retention:\n  raw: 1d\n",
    );
    expect(error.issues.map((issue) => `${issue.path}: ${issue.message}`)).toEqual([
      "rules[0].keepFiringFor: unknown key; did you mean keep_firing_for?",
      "webhooks[0].send_resolved: unknown key; did you mean sendResolved?",
      "retention.raw: unknown key; expected one of rawSamples, rollups, events",
    ]);
  });

  it("reports every problem in one start instead of one per restart", () => {
    const error = configErrorOf(
      [
        "brokers:",
        "  - name: plant a", // 2: space in the name
        "    url: mqtt://10.0.0.5",
        "    dialect: mosquito", // 4: typo
        "    maxConnections: 0", // 5: not positive
        "  - url: mqtt://x", // 6: no name
        "rules:",
        "  - alert: A",
        "    expr: up == 0",
        "    for: 5 minutes", // 10: bad duration
        "webhooks:",
        "  - name: ops",
        "    url: https://x.example",
        "    secret: hunter2", // 14: not whsec_
      ].join("\n"),
    );
    expect(error.issues.map((issue) => `${issue.line}:${issue.column} ${issue.path}`)).toEqual([
      "2:11 brokers[0].name",
      "4:14 brokers[0].dialect",
      "5:21 brokers[0].maxConnections",
      "6:5 brokers[1].name",
      "10:10 rules[0].for",
      "14:13 webhooks[0].secret",
    ]);
    expect(error.message.split("\n")).toHaveLength(6);
    expect(error.issues[1].message).toBe(
      'must be one of mosquitto, emqx, bundled, hivemq, rabbitmq, nats, auto (got "mosquito")',
    );
    expect(error.issues[3].message).toBe("is required but missing");
  });

  it("reports a YAML syntax error with its line, not a stack trace", () => {
    const error = configErrorOf("brokers:\n  - name: plant-a\n   url: mqtt://x\n");
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]).toMatchObject({ path: "", line: 3 });
    expect(error.message).toMatch(/^brokerwatch\.yaml:3:\d+: YAML: /);
  });

  it("reports a key written twice in one broker, where the second would silently win", () => {
    const error = configErrorOf(`brokers:\n${BROKER}    url: mqtt://other\n`);
    expect(error.message).toBe("brokerwatch.yaml:4:5: YAML: this key appears twice in the same mapping");
  });

  it("never repeats a password in an error, even one YAML read as a number", () => {
    const error = configErrorOf(`brokers:\n${BROKER}    password: 8675309\n`);
    expect(error.message).not.toContain("8675309");
    expect(error.message).toContain("brokers[0].password: must be text");
  });

  it("rejects credentials inside the broker URL, which the UI and API show, without echoing them", () => {
    const error = configErrorOf("brokers:\n  - name: plant-a\n    url: mqtt://monitor:s3cret@10.0.0.5:1883\n");
    expect(error.message).toContain("brokers[0].url: must not contain a user name or password");
    expect(error.message).not.toContain("s3cret");
  });

  it("asks for quotes when YAML reads a label value as a number", () => {
    const error = configErrorOf("rules:\n  - alert: A\n    expr: up == 0\n    labels: { priority: 1 }\n");
    expect(error.message).toBe(
      "brokerwatch.yaml:4:25: rules[0].labels.priority: must be text; YAML read 1 as a number, so put it in quotes",
    );
  });

  it("says the file must be a mapping when it is a list", () => {
    expect(configErrorOf("- name: plant-a\n").message).toBe(
      "brokerwatch.yaml:1:1: the file must be a mapping with the keys brokers, rules, ruleFiles, webhooks, receivers, retention and watchers (got a list)",
    );
  });
});

describe("rules", () => {
  it("normalises the seed form and the Prometheus form to the same rule", () => {
    const seed = parse(
      "rules:\n  - name: MQTT_Broker_Down\n    expr: mqtt_broker_up == 0\n    for: 30s\n    severity: critical\n",
    );
    const prometheus = parse(
      "rules:\n  - alert: MQTT_Broker_Down\n    expr: mqtt_broker_up == 0\n    for: 30s\n    labels: { severity: critical }\n",
    );
    expect(seed.rules).toEqual(prometheus.rules);
    expect(seed.rules[0]).toEqual({
      name: "MQTT_Broker_Down",
      expr: "mqtt_broker_up == 0",
      forSeconds: 30,
      keepFiringForSeconds: 0,
      labels: { severity: "critical" },
      annotations: {},
      enabled: true,
    });
  });

  it("turns off a built-in rule with just its name and enabled: false", () => {
    expect(parse("rules:\n  - name: MQTT_Subscription_Memory\n    enabled: false\n").rules).toEqual([
      {
        name: "MQTT_Subscription_Memory",
        expr: null,
        forSeconds: 0,
        keepFiringForSeconds: 0,
        labels: {},
        annotations: {},
        enabled: false,
      },
    ]);
  });

  it("rejects a rule that mixes the forms, so severity cannot disagree with labels.severity", () => {
    const error = configErrorOf(
      "rules:\n  - alert: A\n    expr: up == 0\n    severity: critical\n  - name: B\n    expr: up == 0\n    labels: { severity: warning }\n  - alert: C\n    name: C\n    expr: up == 0\n",
    );
    expect(error.issues.map((issue) => issue.path)).toEqual(["rules[0].severity", "rules[1].labels", "rules[2].name"]);
  });

  it("requires expr on an enabled rule and a Prometheus-style name", () => {
    const error = configErrorOf("rules:\n  - alert: A\n  - alert: broker-down\n    expr: up == 0\n");
    expect(error.issues.map((issue) => issue.path)).toEqual(["rules[0].expr", "rules[1].alert"]);
    expect(error.issues[1].message).toContain('(got "broker-down")');
  });
});

describe("durations", () => {
  it.each([
    ["30s", 30],
    ["5m", 300],
    ["1h30m", 5400],
    ["2d", 172800],
    ["1w", 604800],
    ["1y", 365 * 86400],
    ["0s", 0],
    ["0", 0],
    ["500ms", 0.5],
    ["1m30s500ms", 90.5],
  ])("reads %s as %d seconds, as Prometheus does", (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it.each(["", "5", "5 m", "-5m", "1.5h", "30m1h", "5M", "1h1h", "soon"])(
    "rejects %j with an example of the syntax",
    (text) => {
      expect(() => parseDuration(text)).toThrow(/not a duration: .*write it like 30s, 5m/);
    },
  );

  it("names the path of a rule's bad keep_firing_for", () => {
    const error = configErrorOf("rules:\n  - alert: A\n    expr: up == 0\n    keep_firing_for: 1 minute\n");
    expect(error.message).toBe(
      'brokerwatch.yaml:4:22: rules[0].keep_firing_for: not a duration: "1 minute"; write it like 30s, 5m, 1h30m or 7d (units y, w, d, h, m, s, ms, largest first)',
    );
  });

  it("asks for a unit when for: is a bare number", () => {
    const error = configErrorOf("rules:\n  - alert: A\n    expr: up == 0\n    for: 300\n");
    expect(error.issues[0]).toMatchObject({ path: "rules[0].for", message: expect.stringContaining("with a unit") });
  });

  it("converts retention to seconds and refuses a zero retention that would delete everything", () => {
    expect(parse("retention:\n  rawSamples: 14d\n").retention).toEqual({
      ...DEFAULT_RETENTION,
      rawSamplesSeconds: 14 * 86400,
    });
    expect(configErrorOf("retention:\n  events: 0s\n").message).toBe(
      "brokerwatch.yaml:2:11: retention.events: must be longer than 0s",
    );
  });

  it("converts a webhook's repeatInterval and groupWait to seconds", () => {
    const config = parse(
      "webhooks:\n  - name: ops\n    url: https://x.example\n    repeatInterval: 4h\n    groupWait: 30s\n",
    );
    expect(config.webhooks[0]).toMatchObject({ repeatIntervalSeconds: 14400, groupWaitSeconds: 30 });
    expect(config.webhooks[0].groupBy).toBeUndefined();
  });
});

describe("webhook secrets", () => {
  const withSecret = (secret: string) =>
    `webhooks:\n  - name: ops\n    url: https://x.example\n    secret: "${secret}"\n`;

  it("accepts whsec_ + base64 of 24 bytes", () => {
    const secret = `whsec_${Buffer.alloc(24, 1).toString("base64")}`;
    expect(parse(withSecret(secret)).webhooks[0].secret).toBe(secret);
  });

  it("explains the whsec_ format and how to generate one when given a plain password, without echoing it", () => {
    const error = configErrorOf(withSecret("hunter2hunter2hunter2hunter2"));
    expect(error.message).toContain(
      "webhooks[0].secret: must be whsec_ followed by base64 of at least 24 random bytes",
    );
    expect(error.message).toContain("openssl rand -base64 32");
    expect(error.message).not.toContain("hunter2");
  });

  it("says how many bytes a too-short secret has", () => {
    const error = configErrorOf(withSecret(`whsec_${Buffer.alloc(16).toString("base64")}`));
    expect(error.issues[0].message).toContain("decodes to 16 bytes; Standard Webhooks needs at least 24");
  });

  it("rejects a secret whose base64 is broken", () => {
    expect(configErrorOf(withSecret("whsec_not base64!")).issues[0].message).toContain("not valid base64");
  });

  it("refuses a configured webhook-signature header that would break verification", () => {
    const error = configErrorOf(
      "webhooks:\n  - name: ops\n    url: https://x.example\n    headers: { Authorization: Bearer x, webhook-signature: v1 }\n",
    );
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0].path).toBe('webhooks[0].headers["webhook-signature"]');
  });
});

describe("sysTopicPrefix for $SYS bridged under a prefix", () => {
  it.each([
    ["plant-a", "plant-a/"],
    ["plant-a/", "plant-a/"],
    ["plant-a//", "plant-a/"],
    ["site/plant-a", "site/plant-a/"],
  ])("normalises %j to %j", (written, normalised) => {
    expect(parse(`brokers:\n${BROKER}    sysTopicPrefix: "${written}"\n`).brokers[0].sysTopicPrefix).toBe(normalised);
  });

  it("treats an empty prefix as none", () => {
    expect(parse(`brokers:\n${BROKER}    sysTopicPrefix: ""\n`).brokers[0].sysTopicPrefix).toBeUndefined();
  });

  it.each(["plant/+/", "plant/#", "plant-a/$SYS/"])("rejects %j", (prefix) => {
    const error = configErrorOf(`brokers:\n${BROKER}    sysTopicPrefix: "${prefix}"\n`);
    expect(error.issues[0].path).toBe("brokers[0].sysTopicPrefix");
  });
});

describe("an empty config", () => {
  it.each([
    ["an empty file", ""],
    ["a file with only comments", "# brokers come later\n\n# rules: []\n"],
    ["sections whose entries are all commented out", "brokers:\n#  - name: plant-a\nrules:\nwebhooks:\nretention:\n"],
  ])("accepts %s as no brokers, rules or webhooks and default retention", (_, yaml) => {
    expect(parse(yaml)).toEqual({
      brokers: [],
      rules: [],
      ruleFiles: [],
      webhooks: [],
      receivers: [],
      retention: DEFAULT_RETENTION,
    });
  });

  it("fills broker defaults: dialect auto, enabled", () => {
    expect(parse(`brokers:\n${BROKER}`).brokers[0]).toEqual({
      name: "plant-a",
      url: "mqtt://10.0.0.5:1883",
      dialect: "auto",
      enabled: true,
    });
  });
});

describe("finding and reading the file", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "brokerwatch-config-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("starts without a config when no brokerwatch.yaml exists and none was asked for", async () => {
    expect(resolveConfigPath({}, dir)).toBeNull();
    expect(await loadConfigFile(path.join(dir, "brokerwatch.yaml"), {})).toBeNull();
  });

  it("refuses to start when BROKERWATCH_CONFIG points at a missing file, naming the file", async () => {
    const missing = path.join(dir, "typo", "brokerwatch.yml");
    const env = { BROKERWATCH_CONFIG: missing };
    expect(resolveConfigPath(env, dir)).toBe(missing);
    const error = await loadConfigFile(missing, env).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toBe(`${missing}: file not found (BROKERWATCH_CONFIG points at it)`);
  });

  it("finds brokerwatch.yaml in the working directory and names it in errors", async () => {
    const file = path.join(dir, "brokerwatch.yaml");
    await writeFile(file, "brokers:\n  - name: plant-a\n    url: http://x\n");
    expect(resolveConfigPath({}, dir)).toBe(file);
    const error = await loadConfigFile(file, {}).catch((e: unknown) => e);
    expect((error as ConfigError).message).toMatch(
      new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:3:10: brokers\\[0\\]\\.url: `),
    );
  });

  it("loads the file with variables from the given environment", async () => {
    const file = path.join(dir, "with-env.yaml");
    await writeFile(file, "brokers:\n  - name: plant-a\n    url: mqtt://x\n    password: ${PW}\n");
    const config = await loadConfigFile(file, { BROKERWATCH_CONFIG: file, PW: "from-env" });
    expect(config?.brokers[0].password).toBe("from-env");
  });
});

describe("YAML aliases (issue 18: the loader's own walk follows them, so yaml's maxAliasCount does not apply)", () => {
  it("refuses a billion-laughs file at once with a clear error instead of expanding it", () => {
    const levels = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"];
    for (let i = 1; i <= 9; i++) {
      const name = String.fromCharCode(97 + i);
      const prev = String.fromCharCode(96 + i);
      levels.push(`${name}: &${name} [${Array(10).fill(`*${prev}`).join(", ")}]`);
    }
    const started = performance.now();
    const error = configErrorOf(levels.join("\n") + "\n");
    // not a timing target (benchmarks hold those): a run that expanded 10^9 values would never get here
    expect(performance.now() - started).toBeLessThan(30_000);
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0].message).toMatch(/expands to more than 200,000 values once its YAML aliases/);
  });

  it("refuses a file whose aliases repeat a long text into more than 16 MiB", () => {
    const long = "x".repeat(1024 * 1024);
    const error = configErrorOf(`a: &a "${long}"\nb: [${Array(20).fill("*a").join(", ")}]\n`);
    expect(error.issues[0].message).toMatch(/more than 16 MiB of text/);
    expect(error.issues[0].path).toMatch(/^b/);
  });

  it("still follows a few aliases", () => {
    const config = parse(
      [
        "brokers:",
        "  - { name: plant-a, url: &url mqtt://127.0.0.1:1883, dialect: mosquitto }",
        "  - { name: plant-b, url: *url, dialect: mosquitto }",
      ].join("\n") + "\n",
    );
    expect(config.brokers.map((b) => b.url)).toEqual(["mqtt://127.0.0.1:1883", "mqtt://127.0.0.1:1883"]);
  });
});
