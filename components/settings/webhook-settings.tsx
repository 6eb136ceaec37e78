"use client";

import { useRouter } from "next/navigation";
import { Fragment, useEffect, useId, useRef, useState, type FormEvent } from "react";
import {
  Badge,
  buttonClass,
  EmptyState,
  formatDuration,
  inputClass,
  rowClass,
  secondaryButtonClass,
  tableClass,
  tdClass,
  thClass,
} from "@/components/ui";
import type { WebhookSettingsView, WebhookTestResult } from "@/lib/settings/views";
import { ApiFailure, callApi, failureMessage } from "./api";
import {
  checkboxClass,
  Field,
  Notice,
  ReadOnlyNote,
  SectionHeader,
  smallButtonClass,
  SourceBadge,
  Spinner,
  StatusNotice,
} from "./parts";

type Status = { tone: "good" | "bad"; text: string } | null;
type TestState = { running: true } | { running: false; result: WebhookTestResult } | { running: false; error: string };

export function WebhookSettings({ webhooks, canEdit }: { webhooks: WebhookSettingsView[]; canEdit: boolean }) {
  const router = useRouter();
  const [form, setForm] = useState<{ mode: "add" } | { mode: "edit"; webhook: WebhookSettingsView } | null>(null);
  const [status, setStatus] = useState<Status>(null);
  const [busyRow, setBusyRow] = useState<number | null>(null);
  const [tests, setTests] = useState<Record<number, TestState>>({});

  async function patch(webhook: WebhookSettingsView, body: Record<string, unknown>, done: string) {
    setBusyRow(webhook.id);
    setStatus(null);
    try {
      await callApi("PATCH", `/api/webhooks/${webhook.id}`, body);
      setStatus({ tone: "good", text: done });
      router.refresh();
    } catch (err) {
      setStatus({ tone: "bad", text: failureMessage(err) });
    } finally {
      setBusyRow(null);
    }
  }

  async function sendTest(webhook: WebhookSettingsView) {
    setTests((t) => ({ ...t, [webhook.id]: { running: true } }));
    try {
      const { result } = await callApi<{ result: WebhookTestResult }>("POST", `/api/webhooks/${webhook.id}/test`);
      setTests((t) => ({ ...t, [webhook.id]: { running: false, result } }));
    } catch (err) {
      setTests((t) => ({ ...t, [webhook.id]: { running: false, error: failureMessage(err) } }));
    }
  }

  return (
    <section>
      <SectionHeader
        title="Webhooks"
        description="Receivers of alert notifications, in Alertmanager's webhook format and signed per Standard Webhooks. Webhooks from brokerwatch.yaml are read-only here."
        actions={
          canEdit && !form ? (
            <button type="button" className={buttonClass} onClick={() => setForm({ mode: "add" })}>
              Add webhook
            </button>
          ) : undefined
        }
      />
      {!canEdit && <ReadOnlyNote what="the webhooks" />}
      <StatusNotice status={status} />
      {form && (
        <WebhookForm
          key={form.mode === "edit" ? form.webhook.id : "add"}
          webhook={form.mode === "edit" ? form.webhook : null}
          onCancel={() => setForm(null)}
          onSaved={(text) => {
            setForm(null);
            setStatus({ tone: "good", text });
            router.refresh();
          }}
        />
      )}
      {webhooks.length === 0 ? (
        <EmptyState>
          No webhooks yet: alerts are evaluated and shown, but nobody is notified.
          {canEdit ? " Add one above, or list them in brokerwatch.yaml." : ""}
        </EmptyState>
      ) : (
        <div className="relative overflow-x-auto rounded-lg border border-zinc-200 bg-white dark:border-zinc-800 dark:bg-zinc-900">
          <table className={`${tableClass} min-w-[44rem]`}>
            <thead className="border-b border-zinc-200 dark:border-zinc-800">
              <tr>
                <th className={thClass}>Webhook</th>
                <th className={thClass}>URL</th>
                <th className={thClass}>Delivery</th>
                <th className={`${thClass} text-right`}>
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {webhooks.map((w) => {
                const test = tests[w.id];
                const stopped = w.disabledReason !== null;
                return (
                  <Fragment key={w.id}>
                    <tr className={rowClass} data-webhook-row={w.name}>
                      <td className={tdClass}>
                        <div className="flex flex-wrap items-center gap-1.5">
                          <span className="font-medium">{w.name}</span>
                          <SourceBadge source={w.source} />
                        </div>
                        <div className="mt-0.5 text-xs text-zinc-500">
                          {w.sendResolved ? "firing and resolved" : "firing only"}
                          {w.groupWaitSeconds !== null && ` · group wait ${formatDuration(w.groupWaitSeconds)}`}
                          {w.repeatIntervalSeconds !== null && ` · repeat ${formatDuration(w.repeatIntervalSeconds)}`}
                          {w.headerNames.length > 0 && ` · headers ${w.headerNames.join(", ")}`}
                        </div>
                      </td>
                      <td className={`${tdClass} font-mono text-xs break-all`}>{w.url}</td>
                      <td className={tdClass}>
                        <div className="flex flex-wrap gap-1">
                          {!w.enabled ? (
                            <Badge tone="neutral">disabled</Badge>
                          ) : stopped ? (
                            <Badge tone="bad">stopped</Badge>
                          ) : (
                            <Badge tone="good">enabled</Badge>
                          )}
                          {w.signed ? (
                            <Badge tone="info" title="Signed per Standard Webhooks with the stored whsec_ secret">
                              signed
                            </Badge>
                          ) : (
                            <Badge tone="warn" title="No secret: the receiver cannot tell our requests from anyone's">
                              unsigned
                            </Badge>
                          )}
                        </div>
                        {stopped && (
                          <p
                            className="mt-1 max-w-xs text-xs text-red-700 dark:text-red-400"
                            data-testid="disabled-reason"
                          >
                            {w.disabledReason}. Nothing is delivered until it is re-enabled.
                          </p>
                        )}
                      </td>
                      <td className={`${tdClass} text-right`}>
                        {canEdit ? (
                          <span className="inline-flex flex-wrap justify-end gap-1">
                            <button
                              type="button"
                              className={smallButtonClass}
                              disabled={test?.running}
                              onClick={() => sendTest(w)}
                              aria-label={`Send a test notification to ${w.name}`}
                            >
                              {test?.running && <Spinner />}
                              Send test
                            </button>
                            {stopped && (
                              <button
                                type="button"
                                className={smallButtonClass}
                                disabled={busyRow === w.id}
                                onClick={() => patch(w, { enabled: true }, `${w.name} re-enabled: deliveries resume.`)}
                              >
                                Re-enable
                              </button>
                            )}
                            {w.source === "ui" && (
                              <>
                                <button
                                  type="button"
                                  className={smallButtonClass}
                                  onClick={() => setForm({ mode: "edit", webhook: w })}
                                  aria-label={`Edit ${w.name}`}
                                >
                                  Edit
                                </button>
                                {!stopped && (
                                  <button
                                    type="button"
                                    className={smallButtonClass}
                                    disabled={busyRow === w.id}
                                    onClick={() =>
                                      patch(
                                        w,
                                        { enabled: !w.enabled },
                                        w.enabled ? `${w.name} disabled: nothing is sent to it.` : `${w.name} enabled.`,
                                      )
                                    }
                                  >
                                    {w.enabled ? "Disable" : "Enable"}
                                  </button>
                                )}
                              </>
                            )}
                          </span>
                        ) : w.source !== "ui" ? (
                          <span className="text-xs text-zinc-400">read-only</span>
                        ) : null}
                      </td>
                    </tr>
                    {test && !test.running && (
                      <tr className={rowClass}>
                        <td colSpan={4} className="px-3 pb-3">
                          <WebhookTestReport state={test} />
                        </td>
                      </tr>
                    )}
                  </Fragment>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function WebhookTestReport({ state }: { state: Exclude<TestState, { running: true }> }) {
  if ("error" in state) {
    return (
      <Notice tone="bad" role="alert">
        Test not sent: {state.error}
      </Notice>
    );
  }
  const r = state.result;
  return (
    <Notice tone={r.delivered ? "good" : "bad"} role="status" testId="webhook-test-result">
      {r.delivered ? (
        <>
          Test notification delivered: the receiver answered <strong>HTTP {r.statusCode}</strong> in {r.durationMs} ms.
        </>
      ) : r.statusCode !== null ? (
        <>
          The receiver answered <strong>HTTP {r.statusCode}</strong> in {r.durationMs} ms: {r.error}
        </>
      ) : (
        <>
          Not delivered after {r.durationMs} ms: {r.error}
        </>
      )}
      <span className="mt-0.5 block text-xs">
        {r.signed ? "Signed" : "Unsigned"}; webhook-id <code>{r.messageId}</code>, alertname BrokerwatchTest. Sent once,
        outside the delivery queue.
      </span>
    </Notice>
  );
}

const FORM_FIELDS = ["name", "url", "secret", "headers", "groupBy", "groupWait", "repeatInterval"] as const;
type FormField = (typeof FORM_FIELDS)[number];

/** "Name: value" lines into a header map; the line number of the first bad line otherwise. */
function parseHeaders(text: string): Record<string, string> | { badLine: number } {
  const headers: Record<string, string> = {};
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    const colon = line.indexOf(":");
    if (colon <= 0) return { badLine: i + 1 };
    headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return headers;
}

/** A Standard Webhooks secret: whsec_ + base64 of 32 random bytes, made in the browser. */
function generateSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `whsec_${btoa(String.fromCharCode(...bytes))}`;
}

function WebhookForm({
  webhook,
  onCancel,
  onSaved,
}: {
  webhook: WebhookSettingsView | null;
  onCancel: () => void;
  onSaved: (message: string) => void;
}) {
  const id = useId();
  const editing = webhook !== null;
  const [values, setValues] = useState<Record<FormField, string>>({
    name: webhook?.name ?? "",
    url: webhook?.url ?? "",
    secret: "",
    headers: "",
    groupBy: webhook?.groupBy?.join(", ") ?? "",
    groupWait: formatDuration(webhook?.groupWaitSeconds, "spec"),
    repeatInterval: formatDuration(webhook?.repeatIntervalSeconds, "spec"),
  });
  const [sendResolved, setSendResolved] = useState(webhook?.sendResolved ?? true);
  const [removeSecret, setRemoveSecret] = useState(false);
  const [removeHeaders, setRemoveHeaders] = useState(false);
  const [error, setError] = useState<{ message: string; field: FormField | null } | null>(null);
  const [saving, setSaving] = useState(false);
  const formRef = useRef<HTMLFormElement>(null);

  useEffect(() => {
    formRef.current?.querySelector<HTMLInputElement>("input:not([readonly])")?.focus();
  }, []);
  useEffect(() => {
    if (error?.field) document.getElementById(`${id}-${error.field}`)?.focus();
  }, [error, id]);

  const set = (field: FormField) => (event: { target: { value: string } }) =>
    setValues((v) => ({ ...v, [field]: event.target.value }));

  async function save(event: FormEvent) {
    event.preventDefault();
    setError(null);
    const headers = parseHeaders(values.headers);
    if ("badLine" in headers) {
      setError({ message: `headers: line ${headers.badLine} is not "Name: value"`, field: "headers" });
      return;
    }
    const groupBy = values.groupBy
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    const body: Record<string, unknown> = {
      url: values.url,
      sendResolved,
      groupBy: groupBy.length ? groupBy : "",
      groupWait: values.groupWait,
      repeatInterval: values.repeatInterval,
    };
    // Write-only fields: left blank, an edit keeps what is stored.
    if (removeSecret) body.secret = null;
    else if (values.secret) body.secret = values.secret;
    if (removeHeaders) body.headers = null;
    else if (Object.keys(headers).length) body.headers = headers;
    setSaving(true);
    try {
      if (editing) {
        await callApi("PATCH", `/api/webhooks/${webhook.id}`, body);
        onSaved(`Saved ${webhook.name}.`);
      } else {
        await callApi("POST", "/api/webhooks", { name: values.name, ...body });
        onSaved(`Added ${values.name}. Send it a test notification to check the receiver.`);
      }
    } catch (err) {
      const param = err instanceof ApiFailure ? (err.parameter ?? "").split(/[.[]/)[0] : "";
      const field = FORM_FIELDS.includes(param as FormField) ? (param as FormField) : null;
      setError({ message: failureMessage(err), field });
    } finally {
      setSaving(false);
    }
  }

  const invalid = (field: FormField) =>
    error?.field === field ? { "aria-invalid": true as const, "aria-describedby": `${id}-error` } : {};
  const fieldError = (field: FormField) =>
    error?.field === field ? (
      <p id={`${id}-error`} role="alert" className="mt-1 text-xs font-medium text-red-700 dark:text-red-400">
        {error.message}
      </p>
    ) : null;

  return (
    <form
      ref={formRef}
      onSubmit={save}
      noValidate
      aria-label={editing ? `Edit webhook ${webhook.name}` : "Add a webhook"}
      className="mb-6 rounded-lg border border-zinc-200 bg-white p-4 dark:border-zinc-800 dark:bg-zinc-900"
    >
      <h3 className="mb-3 text-base font-semibold">{editing ? `Edit ${webhook.name}` : "Add a webhook"}</h3>
      <div className="grid gap-4 sm:grid-cols-2 lg:grid-cols-3">
        <Field
          label="Name"
          htmlFor={`${id}-name`}
          hint={editing ? "The receiver name; it cannot change." : "Sent as receiver."}
        >
          <input
            id={`${id}-name`}
            className={`${inputClass} read-only:bg-zinc-50 read-only:text-zinc-500 dark:read-only:bg-zinc-800`}
            value={values.name}
            onChange={set("name")}
            readOnly={editing}
            autoComplete="off"
            {...invalid("name")}
          />
          {fieldError("name")}
        </Field>
        <Field
          label="URL"
          htmlFor={`${id}-url`}
          hint="http:// or https://; redirects are not followed."
          className="lg:col-span-2"
        >
          <input
            id={`${id}-url`}
            className={`${inputClass} font-mono`}
            value={values.url}
            onChange={set("url")}
            placeholder="https://hooks.example.com/brokerwatch"
            autoComplete="off"
            spellCheck={false}
            {...invalid("url")}
          />
          {fieldError("url")}
        </Field>
        <Field
          label="Signing secret"
          htmlFor={`${id}-secret`}
          className="sm:col-span-2"
          hint={
            editing && webhook.signed
              ? "A secret is stored; it is never shown. Leave blank to keep it."
              : "whsec_… (Standard Webhooks). Give the receiver the same secret. Stored encrypted; never shown again."
          }
        >
          <div className="flex gap-2">
            <input
              id={`${id}-secret`}
              className={`${inputClass} font-mono text-xs`}
              value={values.secret}
              onChange={set("secret")}
              placeholder={editing && webhook.signed ? "•••••••• (stored)" : "whsec_…"}
              disabled={removeSecret}
              autoComplete="off"
              spellCheck={false}
              {...invalid("secret")}
            />
            <button
              type="button"
              className={secondaryButtonClass}
              disabled={removeSecret}
              onClick={() => setValues((v) => ({ ...v, secret: generateSecret() }))}
            >
              Generate
            </button>
          </div>
          {fieldError("secret")}
          {editing && webhook.signed && (
            <label className="mt-1.5 flex items-center gap-2 text-xs">
              <input
                type="checkbox"
                className={checkboxClass}
                checked={removeSecret}
                onChange={(e) => setRemoveSecret(e.target.checked)}
              />
              Remove the secret (deliveries become unsigned)
            </label>
          )}
        </Field>
        <div className="flex items-start pt-7">
          <label className="flex items-center gap-2 text-sm">
            <input
              type="checkbox"
              className={checkboxClass}
              checked={sendResolved}
              onChange={(e) => setSendResolved(e.target.checked)}
            />
            Also notify when alerts resolve
          </label>
        </div>
        <Field
          label="Headers"
          htmlFor={`${id}-headers`}
          className="sm:col-span-2 lg:col-span-3"
          hint={
            editing && webhook.headerNames.length
              ? `Stored: ${webhook.headerNames.join(", ")} (values are never shown). Leave blank to keep them; anything typed replaces them all.`
              : "Optional, one per line: Name: value. Values are stored and never shown again."
          }
        >
          <textarea
            id={`${id}-headers`}
            className={`${inputClass} font-mono text-xs`}
            rows={2}
            value={values.headers}
            onChange={set("headers")}
            disabled={removeHeaders}
            placeholder="Authorization: Basic …"
            spellCheck={false}
            {...invalid("headers")}
          />
          {fieldError("headers")}
          {editing && webhook.headerNames.length > 0 && (
            <label className="mt-1.5 flex items-center gap-2 text-xs">
              <input
                type="checkbox"
                className={checkboxClass}
                checked={removeHeaders}
                onChange={(e) => setRemoveHeaders(e.target.checked)}
              />
              Remove all headers
            </label>
          )}
        </Field>
        <Field
          label="Group by"
          htmlFor={`${id}-groupBy`}
          hint="Label names, comma-separated; default alertname, broker, cluster."
        >
          <input
            id={`${id}-groupBy`}
            className={inputClass}
            value={values.groupBy}
            onChange={set("groupBy")}
            {...invalid("groupBy")}
          />
          {fieldError("groupBy")}
        </Field>
        <Field
          label="Group wait"
          htmlFor={`${id}-groupWait`}
          hint="Wait before a new group's first notification, e.g. 30s."
        >
          <input
            id={`${id}-groupWait`}
            className={inputClass}
            value={values.groupWait}
            onChange={set("groupWait")}
            {...invalid("groupWait")}
          />
          {fieldError("groupWait")}
        </Field>
        <Field label="Repeat interval" htmlFor={`${id}-repeatInterval`} hint="Re-send a still-firing group, e.g. 4h.">
          <input
            id={`${id}-repeatInterval`}
            className={inputClass}
            value={values.repeatInterval}
            onChange={set("repeatInterval")}
            {...invalid("repeatInterval")}
          />
          {fieldError("repeatInterval")}
        </Field>
      </div>
      {error && !error.field && (
        <Notice tone="bad" role="alert" className="mt-4">
          {error.message}
        </Notice>
      )}
      <div className="mt-4 flex flex-wrap gap-2">
        <button type="submit" className={buttonClass} disabled={saving}>
          {saving && <Spinner />}
          {editing ? "Save changes" : "Add webhook"}
        </button>
        <button type="button" className={secondaryButtonClass} onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
