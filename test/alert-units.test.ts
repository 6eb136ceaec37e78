import { describe, expect, it } from "vitest";
import { formatValueWithUnit, labelHref, valueUnit } from "@/components/alerts/format";
import { BUILTIN_RULES } from "@/lib/alerts/builtin";

/** Alert values with their units, and labels that lead somewhere. */
describe("alert value units", () => {
  it.each([
    ["sum without (node) (mqtt_connections_current) / mqtt_connections_max > 0.85", 0.912, "91.2%"],
    ["mqtt_queued_messages > 100000", 123456, "123,456 messages"],
    ["mqtt_memory_bytes > 4294967296", 4.5 * 1024 ** 3, "4.5 GiB"],
    ["mqtt_broker_up == 0", 0, "down (0)"],
    ["mqtt_messages_received_per_second > 1000", 2000.5, "2,000.5/s"],
    ["mqtt_cluster_nodes_alive < mqtt_cluster_nodes_expected", 2, "2 nodes"],
    ["vector(1)", 3, "3"],
  ])("%s → %s", (expr, value, text) => {
    expect(formatValueWithUnit(value, valueUnit(expr))).toBe(text);
  });

  it("every built-in rule's value has a unit", () => {
    for (const rule of BUILTIN_RULES) expect(valueUnit(rule.expr), rule.expr).not.toBeNull();
  });

  it("links broker and client labels to their pages, encoded", () => {
    expect(labelHref("broker", "plant a")).toBe("/brokers/plant%20a");
    expect(labelHref("client_id", "pump/7")).toBe("/clients/pump%2F7");
    expect(labelHref("severity", "critical")).toBeNull();
  });
});
