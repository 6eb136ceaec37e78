/**
 * The Prometheus alert state machine (rules/alerting.go, AlertingRule.Eval), pure and explicit.
 *
 * inactive → pending (a result appears) → firing (pending for ≥ `for`) → resolved (the result is
 * gone, after `keep_firing_for` if set). A pending alert whose result disappears is dropped
 * without notification. Time is passed in; the state map is plain JSON (times in ms) so the
 * caller can persist it and a restart neither re-fires a firing alert nor restarts a `for` timer.
 *
 * On an evaluation error the caller should not call `step` at all: Prometheus leaves the active
 * alerts untouched when the query fails.
 *
 * `step` is the one source of truth for what happened: its transitions (pending, firing,
 * dropped, resolved, per fingerprint) are what the engine persists and notifies.
 *
 * Where this differs from Prometheus (see docs/architecture.md):
 * - A restart counts the downtime toward `for`. The state, `activeAt` included, is persisted, so
 *   an alert pending for 4 of `for: 5m` before a 10-minute restart fires at the first evaluation
 *   after it, even though nobody watched the condition hold meanwhile. Prometheus restores
 *   `activeAt` too (ALERTS_FOR_STATE) but then waits at least `--rules.alert.for-grace-period`
 *   (10m) before firing a restored alert whose `for` is that long; we do not. Only a pending
 *   alert unseen for over an hour is forgotten at start, like Prometheus'
 *   `--rules.alert.for-outage-tolerance` (the engine's FOR_OUTAGE_TOLERANCE_MS).
 */
import type { Labels } from "./promql";
import { renderTemplate } from "./template";

/** JSON has no NaN/Infinity; non-finite values are spelled as in Prometheus' HTTP API. */
export type JsonNumber = number | "NaN" | "+Inf" | "-Inf";

export interface ActiveAlert {
  /** fingerprint(labels), the key in AlertStateMap. */
  fingerprint: string;
  /** Series labels without `__name__`, plus the rule's labels, plus `alertname`. */
  labels: Labels;
  annotations: Labels;
  value: JsonNumber;
  state: "pending" | "firing";
  activeAt: number;
  firedAt: number | null;
  /** Always null while active; set on the `resolved` transition's alert. */
  resolvedAt: number | null;
  lastSeenAt: number;
  /** When the result disappeared while firing with keep_firing_for; null while present. */
  keepFiringSince: number | null;
}

export interface ResolvedAlert extends Omit<ActiveAlert, "state" | "resolvedAt"> {
  state: "inactive";
  resolvedAt: number;
}

/** Active (pending or firing) alerts of one rule, by fingerprint. */
export type AlertStateMap = Record<string, ActiveAlert>;

export interface AlertRule {
  name: string;
  forSeconds: number;
  keepFiringForSeconds: number;
  /** Values are templates, expanded per alert like Prometheus does for rule labels. */
  labels: Labels;
  /** Templates, expanded per alert with `$labels` and `$value` on every step. */
  annotations: Labels;
  externalLabels?: Labels;
}

export type Transition =
  { type: "pending" | "firing" | "dropped"; alert: ActiveAlert } | { type: "resolved"; alert: ResolvedAlert };

export interface StepResult {
  next: AlertStateMap;
  transitions: Transition[];
  /** Set when the results collide after labelling; `next` is then `prev`, unchanged (as in Prometheus). */
  error?: string;
}

