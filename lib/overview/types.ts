/**
 * The overview as one JSON document: what the server renders first and what
 * /api/stream/overview sends every second. Times are ISO strings; a value the broker does not
 * report is null ("—"), never 0.
 */
export interface OverviewSnapshot {
  generatedAt: string;
  clusters: OverviewCluster[];
  /** firing alerts, most severe and newest first (at most a handful: the /alerts page has them all) */
  firing: FiringAlert[];
  firingTotal: number;
  /**
   * Present until the first connection event is stored: what a newcomer needs to see something
   * (connect a device to the bundled broker, add a broker, run the simulator).
   */
  gettingStarted: { bundledBrokerUrl: string | null } | null;
  totals: {
    brokers: number;
    up: number;
    down: number;
    unknown: number;
    connections: number | null;
    messagesInPerSecond: number | null;
    messagesOutPerSecond: number | null;
  };
}

export interface OverviewCluster {
  /** null: brokers that belong to no cluster */
  name: string | null;
  /** nodes with a fresh heartbeat / nodes expected (docs/contract.md §3 mqtt_cluster_nodes_*) */
  nodes: { alive: number; expected: number } | null;
  /** firing alerts about the cluster itself or any of its brokers */
  firingAlerts: number;
  brokers: OverviewBroker[];
}

import type { BrokerStatus } from "@/db/vocabulary";
export type { BrokerStatus };

export interface OverviewBroker {
  name: string;
  status: BrokerStatus;
  /** when the status last changed */
  statusSince: string | null;
  /** last time anything arrived from the broker; null: the collector has never heard from it */
  lastSeenAt: string | null;
  /** why the collector cannot see it (its open gap), while down */
  downReason: string | null;
  dialect: string;
  version: string | null;
  connections: number | null;
  maxConnections: number | null;
  messagesInPerSecond: number | null;
  messagesOutPerSecond: number | null;
  queuedMessages: number | null;
  sessions: number | null;
  subscriptions: number | null;
  uptimeSeconds: number | null;
  firingAlerts: number;
  /** a broker that reports several nodes itself (EMQX) */
  nodes: { alive: number; expected: number } | null;
}

export interface FiringAlert {
  fingerprint: string;
  alertname: string;
  severity: string | null;
  summary: string | null;
  broker: string | null;
  cluster: string | null;
  firedAt: string | null;
}
