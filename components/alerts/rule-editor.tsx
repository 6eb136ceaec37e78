"use client";

import { Time } from "@/components/time";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useEffect, useId, useRef, useState, type ReactNode } from "react";
import { ApiFailure, callApi, failureMessage } from "@/components/settings/api";
import { parsePairLines } from "@/components/settings/pairs";
import { buttonClass, inputClass, secondaryButtonClass } from "@/components/ui";
import { METRIC_HELP, METRIC_NAMES } from "@/lib/metrics";
import { Expr } from "./expr";
import { formatValue, promDuration } from "./format";
import { LabelChips } from "./labels";

/**
 * Create or edit an alert rule made in the UI, with the expression checked and evaluated against
 * the stored data as you type (POST /api/rules/preview, debounced), so "why doesn't it fire?" is
 * answered before saving: the current value of what the threshold compares, and a warning for a
 * selector that matches nothing (a typo in a metric or label).
 *
 * Mounted at /alerts/rules/new and /alerts/rules/{id}, and by Settings. Saves through
 * POST /api/rules or PATCH /api/rules/{id}, which check everything again.
 */
export interface RuleEditorRule {
  id: number;
  name: string;
  expr: string;
  forSeconds: number;
  keepFiringForSeconds: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  enabled: boolean;
}

export interface RuleEditorProps {
  /** the UI rule to edit; absent to create one */
  rule?: RuleEditorRule;
  /** where to go after saving or deleting (default /alerts/rules) */
  afterSaveHref?: string;
  /** where Cancel goes (default afterSaveHref) */
  cancelHref?: string;
}

interface PreviewSample {
  labels: Record<string, string>;
  value: number | string;
}
type Preview =
  | { kind: "idle" }
  | { kind: "loading" }
  | { kind: "invalid"; message: string; position: number | null; expr: string }
  | { kind: "failed"; message: string }
  | {
      kind: "result";
      evaluatedAt: string;
      samples: PreviewSample[];
      compared: { side: "left" | "right"; op: string; samples: PreviewSample[] } | null;
      selectors: { selector: string; metric: string; stored: number; matched: number }[];
    }
  | { kind: "error"; evaluatedAt: string; message: string };

const SEVERITIES = ["critical", "warning", "info"];
const PREVIEW_DELAY_MS = 400;

/** `name=value` lines ⇄ a label map. */
function linesOf(map: Record<string, string>, skip: string[]): string {
  return Object.entries(map)
    .filter(([k]) => !skip.includes(k))
    .map(([k, v]) => `${k}=${v}`)
    .join("\n");
}
function parseLines(text: string, what: string): { map: Record<string, string>; error: string | null } {
  const pairs = parsePairLines(text, "=");
  if ("badLine" in pairs) return { map: {}, error: `${what}, line ${pairs.badLine}: write name=value` };
  return { map: pairs, error: null };
}