export function step(
  prev: AlertStateMap,
  rule: AlertRule,
  results: readonly { labels: Labels; value: number }[],
  nowMs: number,
): StepResult {
  const current = new Map<string, { labels: Labels; annotations: Labels; value: JsonNumber }>();
  for (const r of results) {
    const data = { labels: r.labels, value: r.value, externalLabels: rule.externalLabels };
    const labels: Labels = {};
    for (const [k, v] of Object.entries(r.labels)) if (k !== "__name__" && v !== "") labels[k] = v;
    for (const [k, template] of Object.entries(rule.labels)) {
      // labels.Builder.Set with an empty value deletes the label.
      const v = renderTemplate(template, data);
      if (v === "") delete labels[k];
      else labels[k] = v;
    }
    labels.alertname = rule.name;
    const annotations: Labels = {};
    for (const [k, template] of Object.entries(rule.annotations)) annotations[k] = renderTemplate(template, data);
    const fp = fingerprint(labels);
    if (current.has(fp)) {
      return {
        next: prev,
        transitions: [],
        error: "vector contains metrics with the same labelset after applying alert labels",
      };
    }
    current.set(fp, { labels, annotations, value: encodeValue(r.value) });
  }

  const next: AlertStateMap = {};
  const transitions: Transition[] = [];
  for (const [fp, c] of current) {
    const known = prev[fp];
    const alert: ActiveAlert = known
      ? { ...known, value: c.value, annotations: c.annotations, lastSeenAt: nowMs, keepFiringSince: null }
      : {
          fingerprint: fp,
          labels: c.labels,
          annotations: c.annotations,
          value: c.value,
          state: "pending",
          activeAt: nowMs,
          firedAt: null,
          resolvedAt: null,
          lastSeenAt: nowMs,
          keepFiringSince: null,
        };
    // With for = 0 a new alert fires in the same evaluation it appears in.
    if (alert.state === "pending" && nowMs - alert.activeAt >= rule.forSeconds * 1000) {
      alert.state = "firing";
      alert.firedAt = nowMs;
      transitions.push({ type: "firing", alert });
    } else if (!known) {
      transitions.push({ type: "pending", alert });
    }
    next[fp] = alert;
  }

  for (const [fp, alert] of Object.entries(prev)) {
    if (current.has(fp)) continue;
    if (alert.state === "pending") {
      transitions.push({ type: "dropped", alert });
      continue;
    }
    const keepFiringSince = alert.keepFiringSince ?? nowMs;
    if (nowMs - keepFiringSince < rule.keepFiringForSeconds * 1000) {
      next[fp] = { ...alert, keepFiringSince };
      continue;
    }
    transitions.push({ type: "resolved", alert: { ...alert, state: "inactive", resolvedAt: nowMs } });
  }
  return { next, transitions };
}

/**
 * The transitions of a rule that is no longer evaluated (removed or switched off): its firing
 * alerts resolve, so receivers close what they opened, and its pending ones drop.
 */
export function retire(prev: AlertStateMap, nowMs: number): Transition[] {
  return Object.values(prev).map((alert): Transition =>
    alert.state === "firing"
      ? { type: "resolved", alert: { ...alert, state: "inactive", resolvedAt: nowMs } }
      : { type: "dropped", alert },
  );
}

export function encodeValue(v: number): JsonNumber {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return v;
}

export function decodeValue(v: JsonNumber): number {
  if (v === "NaN") return NaN;
  if (v === "+Inf") return Infinity;
  if (v === "-Inf") return -Infinity;
  return v;
}

const FNV_OFFSET_64 = 0xcbf29ce484222325n;
const FNV_PRIME_64 = 0x100000001b3n;
const MASK_64 = (1n << 64n) - 1n;
const SEPARATOR = 0xff;

/**
 * prometheus/common model.LabelSet.Fingerprint: FNV-1a 64 over the label names sorted bytewise,
 * each name and value followed by the byte 0xff, as 16 hex digits. It is the `fingerprint`
 * Alertmanager puts in its webhook payload, so the two agree for the same label set.
 */
export function fingerprint(labels: Labels): string {
  const encoder = new TextEncoder();
  let h = FNV_OFFSET_64;
  const add = (bytes: Iterable<number>) => {
    for (const b of bytes) h = ((h ^ BigInt(b)) * FNV_PRIME_64) & MASK_64;
  };
  for (const name of Object.keys(labels).sort(compareCodePoints)) {
    add(encoder.encode(name));
    add([SEPARATOR]);
    add(encoder.encode(labels[name]));
    add([SEPARATOR]);
  }
  return h.toString(16).padStart(16, "0");
}

/** Go compares strings bytewise; for UTF-8 that is code point order (JS `<` compares UTF-16 units). */
function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return (x.done ? 0 : 1) - (y.done ? 0 : 1);
    const d = x.value.codePointAt(0)! - y.value.codePointAt(0)!;
    if (d !== 0) return d;
  }
}
