import "server-only";
import { loadAlertStates } from "@/db/alerts";
import { openGaps } from "@/db/dashboards";
import { alertViews, type AlertView } from "@/lib/alerts/engine";
import { brokerSummaries } from "@/lib/api/brokers";
import { redactUrlsForViewer } from "@/lib/auth/redact";
import { assertVerified, isAdmin, type Verified } from "@/lib/auth/verified";
import { sharedLiveSource } from "@/lib/live";
import { getRuntime } from "@/lib/runtime";
import type { FiringAlert, OverviewBroker, OverviewCluster, OverviewSnapshot } from "./types";

/**
 * The overview's data: brokers as the collectors see them now (in memory: status, latest gauges),
 * the status history and open gaps from the database, and the alert engine's firing alerts. Never
 * waits on a broker. Lives beside the components that render it; the page and the stream route
 * both call it, so they cannot disagree. Only for a verified caller: the page passes requireUser()'s
 * user, the streams authorize()'s caller.
 */
export async function overviewSnapshot(viewer: Verified): Promise<OverviewSnapshot> {
  assertVerified(viewer);
  return forViewer(viewer, await buildOverviewSnapshot());
}

/** A down reason quotes the collector's error, which may hold a URL with credentials: cut for viewers. */
function forViewer(viewer: Verified, snapshot: OverviewSnapshot): OverviewSnapshot {
  if (isAdmin(viewer)) return snapshot;
  return {
    ...snapshot,
    clusters: snapshot.clusters.map((c) => ({
      ...c,
      brokers: c.brokers.map((b) => ({ ...b, downReason: redactUrlsForViewer(b.downReason) })),
    })),
  };
}

async function buildOverviewSnapshot(): Promise<OverviewSnapshot> {
  const runtime = getRuntime();
  const db = runtime.database.db;
  const [summaries, alerts, gaps] = await Promise.all([
    brokerSummaries(),
    runtime.alertEngine ? runtime.alertEngine.alerts() : loadAlertStates(db).then(alertViews),
    openGaps(db),
  ]);
  const liveness = runtime.collectors?.clusters() ?? new Map<string, { alive: number; expected: number }>();
  const firing = alerts.filter((a) => a.state === "firing");

  const clusters = new Map<string | null, OverviewCluster>();
  for (const b of summaries) {
    const m = b.metrics;
    const status = b.status;
    const broker: OverviewBroker = {
      name: b.name,
      status,
      statusSince: b.statusSince,
      lastSeenAt: b.lastSeenAt,
      downReason: status === "down" ? (gaps.get(b.name)?.reason ?? null) : null,
      dialect: b.detectedDialect ?? b.dialect,
      version: b.version,
      connections: m.mqtt_connections_current ?? null,
      maxConnections: m.mqtt_connections_max ?? b.maxConnections ?? null,
      messagesInPerSecond: m.mqtt_messages_received_per_second ?? null,
      messagesOutPerSecond: m.mqtt_messages_sent_per_second ?? null,
      queuedMessages: m.mqtt_queued_messages ?? null,
      sessions: m.mqtt_sessions ?? null,
      subscriptions: m.mqtt_subscriptions ?? null,
      uptimeSeconds: m.mqtt_broker_uptime_seconds ?? null,
      firingAlerts: firing.filter((a) => a.labels.broker === b.name).length,
      // a broker outside any cluster that reports several nodes (EMQX) is a cluster of its own
      nodes: b.cluster ? null : (liveness.get(b.name) ?? null),
    };
    let cluster = clusters.get(b.cluster);
    if (!cluster) {
      cluster = {
        name: b.cluster,
        nodes: b.cluster ? (liveness.get(b.cluster) ?? null) : null,
        firingAlerts: b.cluster ? firing.filter((a) => a.labels.cluster === b.cluster).length : 0,
        brokers: [],
      };
      clusters.set(b.cluster, cluster);
    }
    cluster.brokers.push(broker);
  }
  // Clusters by name, brokers of no cluster last.
  const ordered = [...clusters.values()].sort((a, b) =>
    a.name === null ? 1 : b.name === null ? -1 : a.name.localeCompare(b.name),
  );
  const brokers = ordered.flatMap((c) => c.brokers);
  // A down broker's gauges are its last known values: shown dimmed on its row, kept out of the totals.
  const live = brokers.filter((b) => b.status === "up");
  return {
    generatedAt: new Date().toISOString(),
    clusters: ordered,
    firing: firing.sort(bySeverityThenNewest).slice(0, 8).map(firingAlert),
    firingTotal: firing.length,
    totals: {
      brokers: brokers.length,
      up: brokers.filter((b) => b.status === "up").length,
      down: brokers.filter((b) => b.status === "down").length,
      unknown: brokers.filter((b) => b.status === "unknown").length,
      connections: sum(live.map((b) => b.connections)),
      messagesInPerSecond: sum(live.map((b) => b.messagesInPerSecond)),
      messagesOutPerSecond: sum(live.map((b) => b.messagesOutPerSecond)),
    },
  };
}

/** Every overview stream (and every broker page's status) shares one snapshot a second. */
const overviewSource = sharedLiveSource("overview", buildOverviewSnapshot, 1000);

/** The shared snapshot a second, for a verified caller; returns the unsubscribe. */
export function subscribeOverview(viewer: Verified, listener: (snapshot: OverviewSnapshot) => void): () => void {
  assertVerified(viewer);
  return overviewSource.subscribe((snapshot) => listener(forViewer(viewer, snapshot)));
}

function sum(values: (number | null)[]): number | null {
  const known = values.filter((v): v is number => v !== null);
  return known.length ? known.reduce((a, b) => a + b, 0) : null;
}

const SEVERITY_RANK: Record<string, number> = { critical: 0, warning: 1, info: 2 };

function bySeverityThenNewest(a: AlertView, b: AlertView): number {
  const rank = (x: AlertView) => SEVERITY_RANK[x.labels.severity ?? ""] ?? 3;
  return rank(a) - rank(b) || (b.firedAt?.getTime() ?? 0) - (a.firedAt?.getTime() ?? 0);
}

function firingAlert(a: AlertView): FiringAlert {
  return {
    fingerprint: a.fingerprint,
    alertname: a.alertname,
    severity: a.labels.severity ?? null,
    summary: a.annotations.summary ?? null,
    broker: a.labels.broker ?? null,
    cluster: a.labels.cluster ?? null,
    firedAt: a.firedAt?.toISOString() ?? null,
  };
}
