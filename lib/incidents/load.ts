import type { Db } from "@/db/client";
import { clientsConnectedAt, incidentEvents, incidentLogLines, incidentSamples, restartsBetween } from "@/db/incidents";
import type { BrokerIncidentRow } from "@/db/schema";
import {
  analyseIncident,
  blindWindow,
  kindFromUptime,
  CRASH_LOOP_SPAN_MS,
  EVIDENCE_AFTER_MS,
  EVIDENCE_BEFORE_MS,
  INCIDENT_METRICS,
  type DetectedBy,
  type IncidentAnalysis,
  type IncidentDetail,
  type IncidentInput,
  type IncidentKind,
  type IncidentSeries,
} from "./findings";

/**
 * The I/O edge of an incident's analysis: read what the store holds around it, hand it to the
 * pure analysis (findings.ts). Used when the incident closes, and for an open incident on read.
 */

/** How far back a client's last connect may be and still count as connected when the broker went down. */
const CONNECTED_LOOKBACK_MS = 7 * 86400_000;

/**
 * brokerwatch's own collectors on the broker: this instance's client id, and on a shared database
 * the other instances' (the same id with another `-xxxxxx` instance suffix, lib/collector/manager.ts).
 */
export function isCollectorOf(ownClientId: string | null, clientId: string): boolean {
  if (!ownClientId) return false;
  if (clientId === ownClientId) return true;
  const suffixed = /^(.*)-[0-9a-f]{6}$/.exec(ownClientId);
  return suffixed !== null && new RegExp(`^${escape(suffixed[1])}-[0-9a-f]{6}$`).test(clientId);
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

export interface LoadedIncident {
  input: IncidentInput;
  analysis: IncidentAnalysis;
  detail: IncidentDetail;
}

export async function loadIncident(
  db: Db,
  row: BrokerIncidentRow,
  now: Date,
  /** brokerwatch's own collector client on this broker: not one of the broker's clients */
  ownClientId: string | null,
): Promise<LoadedIncident> {
  const from = new Date(row.startedAt.getTime() - EVIDENCE_BEFORE_MS);
  const to = new Date(Math.min(now.getTime(), (row.upAt ?? now).getTime() + EVIDENCE_AFTER_MS));
  const [samples, events, connected, logLines, restarts] = await Promise.all([
    incidentSamples(db, row.broker, INCIDENT_METRICS, from, to),
    incidentEvents(db, row.broker, from, to),
    clientsConnectedAt(db, row.broker, row.startedAt, new Date(row.startedAt.getTime() - CONNECTED_LOOKBACK_MS)),
    incidentLogLines(db, row.broker, new Date(row.startedAt.getTime() - EVIDENCE_BEFORE_MS), to),
    restartsBetween(db, row.broker, new Date(row.startedAt.getTime() - CRASH_LOOP_SPAN_MS), row.startedAt, row.id),
  ]);
  const series: IncidentSeries = {};
  for (const s of samples) {
    const metric = s.metric as keyof IncidentSeries;
    (series[metric] ??= []).push({ ts: s.ts, value: s.value });
  }
  const uptime = series.mqtt_broker_uptime_seconds ?? [];
  const uptimeBefore = uptime.filter((p) => p.ts.getTime() <= row.lastGoodAt.getTime()).at(-1) ?? null;
  const uptimeAfter = row.upAt ? (uptime.find((p) => p.ts.getTime() >= row.upAt!.getTime()) ?? null) : null;
  const kind: IncidentKind =
    row.kind === "restart" ? "restart" : (kindFromUptime(uptimeBefore, uptimeAfter) ?? (row.kind as IncidentKind));
  const input: IncidentInput = {
    timeline: {
      broker: row.broker,
      kind,
      detectedBy: row.detectedBy as DetectedBy,
      lastGoodAt: row.lastGoodAt,
      downAt: row.startedAt,
      upAt: row.upAt,
    },
    series,
    events,
    connectedAtDown: connected.filter((id) => !isCollectorOf(ownClientId, id)),
    logLines,
    earlierRestarts: restarts,
  };
  const analysis = analyseIncident(input, now);
  const detail: IncidentDetail = {
    clientsNeverBack: analysis.cost.clientsNeverBack,
    clientsUnknown: analysis.cost.clientsUnknown,
    blindWindow: (() => {
      const w = blindWindow(input);
      return w ? { from: w.from.toISOString(), to: w.to.toISOString(), seconds: analysis.cost.blindSeconds } : null;
    })(),
    logLines: logLines.map((l) => ({ ts: l.ts.toISOString(), topic: l.topic, text: l.text })),
    series: Object.fromEntries(
      Object.entries(series).map(([metric, points]) => [metric, points.map((p) => [p.ts.getTime(), p.value])]),
    ),
  };
  return { input, analysis, detail };
}
