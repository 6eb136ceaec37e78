/**
 * The loop that runs the alert rules: each round fetches the samples the rules' selectors need,
 * evaluates every rule at one timestamp, steps the state machine (state.ts), persists what
 * changed in one transaction, and hands the notifier every firing alert plus those that resolved
 * in this round. State lives in Postgres, so a restart neither re-fires a firing alert nor
 * restarts a `for` timer: the downtime counts toward `for`, unlike Prometheus (state.ts says
 * where we differ; docs/architecture.md).
 *
 * One rule's failure is that rule's `lastError`: whatever its evaluation throws (a fetch, the
 * evaluator, a template) is caught per rule, and every other rule of the round still evaluates.
 *
 * Detection latency is at most `for` + the interval (1 s by default): an alert fires at the first
 * evaluation at which it has been pending for `for`.
 */
import type { Database } from "@/db/client";
import type { NotifyAlert } from "@/lib/notify/format";
import { deleteAlertStates, loadAlertStates, saveRound, type RoundChanges } from "@/db/alerts";
import { insertRecordedSamples, type RecordedSample } from "@/db/metrics";
import { EvaluationData } from "./data";
import { evaluate, type EvalResult, type Labels } from "./promql";
import { DEFAULT_GROUP_INTERVAL_SECONDS } from "./rule-file";
import { ruleViews, type RuleStatus, type RuleView } from "./rule-view";
import type { LoadedRules } from "./rules";
import {
  retire,
  step,
  type ActiveAlert,
  type AlertStateMap,
  type JsonNumber,
  type ResolvedAlert,
  type Transition,
} from "./state";

export type { NotifyAlert, RuleView };

export interface RoundSnapshot {
  now: Date;
  /** Every firing alert, and every alert that resolved in this round (only in this round). */
  alerts: NotifyAlert[];
}

export interface AlertEngineOptions {
  /** Time between rounds; 1 s by default, so `for: 30s` fires within 31 s. */
  intervalMs?: number;
  /** Called at the start of every round, so a rule edited in the UI applies at the next round. */
  rules: () => Promise<LoadedRules>;
  /** Called after each round whose changes were saved (the notifier's Dispatcher.onEvaluation). */
  onRound?: (snapshot: RoundSnapshot) => Promise<unknown>;
  log?: (line: string) => void;
  /** Base URL of the web UI, for each alert's generatorURL. */
  externalURL?: string;
  now?: () => number;
}

/** An active alert as GET /api/alerts shows it. */
export interface AlertView {
  rule: string;
  fingerprint: string;
  alertname: string;
  state: "pending" | "firing";
  labels: Labels;
  annotations: Labels;
  value: JsonNumber;
  activeAt: Date;
  firedAt: Date | null;
}

/** The engine's own series, for prom-client (GET /metrics). */
export interface EngineMetrics {
  /** Prometheus' synthetic `ALERTS{alertname, alertstate, ...labels} 1`, one per active alert. */
  alerts: { labels: Labels; value: 1 }[];
  /** Last evaluation duration per rule (prometheus_rule_evaluation_duration_seconds). */
  ruleEvaluationSeconds: { rule: string; seconds: number }[];
  /** Evaluations that failed, per rule since start (prometheus_rule_evaluation_failures_total). */
  ruleEvaluationFailures: { rule: string; count: number }[];
  /** Wall time of the last whole round, or null before the first. */
  lastRoundSeconds: number | null;
}

/**
 * Prometheus' --rules.alert.for-outage-tolerance: a pending alert not seen for longer than this
 * (the engine was stopped) starts its `for` timer over, since nobody watched the condition hold.
 */
const FOR_OUTAGE_TOLERANCE_MS = 60 * 60 * 1000;

/**
 * The most series one recording rule may write per evaluation: past it the rule fails with an
 * error and writes nothing (Prometheus' group `limit` does the same, lower, when set). Every
 * series is a row per interval in metric_samples, so a `sum by (clientid)` by mistake must not
 * flood the store.
 */
export const MAX_RECORDED_SERIES = 10_000;

