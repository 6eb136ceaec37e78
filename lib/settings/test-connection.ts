/**
 * "Test connection": one short MQTT session with the settings being edited, before they are saved.
 * It connects with its own random client id and a clean session (so it never disturbs the
 * collector's persistent session), subscribes to `$SYS/#` under the prefix, and feeds what
 * arrives to the auto dialect, which says which broker it is and its version.
 */
import { randomBytes } from "node:crypto";
import type { IClientOptions, MqttClient } from "mqtt";
import { connectMqtt } from "@/lib/egress-mqtt";
import { createDialect } from "@/lib/collector/index";
import type { Dialect, DialectName } from "@/lib/collector/types";
import type { ConnectionErrorKind, ConnectionTestResult } from "./views";

export interface ConnectionTestInput {
  url: string;
  username?: string | null;
  password?: string | null;
  /** `plant-a/` when the `$SYS` tree arrives through a bridge */
  sysTopicPrefix?: string | null;
}

export interface ConnectionTestTiming {
  /** CONNECT until CONNACK (default 5 s) */
  connectTimeoutMs?: number;
  /** how long to listen on `$SYS/#` at most (default 3 s); it ends sooner once version and dialect are known */
  listenMs?: number;
}

/** Listen at least this long even when the first message told everything: the count of `$SYS` messages means more. */
const MIN_LISTEN_MS = 1000;

/** MQTT 3.1.1 CONNACK return codes (spec 3.2.2.3) in an operator's words. */
const CONNACK: Record<number, { kind: ConnectionErrorKind; message: string }> = {
  1: { kind: "protocol", message: "the broker does not accept MQTT 3.1.1 (CONNACK 1: unacceptable protocol version)" },
  2: { kind: "protocol", message: "the broker rejected the client id (CONNACK 2: identifier rejected)" },
  3: { kind: "refused", message: "the broker is up but not accepting connections (CONNACK 3: server unavailable)" },
  4: { kind: "bad_credentials", message: "bad user name or password (CONNACK 4)" },
  // Mosquitto answers a wrong password with 5, not 4.
  5: {
    kind: "bad_credentials",
    message: "not authorized (CONNACK 5): the broker refused these credentials, or this user may not connect",
  },
};

function describeError(err: Error & { code?: string | number }, url: URL, connectTimeoutMs: number) {
  const where = `${url.hostname}:${url.port || "default port"}`;
  if (typeof err.code === "number" && CONNACK[err.code]) return CONNACK[err.code];
  if (/^Connection refused: /.test(err.message)) {
    return { kind: "bad_credentials" as const, message: err.message.replace(/^Connection refused: /, "refused: ") };
  }
  switch (err.code) {
    case "ECONNREFUSED":
      return { kind: "refused" as const, message: `connection refused by ${where}: nothing listens there` };
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return { kind: "dns" as const, message: `cannot resolve the host name "${url.hostname}"` };
    case "ETIMEDOUT":
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return { kind: "timeout" as const, message: `cannot reach ${where} (${err.code})` };
    case "ECONNRESET":
    case "EPIPE":
      return {
        kind: "closed" as const,
        message: `${where} closed the connection (${err.code}): is this the right port and scheme (mqtt:// vs mqtts:// or ws://)?`,
      };
  }
  if (err.message === "connack timeout") {
    return {
      kind: "timeout" as const,
      message: `no answer to CONNECT within ${connectTimeoutMs / 1000} s: is ${where} an MQTT listener (and the scheme right)?`,
    };
  }
  if (typeof err.code === "string" && /CERT|TLS|SSL|SELF_SIGNED|UNABLE_TO/.test(err.code)) {
    return { kind: "tls" as const, message: `TLS: ${err.message}` };
  }
  return { kind: "other" as const, message: err.message };
}