/** Levenshtein distance, for "did you mean" on a misspelt metric. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}
function suggestMetric(metric: string): string | null {
  let best: { name: string; d: number } | null = null;
  for (const name of METRIC_NAMES) {
    const d = distance(metric, name);
    if (!best || d < best.d) best = { name, d };
  }
  return best && best.d <= 4 ? best.name : null;
}

export function RuleEditor({ rule, afterSaveHref = "/alerts/rules", cancelHref }: RuleEditorProps) {
  const router = useRouter();
  const id = useId();
  const editing = rule !== undefined;
  const [name, setName] = useState(rule?.name ?? "");
  const [expr, setExpr] = useState(rule?.expr ?? "");
  const [forText, setFor] = useState(promDuration(rule?.forSeconds ?? 0));
  const [keepText, setKeep] = useState(promDuration(rule?.keepFiringForSeconds ?? 0));
  const [severity, setSeverity] = useState(rule?.labels.severity ?? "warning");
  const [labelsText, setLabels] = useState(linesOf(rule?.labels ?? {}, ["severity"]));
  const [summary, setSummary] = useState(rule?.annotations.summary ?? "");
  const [description, setDescription] = useState(rule?.annotations.description ?? "");
  const [annotationsText, setAnnotations] = useState(linesOf(rule?.annotations ?? {}, ["summary", "description"]));
  const [enabled, setEnabled] = useState(rule?.enabled ?? true);
  const [preview, setPreview] = useState<Preview>({ kind: "idle" });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [serverPosition, setServerPosition] = useState<number | null>(null);
  const [busy, setBusy] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const sequence = useRef(0);

  // Live validation: parse and evaluate the expression once typing pauses.
  useEffect(() => {
    const text = expr.trim();
    if (!text) {
      setPreview({ kind: "idle" });
      return;
    }
    const mine = ++sequence.current;
    const controller = new AbortController();
    const timer = setTimeout(async () => {
      setPreview((p) => (p.kind === "idle" ? { kind: "loading" } : p));
      try {
        const body = await callApi<Preview>(
          "POST",
          "/api/rules/preview",
          { expr: text },
          { signal: controller.signal },
        );
        if (mine === sequence.current) setPreview(body);
      } catch (err) {
        if (controller.signal.aborted || mine !== sequence.current) return;
        if (err instanceof ApiFailure && err.parameter === "expr") {
          setPreview({ kind: "invalid", message: err.message, position: err.position, expr: text });
        } else if (err instanceof ApiFailure && err.status === 0) {
          setPreview({ kind: "failed", message: "the preview could not be fetched" });
        } else setPreview({ kind: "failed", message: failureMessage(err) });
      }
    }, PREVIEW_DELAY_MS);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [expr]);

  async function save(event: React.FormEvent) {
    event.preventDefault();
    const labels = parseLines(labelsText, "Other labels");
    const annotations = parseLines(annotationsText, "Other annotations");
    const local: Record<string, string> = {};
    if (labels.error) local.labels = labels.error;
    if (annotations.error) local.annotations = annotations.error;
    setErrors(local);
    setServerPosition(null);
    if (Object.keys(local).length > 0) return;
    const body = {
      name: name.trim(),
      expr: expr.trim(),
      for: forText.trim() || "0s",
      keep_firing_for: keepText.trim() || "0s",
      labels: { ...labels.map, ...(severity ? { severity } : {}) },
      annotations: {
        ...annotations.map,
        ...(summary.trim() ? { summary: summary.trim() } : {}),
        ...(description.trim() ? { description: description.trim() } : {}),
      },
      enabled,
    };
    setBusy(true);
    try {
      await callApi(editing ? "PATCH" : "POST", editing ? `/api/rules/${rule.id}` : "/api/rules", body);
      router.push(afterSaveHref);
      router.refresh();
    } catch (err) {
      const parameter = (err instanceof ApiFailure ? err.parameter : null) ?? "form";
      const field = parameter.startsWith("labels.")
        ? "labels"
        : parameter.startsWith("annotations.")
          ? "annotations"
          : parameter;
      setErrors({ [field]: failureMessage(err) });
      if (parameter === "expr" && err instanceof ApiFailure && err.position !== null) setServerPosition(err.position);
    } finally {
      setBusy(false);
    }
  }

  async function remove() {
    if (!rule) return;
    setBusy(true);
    try {
      await callApi("DELETE", `/api/rules/${rule.id}`);
      router.push(afterSaveHref);
      router.refresh();
    } catch (err) {
      setErrors({ form: failureMessage(err) });
    } finally {
      setBusy(false);
    }
  }

  const fieldError = (key: string) =>
    errors[key] ? (
      <p id={`${id}-${key}-error`} role="alert" className="mt-1 text-xs text-red-600">
        {errors[key]}
        {key === "expr" && serverPosition !== null && (
          <span className="mt-1 block">
            <Expr expr={expr.trim()} position={serverPosition} />
          </span>
        )}
      </p>
    ) : null;

  return (
    <form onSubmit={save} className="grid gap-6 lg:grid-cols-[minmax(0,3fr)_minmax(0,2fr)]" aria-label="Alert rule">
      <div className="space-y-4">
        <Field id={`${id}-name`} label="Name" hint="Becomes the alertname label: letters, digits and _">
          <input
            id={`${id}-name`}
            className={`${inputClass} font-mono`}
            value={name}
            onChange={(e) => setName(e.target.value)}
            required
            pattern="[a-zA-Z_][a-zA-Z0-9_]*"
            placeholder="Plant_Too_Many_Clients"
            autoComplete="off"
          />
          {fieldError("name")}
        </Field>
        <Field
          id={`${id}-expr`}
          label="Expression"
          hint="PromQL: the rule fires for every series the expression returns, e.g. mqtt_queued_messages > 10000"
        >
          <textarea
            id={`${id}-expr`}
            className={`${inputClass} font-mono`}
            rows={3}
            value={expr}
            onChange={(e) => setExpr(e.target.value)}
            required
            spellCheck={false}
            placeholder='mqtt_connections_current{broker="plant-a"} > 4000'
          />
          {fieldError("expr")}
        </Field>
        <div className="grid gap-4 sm:grid-cols-3">
          <Field id={`${id}-for`} label="For" hint="Pending this long before firing">
            <input id={`${id}-for`} className={inputClass} value={forText} onChange={(e) => setFor(e.target.value)} />
            {fieldError("for")}
          </Field>
          <Field
            id={`${id}-keep`}
            label="Keep firing for"
            hint="Against flapping: stay firing this long after it clears"
          >
            <input
              id={`${id}-keep`}
              className={inputClass}
              value={keepText}
              onChange={(e) => setKeep(e.target.value)}
            />
            {fieldError("keep_firing_for")}
          </Field>
          <Field id={`${id}-severity`} label="Severity" hint="The severity label receivers route on">
            <select
              id={`${id}-severity`}
              className={inputClass}
              value={severity}
              onChange={(e) => setSeverity(e.target.value)}
            >
              {[...new Set([...SEVERITIES, severity])].map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </Field>
        </div>
        <Field
          id={`${id}-summary`}
          label="Summary"
          hint="One line for the alert list and the webhook; templates like {{ $labels.broker }} and {{ $value }} work"
        >
          <input
            id={`${id}-summary`}
            className={inputClass}
            value={summary}
            onChange={(e) => setSummary(e.target.value)}
            placeholder="{{ $labels.broker }} has {{ $value }} clients connected"
          />
        </Field>
        <Field id={`${id}-description`} label="Description" hint="What it means and what to do about it">
          <textarea
            id={`${id}-description`}
            className={inputClass}
            rows={2}
            value={description}
            onChange={(e) => setDescription(e.target.value)}
          />
        </Field>
        <div className="grid gap-4 sm:grid-cols-2">
          <Field id={`${id}-labels`} label="Other labels" hint="name=value, one per line">
            <textarea
              id={`${id}-labels`}
              className={`${inputClass} font-mono`}
              rows={2}
              value={labelsText}
              onChange={(e) => setLabels(e.target.value)}
              placeholder="team=plant-ops"
              spellCheck={false}
            />
            {fieldError("labels")}
          </Field>
          <Field id={`${id}-annotations`} label="Other annotations" hint="name=value, one per line">
            <textarea
              id={`${id}-annotations`}
              className={`${inputClass} font-mono`}
              rows={2}
              value={annotationsText}
              onChange={(e) => setAnnotations(e.target.value)}
              placeholder="runbook_url=https://wiki.example.com/mqtt"
              spellCheck={false}
            />
            {fieldError("annotations")}
          </Field>
        </div>
        {editing && (
          <label className="flex items-center gap-2 text-sm">
            <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} />
            Enabled (a disabled rule is not evaluated and its alerts resolve)
          </label>
        )}
        {(errors.form || errors.body) && (
          <p role="alert" className="text-sm text-red-600">
            {errors.form ?? errors.body}
          </p>
        )}
        <div className="flex flex-wrap items-center gap-2">
          <button type="submit" className={buttonClass} disabled={busy}>
            {busy ? "Saving…" : editing ? "Save changes" : "Create rule"}
          </button>
          <Link href={cancelHref ?? afterSaveHref} className={secondaryButtonClass}>
            Cancel
          </Link>
          {editing &&
            (confirmDelete ? (
              <span className="ml-auto flex items-center gap-2 text-sm">
                Delete {rule.name}? Its alerts resolve.
                <button
                  type="button"
                  className={`${buttonClass} bg-red-600 hover:bg-red-700`}
                  onClick={remove}
                  disabled={busy}
                >
                  Delete
                </button>
                <button type="button" className={secondaryButtonClass} onClick={() => setConfirmDelete(false)}>
                  Keep
                </button>
              </span>
            ) : (
              <button
                type="button"
                className={`${secondaryButtonClass} ml-auto text-red-700 dark:text-red-400`}
                onClick={() => setConfirmDelete(true)}
              >
                Delete rule
              </button>
            ))}
        </div>
      </div>
      <PreviewPanel preview={preview} />
    </form>
  );
}

function Field({ id, label, hint, children }: { id: string; label: string; hint?: string; children: ReactNode }) {
  return (
    <div>
      <label htmlFor={id} className="mb-1 block text-sm font-medium">
        {label}
      </label>
      {children}
      {hint && <p className="mt-1 text-xs text-zinc-600 dark:text-zinc-400">{hint}</p>}
    </div>
  );
}

function SampleList({ samples, empty }: { samples: PreviewSample[]; empty: string }) {
  if (samples.length === 0) return <p className="text-xs text-zinc-600 dark:text-zinc-400">{empty}</p>;
  const shown = samples.slice(0, 20);
  return (
    <ul className="space-y-1">
      {shown.map((s) => (
        <li key={JSON.stringify(s.labels)} className="flex items-start justify-between gap-3">
          {Object.keys(s.labels).length > 0 ? (
            <LabelChips labels={s.labels} all />
          ) : (
            <span className="text-xs text-zinc-600 dark:text-zinc-400">(no labels)</span>
          )}
          <span className="font-mono text-sm tabular-nums" data-testid="preview-value">
            {formatValue(s.value)}
          </span>
        </li>
      ))}
      {samples.length > shown.length && (
        <li className="text-xs text-zinc-600 dark:text-zinc-400">and {samples.length - shown.length} more</li>
      )}
    </ul>
  );
}

function PreviewPanel({ preview }: { preview: Preview }) {
  return (
    <aside
      aria-label="Evaluated now"
      aria-live="polite"
      data-testid="rule-preview"
      data-preview={preview.kind}
      className="h-fit space-y-3 rounded-lg border border-zinc-200 bg-white p-4 text-sm dark:border-zinc-800 dark:bg-zinc-900"
    >
      <h2 className="text-sm font-medium">Evaluated now</h2>
      {preview.kind === "idle" && (
        <p className="text-zinc-600 dark:text-zinc-400">Type an expression: it is checked and run against the stored data as you type.</p>
      )}
      {preview.kind === "loading" && <p className="text-zinc-600 dark:text-zinc-400">Evaluating…</p>}
      {preview.kind === "failed" && <p className="text-red-600">{preview.message}</p>}
      {preview.kind === "invalid" && (
        <div className="space-y-2">
          <p className="text-red-700 dark:text-red-400" role="alert">
            {preview.message}
          </p>
          <Expr expr={preview.expr} position={preview.position} />
        </div>
      )}
      {preview.kind === "error" && (
        <p className="text-red-700 dark:text-red-400">Evaluation failed with the current data: {preview.message}</p>
      )}
      {preview.kind === "result" && (
        <>
          <div>
            <p className={`mb-1 font-medium ${preview.samples.length > 0 ? "text-red-700 dark:text-red-400" : ""}`}>
              {preview.samples.length > 0
                ? `Would alert now for ${preview.samples.length} series`
                : "Would not alert now"}
            </p>
            {preview.samples.length > 0 && <SampleList samples={preview.samples} empty="" />}
          </div>
          {preview.compared && (
            <div>
              <p className="mb-1 text-xs font-medium text-zinc-600 dark:text-zinc-400 uppercase">
                Current value of the {preview.compared.side} side of {preview.compared.op}
              </p>
              <SampleList samples={preview.compared.samples} empty="No data: nothing to compare." />
            </div>
          )}
          {preview.selectors.map((s) =>
            s.stored === 0 ? (
              <p key={s.selector} className="text-xs text-amber-800 dark:text-amber-300">
                No data stored for <code>{s.metric}</code> in the last 5 minutes.{" "}
                {(METRIC_NAMES as readonly string[]).includes(s.metric)
                  ? "No broker reports it (yet)."
                  : suggestMetric(s.metric)
                    ? `Did you mean ${suggestMetric(s.metric)}?`
                    : "It is not a brokerwatch metric."}
              </p>
            ) : s.matched === 0 ? (
              <p key={s.selector} className="text-xs text-amber-800 dark:text-amber-300">
                <code>{s.selector}</code> matches none of the {s.stored} stored series of {s.metric}: check the label
                values.
              </p>
            ) : null,
          )}
          <p className="text-xs text-zinc-600 dark:text-zinc-400">Evaluated at <Time value={preview.evaluatedAt} /></p>
        </>
      )}
      <details className="text-xs text-zinc-600 dark:text-zinc-400">
        <summary className="cursor-pointer">Metrics you can use</summary>
        <dl className="mt-2 space-y-1">
          {METRIC_NAMES.map((m) => (
            <div key={m}>
              <dt className="font-mono text-zinc-700 dark:text-zinc-300">{m}</dt>
              <dd>{METRIC_HELP[m]}</dd>
            </div>
          ))}
        </dl>
        <p className="mt-2">
          Labels: <code>broker</code>, <code>cluster</code>, <code>node</code>; <code>reason</code> on disconnects.
        </p>
      </details>
    </aside>
  );
}