export class AlertEngine {
  private readonly intervalMs: number;
  private readonly now: () => number;
  private readonly log: (line: string) => void;
  private states = new Map<string, AlertStateMap>();
  private loaded: LoadedRules = { rules: [], errors: [], disabled: [] };
  private readonly status = new Map<string, RuleStatus>();
  private readonly failures = new Map<string, number>();
  /** When each recording rule last recorded, so it records once per its group's interval. */
  private readonly lastRecordedAt = new Map<string, number>();
  private lastRoundSeconds: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private rerun = false;
  private running = false;
  /** The last round's failure, logged once rather than every second while the database is away. */
  private failure: string | null = null;

  constructor(
    private readonly database: Database,
    private readonly opts: AlertEngineOptions,
  ) {
    this.intervalMs = opts.intervalMs ?? 1000;
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? ((line) => console.log(line));
  }

  /** Restores the persisted alert states, runs a first round and starts the interval. */
  async start(): Promise<void> {
    if (this.running) return;
    this.states = await loadAlertStates(this.database.db);
    await this.forgetUnwatchedPending();
    this.running = true;
    this.timer = setInterval(() => {
      // A round that overruns the interval delays the next one instead of queueing rounds up.
      if (!this.inFlight) this.startRound("interval");
    }, this.intervalMs);
    this.timer.unref();
    this.startRound("start");
    await this.idle();
  }

  /**
   * While another instance evaluates (it holds the leader lease): read the rules and the alert
   * states it saved, so this instance's API and pages show the same alerts. No round runs here.
   */
  async follow(): Promise<void> {
    if (this.running) return;
    const [loaded, states] = await Promise.all([this.opts.rules(), loadAlertStates(this.database.db)]);
    if (this.running) return;
    this.loaded = loaded;
    this.states = states;
  }

  /** Stops the interval and waits for the round in progress to finish. */
  async stop(): Promise<void> {
    this.running = false;
    this.rerun = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.idle();
  }

  /**
   * Runs a round now, e.g. when a broker went down, instead of waiting for the interval. While a
   * round is running, any number of requests coalesce into one more round after it: the running
   * round may have read the samples before the event that caused the request.
   */
  evaluateNow(reason: string): void {
    if (!this.running) return;
    if (this.inFlight) this.rerun = true;
    else this.startRound(reason);
  }

  /** Resolves once no round is running or queued. */
  async idle(): Promise<void> {
    while (this.inFlight) await this.inFlight;
  }

  /** Pending and firing alerts, firing first. */
  alerts(): AlertView[] {
    return alertViews(this.states);
  }

  /** Every rule of the last round: evaluated, refused at load, or switched off (see rule-view.ts). */
  ruleStates(): RuleView[] {
    return ruleViews({ loaded: this.loaded, states: this.states, status: this.status });
  }

  metrics(): EngineMetrics {
    return {
      alerts: this.alerts().map((a) => ({ labels: { ...a.labels, alertstate: a.state }, value: 1 })),
      ruleEvaluationSeconds: [...this.status].map(([rule, s]) => ({ rule, seconds: s.lastDurationMs / 1000 })),
      ruleEvaluationFailures: [...this.failures].map(([rule, count]) => ({ rule, count })),
      lastRoundSeconds: this.lastRoundSeconds,
    };
  }

  private async forgetUnwatchedPending(): Promise<void> {
    const cutoff = this.now() - FOR_OUTAGE_TOLERANCE_MS;
    const stale: { rule: string; fingerprint: string }[] = [];
    for (const [rule, map] of this.states) {
      for (const [fp, alert] of Object.entries(map)) {
        if (alert.state !== "pending" || alert.lastSeenAt >= cutoff) continue;
        stale.push({ rule, fingerprint: fp });
        delete map[fp];
      }
    }
    await deleteAlertStates(this.database.db, stale);
  }

  private startRound(reason: string): void {
    this.inFlight = this.round()
      .then(
        () => {
          if (this.failure !== null) this.log("brokerwatch: alert evaluation works again");
          this.failure = null;
        },
        (err: Error) => {
          if (err.message !== this.failure) {
            this.log(`brokerwatch: alert evaluation (${reason}) failed, retrying every round: ${err.message}`);
          }
          this.failure = err.message;
        },
      )
      .finally(() => {
        this.inFlight = null;
        if (this.rerun && this.running) {
          this.rerun = false;
          this.startRound("requested during a round");
        }
      });
  }

