import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../lib/config";

const parse = (yaml: string) => parseConfig(yaml, { fileName: "brokerwatch.yaml", env: {} });

function problems(yaml: string): string[] {
  try {
    parse(yaml);
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map((i) => `${i.path}: ${i.message}`);
    throw error;
  }
  throw new Error("the file was accepted");
}

describe("brokers read by scraping (rabbitmq, hivemq)", () => {
  it("accepts a rabbitmq broker with its Prometheus endpoint and AMQP URL, and a hivemq broker with or without one", () => {
    const config = parse(
      [
        "brokers:",
        "  - name: rabbit",
        "    url: mqtt://rabbit:1883",
        "    dialect: rabbitmq",
        "    metricsUrl: http://rabbit:15692/metrics",
        "    amqpUrl: amqp://rabbit:5672/prod",
        "  - name: hive",
        "    url: mqtt://hive:1883",
        "    dialect: hivemq",
      ].join("\n"),
    );
    expect(config.brokers[0]).toMatchObject({ dialect: "rabbitmq", metricsUrl: "http://rabbit:15692/metrics", amqpUrl: "amqp://rabbit:5672/prod" });
    expect(config.brokers[1].metricsUrl).toBeUndefined();
  });

  it("says what is wrong: rabbitmq without metricsUrl, URLs on other dialects, credentials in amqpUrl", () => {
    expect(problems("brokers:\n  - name: r\n    url: mqtt://r:1883\n    dialect: rabbitmq\n")).toEqual([
      expect.stringMatching(/^brokers\[0\]\.metricsUrl: is required for dialect rabbitmq/),
    ]);
    expect(
      problems("brokers:\n  - name: m\n    url: mqtt://m:1883\n    dialect: mosquitto\n    metricsUrl: http://m/metrics\n    amqpUrl: amqp://m\n"),
    ).toEqual([
      expect.stringMatching(/metricsUrl: is read only for dialect rabbitmq or hivemq/),
      expect.stringMatching(/amqpUrl: is read only for dialect rabbitmq/),
    ]);
    expect(
      problems("brokers:\n  - name: r\n    url: mqtt://r:1883\n    dialect: rabbitmq\n    metricsUrl: http://r/metrics\n    amqpUrl: amqp://u:secret@r\n")[0],
    ).toMatch(/amqpUrl: must not contain a user name or password/);
  });
});
