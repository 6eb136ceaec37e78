"use client";

import { Fragment, useState } from "react";
import type { z } from "zod";
import {
  Badge,
  buttonClass,
  formatDuration,
  inputClass,
  rowClass,
  secondaryButtonClass,
  tdClass,
} from "@/components/ui";
import { WebhookSchema } from "@/lib/config/schema";
import { ClockTime } from "@/components/time";
import type { ReceiverHealth } from "@/lib/notify/health";
import type { WebhookSettingsView, WebhookTestResult } from "@/lib/settings/views";
import { callApi, failureMessage } from "./api";
import { parsePairLines } from "./pairs";
import { checkboxClass, Field, Notice, smallButtonClass, SourceBadge, Spinner } from "./parts";
import {
  FieldError,
  fieldProps,
  SettingsFormFrame,
  SettingsSection,
  SettingsTable,
  TextField,
  useRowEditor,
  useSettingsActions,
  useSettingsForm,
  withoutBlanks,
} from "./scaffold";

type TestState = { running: true } | { running: false; result: WebhookTestResult } | { running: false; error: string };

export function WebhookSettings({ webhooks, canEdit }: { webhooks: WebhookSettingsView[]; canEdit: boolean }) {
  const { status, busyRow, run, saved } = useSettingsActions<number>();
  const editor = useRowEditor<WebhookSettingsView>(saved);
  const [tests, setTests] = useState<Record<number, TestState>>({});

  const patch = (webhook: WebhookSettingsView, body: Record<string, unknown>, done: string) =>
    run(webhook.id, () => callApi("PATCH", `/api/webhooks/${webhook.id}`, body), done);

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
    <SettingsSection
      title="Webhooks"
      description="Receivers of alert notifications, in Alertmanager's webhook format and signed per Standard Webhooks. Webhooks from brokerwatch.yaml are read-only here."
      add={!editor.open ? { label: "Add webhook", onClick: editor.add } : null}
      canEdit={canEdit}
      what="the webhooks"
      status={status}
      form={
        editor.open && (
          <WebhookForm key={editor.open.row?.id ?? "add"} webhook={editor.open.row} {...editor.formProps} />
        )
      }
    >
      <SettingsTable
        columns={["Webhook", "URL", "Delivery"]}
        minWidth="min-w-[44rem]"
        rowCount={webhooks.length}
        empty={
          <>
            No webhooks yet: alerts are evaluated and shown, but nobody is notified.
            {canEdit ? " Add one above, or list them in brokerwatch.yaml." : ""}
          </>
        }
      >
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
                    {w.type !== "webhook" && (
                      <Badge tone="info" title="Receiver type (brokerwatch.yaml receivers:)">
                        {w.type}
                      </Badge>
                    )}
                  </div>
                  <div className="mt-0.5 text-xs text-zinc-600 dark:text-zinc-400">
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
                    ) : w.health?.state === "failing" ? (
                      <Badge tone="bad" title="The newest delivery attempt failed; notifications are retried with backoff">
                        failing
                      </Badge>
                    ) : w.health?.state === "delivering" ? (
                      <Badge tone="good" title="The newest delivery attempt was accepted">
                        delivering
                      </Badge>
                    ) : (
                      <Badge tone="neutral" title="Enabled; nothing has been sent to it yet">
                        enabled
                      </Badge>
                    )}
                    {w.type !== "webhook" ? null : w.signed ? (
                      <Badge tone="info" title="Signed per Standard Webhooks with the stored whsec_ secret">
                        signed
                      </Badge>
                    ) : (
                      <Badge tone="warn" title="No secret: the receiver cannot tell our requests from anyone's">
                        unsigned
                      </Badge>
                    )}
                  </div>
                  {w.health && <HealthLine health={w.health} />}
                  {stopped && (
                    <p className="mt-1 max-w-xs text-xs text-red-700 dark:text-red-400" data-testid="disabled-reason">
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
                            onClick={() => editor.edit(w)}
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
                    <span className="text-xs text-zinc-600 dark:text-zinc-400">read-only</span>
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
      </SettingsTable>
    </SettingsSection>
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

type Values = {
  name: string;
  url: string;
  secret: string;
  headers: string;
  groupBy: string;
  groupWait: string;
  repeatInterval: string;
  sendResolved: boolean;
  removeSecret: boolean;
  removeHeaders: boolean;
};

/** A Standard Webhooks secret: whsec_ + base64 of 32 random bytes, made in the browser. */
function generateSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `whsec_${btoa(String.fromCharCode(...bytes))}`;
}

/**
 * The request the form sends, less the name (which an edit cannot change). Write-only fields left
 * blank are not sent, so an edit keeps what is stored; null removes them.
 */
function webhookRequest(values: Values): { body: Record<string, unknown> } | { badLine: number } {
  const headers = parsePairLines(values.headers, ":");
  if ("badLine" in headers) return { badLine: Number(headers.badLine) };
  const groupBy = values.groupBy
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const body: Record<string, unknown> = {
    url: values.url,
    sendResolved: values.sendResolved,
    groupBy: groupBy.length ? groupBy : "",
    groupWait: values.groupWait,
    repeatInterval: values.repeatInterval,
  };
  if (values.removeSecret) body.secret = null;
  else if (values.secret) body.secret = values.secret;
  if (values.removeHeaders) body.headers = null;
  else if (Object.keys(headers).length) body.headers = headers;
  return { body };
}

/** What the API validates: the request as a whole definition, blanks and removals left out. */
function webhookBody(values: Values, ctx: z.core.$RefinementCtx): unknown {
  const request = webhookRequest(values);
  if ("badLine" in request) {
    ctx.addIssue({ code: "custom", path: ["headers"], message: `line ${request.badLine} is not "Name: value"` });
    return values;
  }
  return withoutBlanks({ name: values.name, ...request.body });
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
  const editing = webhook !== null;
  const form = useSettingsForm<Values>({
    schema: WebhookSchema,
    toBody: webhookBody,
    defaultValues: {
      name: webhook?.name ?? "",
      url: webhook?.url ?? "",
      secret: "",
      headers: "",
      groupBy: webhook?.groupBy?.join(", ") ?? "",
      groupWait: formatDuration(webhook?.groupWaitSeconds, "spec"),
      repeatInterval: formatDuration(webhook?.repeatIntervalSeconds, "spec"),
      sendResolved: webhook?.sendResolved ?? true,
      removeSecret: false,
      removeHeaders: false,
    },
  });
  const [removeSecret, removeHeaders] = form.watch(["removeSecret", "removeHeaders"]);

  const save = form.submitWith(async (values) => {
    const request = webhookRequest(values);
    // the resolver has refused a bad header line already
    if ("badLine" in request) return;
    if (editing) {
      await callApi("PATCH", `/api/webhooks/${webhook.id}`, request.body);
      onSaved(`Saved ${webhook.name}.`);
    } else {
      await callApi("POST", "/api/webhooks", { name: values.name, ...request.body });
      onSaved(`Added ${values.name}. Send it a test notification to check the receiver.`);
    }
  });

  return (
    <SettingsFormFrame
      form={form}
      onSubmit={save}
      label={editing ? `Edit webhook ${webhook.name}` : "Add a webhook"}
      title={editing ? `Edit ${webhook.name}` : "Add a webhook"}
      submitLabel={editing ? "Save changes" : "Add webhook"}
      onCancel={onCancel}
      focusFirst
    >
      <div className="grid gap-4 sm:grid-cols-2 lg:grid-cols-3">
        <TextField
          form={form}
          name="name"
          label="Name"
          hint={editing ? "The receiver name; it cannot change." : "Sent as receiver."}
          inputClassName={`${inputClass} read-only:bg-zinc-50 read-only:text-zinc-500 dark:read-only:bg-zinc-800`}
          readOnly={editing}
          autoComplete="off"
        />
        <TextField
          form={form}
          name="url"
          label="URL"
          hint="http:// or https://; redirects are not followed."
          className="lg:col-span-2"
          inputClassName={`${inputClass} font-mono`}
          placeholder="https://hooks.example.com/brokerwatch"
          autoComplete="off"
          spellCheck={false}
        />
        <Field
          label="Signing secret"
          htmlFor={form.fieldId("secret")}
          className="sm:col-span-2"
          hint={
            editing && webhook.signed
              ? "A secret is stored; it is never shown. Leave blank to keep it."
              : "whsec_… (Standard Webhooks). Give the receiver the same secret. Stored encrypted; never shown again."
          }
        >
          <div className="flex gap-2">
            <input
              className={`${inputClass} font-mono text-xs`}
              placeholder={editing && webhook.signed ? "•••••••• (stored)" : "whsec_…"}
              disabled={removeSecret}
              autoComplete="off"
              spellCheck={false}
              {...fieldProps(form, "secret", true)}
            />
            <button
              type="button"
              className={secondaryButtonClass}
              disabled={removeSecret}
              onClick={() => form.setValue("secret", generateSecret())}
            >
              Generate
            </button>
          </div>
          <FieldError form={form} name="secret" />
          {editing && webhook.signed && (
            <label className="mt-1.5 flex items-center gap-2 text-xs">
              <input type="checkbox" className={checkboxClass} {...form.register("removeSecret")} />
              Remove the secret (deliveries become unsigned)
            </label>
          )}
        </Field>
        <div className="flex items-start pt-7">
          <label className="flex items-center gap-2 text-sm">
            <input type="checkbox" className={checkboxClass} {...form.register("sendResolved")} />
            Also notify when alerts resolve
          </label>
        </div>
        <Field
          label="Headers"
          htmlFor={form.fieldId("headers")}
          className="sm:col-span-2 lg:col-span-3"
          hint={
            editing && webhook.headerNames.length
              ? `Stored: ${webhook.headerNames.join(", ")} (values are never shown). Leave blank to keep them; anything typed replaces them all.`
              : "Optional, one per line: Name: value. Values are stored and never shown again."
          }
        >
          <textarea
            className={`${inputClass} font-mono text-xs`}
            rows={2}
            disabled={removeHeaders}
            placeholder="Authorization: Basic …"
            spellCheck={false}
            {...fieldProps(form, "headers", true)}
          />
          <FieldError form={form} name="headers" />
          {editing && webhook.headerNames.length > 0 && (
            <label className="mt-1.5 flex items-center gap-2 text-xs">
              <input type="checkbox" className={checkboxClass} {...form.register("removeHeaders")} />
              Remove all headers
            </label>
          )}
        </Field>
        <TextField
          form={form}
          name="groupBy"
          label="Group by"
          hint="Label names, comma-separated; default alertname, broker, cluster."
        />
        <TextField
          form={form}
          name="groupWait"
          label="Group wait"
          hint="Wait before a new group's first notification, e.g. 30s."
        />
        <TextField
          form={form}
          name="repeatInterval"
          label="Repeat interval"
          hint="Re-send a still-firing group, e.g. 4h."
        />
      </div>
    </SettingsFormFrame>
  );
}

/** "failing since 22:25 · 0/12 delivered · HTTP 500" (counts over the last 24 h). */
export function HealthLine({ health: h }: { health: ReceiverHealth }) {
  if (h.total === 0 && h.state !== "failing") return null;
  const counts = `${h.delivered}/${h.total} delivered`;
  return (
    <p
      className={`mt-1 max-w-xs text-xs ${h.state === "failing" ? "text-red-700 dark:text-red-400" : "text-zinc-600 dark:text-zinc-400"}`}
      data-testid="receiver-health"
      title="Notifications of the last 24 hours"
    >
      {h.state === "failing" && h.failingSince ? (
        <>
          failing since <ClockTime value={h.failingSince} /> · {counts}
          {h.lastProblem && ` · ${h.lastProblem}`}
          {h.pending > 0 && ` · ${h.pending} waiting to retry`}
        </>
      ) : (
        counts
      )}
    </p>
  );
}