  private async round(): Promise<void> {
    const roundStarted = performance.now();
    const nowMs = this.now();
    const at = new Date(nowMs);
    const loaded = await this.opts.rules();
    const data = new EvaluationData(
      this.database,
      nowMs,
      loaded.rules.map((r) => r.parsed),
    );

    const next = new Map(this.states);
    const changes: RoundChanges = { at, upserts: [], deletes: [], fired: [], resolved: [], ruleStatus: [] };
    for (const rule of loaded.rules) {
      const started = performance.now();
      const prev = this.states.get(rule.name) ?? {};
      let error: string | null = null;
      if (rule.kind === "record" && !this.recordingDue(rule.name, rule.intervalSeconds ?? null, nowMs)) {
        // Not due: its last evaluation stands, and the alerting rules read what it stored then.
        const last = this.status.get(rule.name);
        if (last) changes.ruleStatus.push({ rule: rule.name, ...last });
        continue;
      }
      try {
        const result = evaluate(rule.parsed, await data.forExpr(rule.parsed), nowMs);
        if (rule.kind === "record") {
          error = await this.record(rule, result, nowMs, data);
          this.lastRecordedAt.set(rule.name, nowMs);
        } else if (result.kind === "error") {
          error = result.message;
        } else {
          // A scalar result is one sample without labels (rules/manager.go EngineQueryFunc).
          const samples = result.kind === "scalar" ? [{ labels: {}, value: result.value }] : result.samples;
          const stepped =
            rule.limit && samples.length > rule.limit
              ? { error: `exceeded limit of ${rule.limit} alerts (the group's limit): ${samples.length} samples` }
              : step(prev, rule, samples, nowMs);
          if (stepped.error) {
            error = stepped.error;
          } else if ("next" in stepped) {
            recordTransitions(changes, rule.name, stepped.next, stepped.transitions);
            next.set(rule.name, stepped.next);
          }
        }
      } catch (err) {
        error = (err as Error).message;
      }
      // On an error the rule's alerts stay as they were, as Prometheus leaves them.
      changes.ruleStatus.push({
        rule: rule.name,
        lastEvaluatedAt: at,
        lastDurationMs: performance.now() - started,
        lastError: error,
      });
    }

    // A rule removed or switched off resolves its alerts, so receivers close what they opened.
    // A rule refused at load keeps them: fixing a typo in its expression must not page twice.
    const present = new Set([...loaded.rules.map((r) => r.name), ...loaded.errors.map((e) => e.rule)]);
    for (const [rule, prev] of this.states) {
      if (present.has(rule)) continue;
      recordTransitions(changes, rule, {}, retire(prev, nowMs));
      next.delete(rule);
    }

    // Save, then notify. A firing alert's firedAt is durable before any page goes out, so a crash
    // in between re-derives nothing: the restored alert pages with the same startsAt and the
    // outbox's unique dedup key keeps it to one. A resolution lost in that window is recovered by
    // the dispatcher, which resolves any paged alert that is no longer active (missedResolutions).
    await saveRound(this.database.db, changes);
    // What was saved is what alerts() shows, before anyone is paged: no page or API answer is
    // behind a webhook (the ingest thread sends its state to the web thread from onRound).
    this.states = next;
    this.loaded = loaded;
    this.status.clear();
    for (const { rule, lastDurationMs, lastError } of changes.ruleStatus) {
      this.status.set(rule, { lastEvaluatedAt: at, lastDurationMs: lastDurationMs ?? 0, lastError });
      if (lastError !== null) this.failures.set(rule, (this.failures.get(rule) ?? 0) + 1);
    }
    if (this.opts.onRound) {
      try {
        await this.opts.onRound({ now: at, alerts: this.snapshot(next, changes.resolved) });
      } catch (err) {
        this.log(`brokerwatch: handing alerts to the notifier failed: ${(err as Error).message}`);
      }
    }
    this.lastRoundSeconds = (performance.now() - roundStarted) / 1000;
  }

  /** A recording rule records at its group's interval (60 s when the group sets none), at most every round. */
  private recordingDue(rule: string, intervalSeconds: number | null, nowMs: number): boolean {
    const last = this.lastRecordedAt.get(rule);
    const intervalMs = (intervalSeconds ?? DEFAULT_GROUP_INTERVAL_SECONDS) * 1000;
    // Half a round of slack: rounds drift by milliseconds, and a 1 s group must not record every other round.
    return last === undefined || nowMs - last >= intervalMs - this.intervalMs / 2;
  }

