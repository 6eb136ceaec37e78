import { describe, expect, it } from "vitest";
import { BUILTIN_RULES } from "../lib/alerts/builtin";
import { parseExpr } from "../lib/alerts/promql";
import { COLLECTOR_METRICS, DIALECT_METRICS, createDialect } from "../lib/collector";
import type { DialectName } from "../lib/collector/types";
import { readMosquittoSubLines, readSysLines, type SysLine } from "./helpers/fixtures";

const utf8 = new TextEncoder();
const RECEIVED = new Date("2026-01-01T00:00:00Z");

type Message = SysLine;

/** What the collector passes on a live connection: nothing of ours in flight. */
const NOTHING_IN_FLIGHT = () => ({ unacknowledged: [], acknowledgedRecently: [] });

/** The metric names a fresh dialect emits for a captured stream, replayed one second apart as a live connection reads it. */
function emittedMetrics(dialect: DialectName, messages: Message[]): Set<string> {
  const parser = createDialect(dialect);
  const names = new Set<string>();
  messages.forEach((message, i) => {
    const at = new Date(RECEIVED.getTime() + i * 1000);
    const out = parser.parse(message.topic, utf8.encode(message.payload), at, NOTHING_IN_FLIGHT);
    for (const sample of out.samples) names.add(sample.metric);
  });
  return names;
}

describe("metrics the dialects declare", () => {
  it("every metric a built-in rule reads is written by a dialect or by the collector, so no built-in rule is dead", () => {
    const produced = new Set<string>([...Object.values(DIALECT_METRICS).flat(), ...COLLECTOR_METRICS]);
    const unread: string[] = [];
    for (const rule of BUILTIN_RULES) {
      for (const selector of parseExpr(rule.expr).selectors) {
        if (!produced.has(selector.metric)) unread.push(`${rule.name} reads ${selector.metric}`);
      }
    }
    expect(unread).toEqual([]);
  });

  it("the Mosquitto 2.0.11 capture emits exactly the metrics the Mosquitto dialect declares", () => {
    const emitted = emittedMetrics("mosquitto", readMosquittoSubLines("mosquitto-2.0.11/sys-and-log-anonymous.txt"));
    expect([...emitted].sort()).toEqual([...DIALECT_METRICS.mosquitto].sort());
  });

  it("the EMQX 5 capture emits only metrics the EMQX dialect declares", () => {
    const emitted = emittedMetrics("emqx", readSysLines("emqx-5/sys-topics.jsonl"));
    expect(emitted.size).toBeGreaterThan(0);
    for (const name of emitted) expect(DIALECT_METRICS.emqx).toContain(name);
  });

  it("the bundled dialect declares EMQX's metrics plus its queue and heap gauges", () => {
    expect([...DIALECT_METRICS.bundled].sort()).toEqual(
      [...new Set([...DIALECT_METRICS.emqx, "mqtt_queued_messages", "mqtt_memory_bytes"])].sort(),
    );
  });
});