export function testBrokerConnection(
  input: ConnectionTestInput,
  timing: ConnectionTestTiming = {},
): Promise<ConnectionTestResult> {
  const connectTimeoutMs = timing.connectTimeoutMs ?? 5000;
  const listenMs = timing.listenMs ?? 3000;
  const prefix = input.sysTopicPrefix ?? "";
  const topic = `${prefix}$SYS/#`;
  const url = new URL(input.url);
  // The same detection the collector runs for `dialect: auto`.
  const dialect = createDialect("auto") as Dialect & { readonly detected?: DialectName | null };

  const result: ConnectionTestResult = {
    connected: false,
    error: null,
    connectMs: null,
    version: null,
    detectedDialect: null,
    sysReadable: false,
    sysMessages: 0,
    subscribeRefused: false,
    topic,
    listenedMs: 0,
  };

  return new Promise((resolve) => {
    const started = performance.now();
    let connectedAt = 0;
    let settled = false;
    let client: MqttClient;
    const timers: NodeJS.Timeout[] = [];
    const enoughSeen = () => result.version !== null && Boolean(dialect.detected);

    const finish = (error?: ConnectionTestResult["error"]) => {
      if (settled) return;
      settled = true;
      timers.forEach(clearTimeout);
      if (error && !result.error) result.error = error;
      if (result.connected) result.listenedMs = Math.round(performance.now() - connectedAt);
      result.detectedDialect = dialect.detected ?? null;
      if (client) {
        client.removeAllListeners();
        client.on("error", () => {});
        client.end(true);
      }
      resolve(result);
    };

    const options: IClientOptions = {
      clientId: `brokerwatch-test-${randomBytes(6).toString("hex")}`,
      clean: true,
      protocolVersion: 4,
      username: input.username ?? undefined,
      password: input.password ?? undefined,
      reconnectPeriod: 0,
      connectTimeout: connectTimeoutMs,
      keepalive: 30,
      resubscribe: false,
    };
    try {
      client = connectMqtt(input.url, options);
    } catch (err) {
      finish(describeError(err as Error, url, connectTimeoutMs));
      return;
    }
    // mqtt.js' own connectTimeout covers CONNECT→CONNACK; this one also covers a TCP connect that hangs.
    timers.push(
      setTimeout(
        () =>
          finish({
            kind: "timeout",
            message: `no answer from ${url.hostname}:${url.port || "default port"} within ${connectTimeoutMs / 1000} s`,
          }),
        connectTimeoutMs + 250,
      ),
    );

    client.on("connect", () => {
      result.connected = true;
      connectedAt = performance.now();
      result.connectMs = Math.round(connectedAt - started);
      timers.forEach(clearTimeout);
      timers.push(setTimeout(() => finish(), listenMs));
      timers.push(setTimeout(() => enoughSeen() && finish(), Math.min(MIN_LISTEN_MS, listenMs)));
      client.subscribe(topic, { qos: 0 }, (err, granted) => {
        if (err || granted?.some((g) => g.qos === 128)) result.subscribeRefused = true;
      });
    });

    client.on("message", (fullTopic, payload) => {
      if (!fullTopic.startsWith(prefix)) return;
      const sysTopic = fullTopic.slice(prefix.length);
      if (!sysTopic.startsWith("$SYS/")) return;
      result.sysMessages += 1;
      result.sysReadable = true;
      const out = dialect.parse(sysTopic, payload, new Date());
      if (out.version) result.version = out.version;
      // Enough seen: no need to keep the person waiting the whole listening window.
      if (enoughSeen() && performance.now() - connectedAt >= MIN_LISTEN_MS) finish();
    });

    client.on("error", (err) => {
      if (!result.connected) finish(describeError(err, url, connectTimeoutMs));
    });

    client.on("close", () => {
      if (!result.connected) {
        finish({ kind: "closed", message: "the connection closed before the broker accepted it" });
      } else {
        finish({
          kind: "closed",
          message: `the broker closed the connection after ${Math.round(performance.now() - connectedAt)} ms`,
        });
      }
    });
  });
}