  /**
   * Stores a recording rule's result as samples of the metric it names (rules/recording.go): the
   * series' labels without `__name__`, with the rule's labels set over them. Returns the error
   * that kept it from recording, or null. Alerting rules later in the round read the new samples.
   */
  private async record(
    rule: { name: string; labels: Labels; limit?: number },
    result: EvalResult,
    nowMs: number,
    data: EvaluationData,
  ): Promise<string | null> {
    if (result.kind === "error") return result.message;
    const samples = result.kind === "scalar" ? [{ labels: {}, value: result.value }] : result.samples;
    const limit = rule.limit ? Math.min(rule.limit, MAX_RECORDED_SERIES) : MAX_RECORDED_SERIES;
    if (samples.length > limit) {
      return `exceeded limit of ${limit} series${rule.limit ? " (the group's limit)" : ""}: the expression returned ${samples.length}; nothing was recorded`;
    }
    const seen = new Set<string>();
    const rows: RecordedSample[] = [];
    for (const sample of samples) {
      const { __name__: _name, ...labels } = sample.labels;
      Object.assign(labels, rule.labels);
      const key = JSON.stringify(Object.entries(labels).sort());
      if (seen.has(key)) return "vector contains metrics with the same labelset after applying rule labels";
      seen.add(key);
      rows.push({ metric: rule.name, labels, ts: new Date(nowMs), value: sample.value });
    }
    await insertRecordedSamples(this.database.db, rows);
    data.forget(rule.name);
    return null;
  }

  private snapshot(states: ReadonlyMap<string, AlertStateMap>, resolved: RoundChanges["resolved"]): NotifyAlert[] {
    const out: NotifyAlert[] = [];
    for (const [rule, map] of states) {
      for (const a of Object.values(map)) if (a.state === "firing") out.push(this.notifyAlert(rule, a, null));
    }
    for (const { rule, alert } of resolved) out.push(this.notifyAlert(rule, alert, new Date(alert.resolvedAt)));
    return out;
  }

  private notifyAlert(rule: string, a: ActiveAlert | ResolvedAlert, endsAt: Date | null): NotifyAlert {
    return {
      fingerprint: a.fingerprint,
      labels: a.labels,
      annotations: a.annotations,
      state: endsAt === null ? "firing" : "resolved",
      startsAt: new Date(a.firedAt!),
      endsAt,
      generatorURL: this.opts.externalURL
        ? `${this.opts.externalURL.replace(/\/+$/, "")}/alerts?rule=${encodeURIComponent(rule)}`
        : "",
    };
  }
}

/** Active alerts as the API shows them, firing first; from the engine or from alert_states. */
export function alertViews(states: ReadonlyMap<string, AlertStateMap>): AlertView[] {
  const out: AlertView[] = [];
  for (const [rule, map] of states) {
    for (const a of Object.values(map)) {
      out.push({
        rule,
        fingerprint: a.fingerprint,
        alertname: a.labels.alertname,
        state: a.state,
        labels: a.labels,
        annotations: a.annotations,
        value: a.value,
        activeAt: new Date(a.activeAt),
        firedAt: a.firedAt === null ? null : new Date(a.firedAt),
      });
    }
  }
  return out.sort(
    (a, b) =>
      Number(b.state === "firing") - Number(a.state === "firing") ||
      a.alertname.localeCompare(b.alertname) ||
      a.activeAt.getTime() - b.activeAt.getTime(),
  );
}

/**
 * What a round saves and notifies for one rule, from the transitions `step` (or `retire`)
 * reported: every alert still active is written back (its lastSeenAt or value moved), a firing
 * transition goes to the history, and a resolved or dropped alert leaves the active states.
 */
function recordTransitions(
  changes: RoundChanges,
  rule: string,
  next: AlertStateMap,
  transitions: readonly Transition[],
): void {
  for (const alert of Object.values(next)) changes.upserts.push({ rule, alert });
  for (const t of transitions) {
    switch (t.type) {
      case "firing":
        changes.fired.push({ rule, alert: t.alert });
        break;
      case "resolved":
        changes.resolved.push({ rule, alert: t.alert });
        changes.deletes.push({ rule, fingerprint: t.alert.fingerprint });
        break;
      case "dropped":
        changes.deletes.push({ rule, fingerprint: t.alert.fingerprint });
        break;
      case "pending":
        break; // written with `next`
    }
  }
}
