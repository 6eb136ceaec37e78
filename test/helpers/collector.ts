import { BrokerCollector, DEFAULT_TIMING, type CollectedBroker } from "@/lib/collector/collector";
import type { IngestWriter } from "@/lib/collector/writer";

/** A BrokerCollector for poking at its state: its writer drops everything and it logs nothing. */
export function quietCollector(broker: CollectedBroker): BrokerCollector {
  const writer = { enqueue: () => {}, on: () => {} } as unknown as IngestWriter;
  return new BrokerCollector(broker, writer, DEFAULT_TIMING, () => {});
}
