import type { Db } from "@/db/client";
import { getIncident, listIncidents } from "@/db/incidents";
import type { BrokerIncidentRow } from "@/db/schema";
import type { IncidentDetail, IncidentFinding } from "@/lib/incidents/findings";
import { loadIncident } from "@/lib/incidents/load";
import { getRuntime } from "@/lib/runtime";

/**
 * Broker incidents as the API and the pages show them (docs/contract.md §7). A closed incident is
 * read as stored at close; an open one is analysed on read from what the store holds so far.
 */
export interface IncidentSummary {
  id: number;
  broker: string;
  kind: string;
  /** ISO 8601: when the broker was seen down */
  startedAt: string;
  /** ISO 8601: when its clients had settled; null while open */
  endedAt: string | null;
  lastGoodAt: string;
  upAt: string | null;
  downSeconds: number | null;
  detectedBy: string;
  clientsBefore: number | null;
  clientsDropped: number | null;
  clientsBack1m: number | null;
  clientsBack5m: number | null;
  /** dropped clients neither seen back nor affirmed absent (they may have returned while brokerwatch was blind) */
  clientsUnknownCount: number | null;
  /** seconds the broker was back before brokerwatch watched it again; null on incidents older than this field */
  blindSeconds: number | null;
  sessionsBefore: number | null;
  sessionsAfter: number | null;
  queuedBefore: number | null;
  queuedAfter: number | null;
  findings: {
    code: string;
    severity: string;
    title: string;
    detail: string;
    evidence: IncidentFinding["evidence"];
    fix: string;
  }[];
}

export interface IncidentView extends IncidentSummary {
  /** dropped clients affirmed not back (seen absent, or no room for them in the broker's count), each with its trace page */
  clientsNeverBack: { clientId: string; traceURL: string }[];
  /** dropped clients that may have come back unseen during the blind window */
  clientsUnknown: { clientId: string; traceURL: string }[];
  /** the blind window (ISO 8601), when there was one */
  blindWindow: { from: string; to: string; seconds: number } | null;
  logLines: IncidentDetail["logLines"];
  series: IncidentDetail["series"];
}

const iso = (d: Date | null) => d?.toISOString() ?? null;

export function traceURL(clientId: string): string {
  return `/clients/${encodeURIComponent(clientId)}`;
}

/** An open incident's numbers, computed now; a closed one's, as stored. */
async function current(
  db: Db,
  row: BrokerIncidentRow,
): Promise<{ row: BrokerIncidentRow; detail: IncidentDetail | null }> {
  if (row.endedAt) return { row, detail: row.detail ?? null };
  const own = getRuntime().collectors?.get(row.broker)?.broker.clientId ?? null;
  const { input, analysis, detail } = await loadIncident(db, row, new Date(), own);
  const { cost } = analysis;
  return {
    row: {
      ...row,
      kind: input.timeline.kind,
      downSeconds: cost.downSeconds,
      clientsBefore: cost.clientsBefore,
      clientsDropped: cost.clientsDropped,
      clientsBack1m: cost.clientsBack1m,
      clientsBack5m: cost.clientsBack5m,
      clientsUnknown: cost.clientsUnknown.length,
      blindSeconds: cost.blindSeconds,
      sessionsBefore: cost.sessionsBefore,
      sessionsAfter: cost.sessionsAfter,
      queuedBefore: cost.queuedBefore,
      queuedAfter: cost.queuedAfter,
      findings: analysis.findings,
    },
    detail,
  };
}

function summary(row: BrokerIncidentRow): IncidentSummary {
  return {
    id: row.id,
    broker: row.broker,
    kind: row.kind,
    startedAt: row.startedAt.toISOString(),
    endedAt: iso(row.endedAt),
    lastGoodAt: row.lastGoodAt.toISOString(),
    upAt: iso(row.upAt),
    downSeconds: row.downSeconds,
    detectedBy: row.detectedBy,
    clientsBefore: row.clientsBefore,
    clientsDropped: row.clientsDropped,
    clientsBack1m: row.clientsBack1m,
    clientsBack5m: row.clientsBack5m,
    clientsUnknownCount: row.clientsUnknown,
    blindSeconds: row.blindSeconds,
    sessionsBefore: row.sessionsBefore,
    sessionsAfter: row.sessionsAfter,
    queuedBefore: row.queuedBefore,
    queuedAfter: row.queuedAfter,
    findings: row.findings.map((f) => ({
      code: f.code,
      severity: f.severity,
      title: f.title,
      detail: f.detail,
      evidence: f.evidence,
      fix: f.fix,
    })),
  };
}

/** Incidents overlapping [from, to], newest first; all brokers when `broker` is undefined. */
export async function incidentSummaries(
  db: Db,
  q: { broker?: string; from: Date; to: Date; limit?: number },
): Promise<IncidentSummary[]> {
  const rows = await listIncidents(db, { ...q, limit: q.limit ?? 500 });
  const out: IncidentSummary[] = [];
  for (const row of rows) out.push(summary((await current(db, row)).row));
  return out;
}

export async function incidentView(db: Db, id: number): Promise<IncidentView | null> {
  const stored = await getIncident(db, id);
  if (!stored) return null;
  const { row, detail } = await current(db, stored);
  return {
    ...summary(row),
    clientsNeverBack: (detail?.clientsNeverBack ?? []).map((clientId) => ({ clientId, traceURL: traceURL(clientId) })),
    clientsUnknown: (detail?.clientsUnknown ?? []).map((clientId) => ({ clientId, traceURL: traceURL(clientId) })),
    blindWindow: detail?.blindWindow ?? null,
    logLines: detail?.logLines ?? [],
    series: detail?.series ?? {},
  };
}
