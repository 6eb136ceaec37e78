"use client";

import { useRouter } from "next/navigation";
import { useEffect, useId, useRef, useState, type FormEvent, type ReactNode } from "react";
import { StatusBadge } from "@/components/status-badge";
import { Time } from "@/components/time";
import {
  Badge,
  buttonClass,
  EmptyState,
  inputClass,
  rowClass,
  secondaryButtonClass,
  tableClass,
  tdClass,
  thClass,
} from "@/components/ui";
import type { BrokerSettingsView, ConnectionTestResult } from "@/lib/settings/views";
import { ApiFailure, callApi, failureMessage } from "./api";
import {
  checkboxClass,
  Field,
  Notice,
  ReadOnlyNote,
  SectionHeader,
  selectClass,
  smallButtonClass,
  SourceBadge,
  Spinner,
  StatusNotice,
} from "./parts";

const FIELDS = [
  "name",
  "url",
  "dialect",
  "username",
  "password",
  "cluster",
  "maxConnections",
  "expectedNodes",
  "sysTopicPrefix",
  "clientId",
] as const;
type FieldName = (typeof FIELDS)[number];
type Values = Record<FieldName, string>;
/** Fields most brokers leave empty, folded away until wanted. */
const ADVANCED: readonly FieldName[] = ["cluster", "maxConnections", "expectedNodes", "sysTopicPrefix", "clientId"];

const DIALECTS = [
  { value: "auto", label: "auto (detect from $SYS)" },
  { value: "mosquitto", label: "Mosquitto" },
  { value: "emqx", label: "EMQX" },
  { value: "bundled", label: "brokerwatch bundled (Aedes)" },
];

type Status = { tone: "good" | "bad"; text: string } | null;

export function BrokerSettings({ brokers, canEdit }: { brokers: BrokerSettingsView[]; canEdit: boolean }) {
  const router = useRouter();
  const [form, setForm] = useState<{ mode: "add" } | { mode: "edit"; broker: BrokerSettingsView } | null>(null);
  const [status, setStatus] = useState<Status>(null);
  const [busyRow, setBusyRow] = useState<string | null>(null);

  async function setEnabled(broker: BrokerSettingsView, enabled: boolean) {
    setBusyRow(broker.name);
    setStatus(null);
    try {
      await callApi("PATCH", `/api/brokers/${encodeURIComponent(broker.name)}`, { enabled });
      setStatus({
        tone: "good",
        text: enabled
          ? `${broker.name} enabled: its collector is connecting.`
          : `${broker.name} disabled: no longer monitored.`,
      });
      router.refresh();
    } catch (err) {
      setStatus({ tone: "bad", text: failureMessage(err) });
    } finally {
      setBusyRow(null);
    }
  }

  return (
    <section aria-labelledby="brokers-heading">
      <SectionHeader
        title="Brokers"
        description="The MQTT brokers brokerwatch watches. Brokers from brokerwatch.yaml and the bundled broker are read-only here."
        actions={
          canEdit && !form ? (
            <button type="button" className={buttonClass} onClick={() => setForm({ mode: "add" })}>
              Add broker
            </button>
          ) : undefined
        }
      />
      {!canEdit && <ReadOnlyNote what="the brokers" />}
      <StatusNotice status={status} />
      {form && (
        <BrokerForm
          key={form.mode === "edit" ? form.broker.name : "add"}
          broker={form.mode === "edit" ? form.broker : null}
          onCancel={() => setForm(null)}
          onSaved={(text) => {
            setForm(null);
            setStatus({ tone: "good", text });
            router.refresh();
          }}
        />
      )}
      {brokers.length === 0 ? (
        <EmptyState>
          No brokers yet. {canEdit ? "Add one above, or list them in brokerwatch.yaml." : "An admin can add one."}
        </EmptyState>
      ) : (
        <div className="relative overflow-x-auto rounded-lg border border-zinc-200 bg-white dark:border-zinc-800 dark:bg-zinc-900">
          <table className={`${tableClass} min-w-[48rem]`}>
            <thead className="border-b border-zinc-200 dark:border-zinc-800">
              <tr>
                <th className={thClass}>Broker</th>
                <th className={thClass}>URL</th>
                <th className={thClass}>Dialect</th>
                <th className={thClass}>Status</th>
                <th className={thClass}>Last seen</th>
                <th className={`${thClass} text-right`}>
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {brokers.map((b) => (
                <tr key={b.name} className={rowClass} data-broker-row={b.name}>
                  <td className={tdClass}>
                    <div className="flex flex-wrap items-center gap-1.5">
                      <span className="font-medium">{b.name}</span>
                      <SourceBadge source={b.source} />
                    </div>
                    {(b.cluster || b.username) && (
                      <div className="mt-0.5 text-xs text-zinc-500">
                        {b.cluster && <>cluster {b.cluster}</>}
                        {b.cluster && b.username && " · "}
                        {b.username && (
                          <>
                            user {b.username}
                            {b.hasPassword ? " (password stored)" : ""}
                          </>
                        )}
                      </div>
                    )}
                  </td>
                  <td className={`${tdClass} font-mono text-xs break-all`}>{b.url}</td>
                  <td className={tdClass}>
                    {b.dialect === "auto" ? (
                      <span title="detected from the broker's $SYS topics">
                        auto → {b.detectedDialect ?? "not yet known"}
                      </span>
                    ) : (
                      b.dialect
                    )}
                    {b.version && <div className="text-xs text-zinc-500">version {b.version}</div>}
                  </td>
                  <td className={tdClass}>
                    {b.enabled ? <StatusBadge status={b.status} /> : <Badge tone="neutral">disabled</Badge>}
                  </td>
                  <td className={`${tdClass} whitespace-nowrap`}>
                    <Time value={b.lastSeenAt} relative />
                  </td>
                  <td className={`${tdClass} text-right whitespace-nowrap`}>
                    {canEdit && b.source === "ui" ? (
                      <span className="inline-flex gap-1">
                        <button
                          type="button"
                          className={smallButtonClass}
                          onClick={() => setForm({ mode: "edit", broker: b })}
                          aria-label={`Edit ${b.name}`}
                        >
                          Edit
                        </button>
                        <button
                          type="button"
                          className={smallButtonClass}
                          disabled={busyRow === b.name}
                          onClick={() => setEnabled(b, !b.enabled)}
                          aria-label={`${b.enabled ? "Disable" : "Enable"} ${b.name}`}
                        >
                          {busyRow === b.name && <Spinner />}
                          {b.enabled ? "Disable" : "Enable"}
                        </button>
                      </span>
                    ) : b.source !== "ui" ? (
                      <span
                        className="text-xs text-zinc-400"
                        title={
                          b.source === "file"
                            ? "Change it in brokerwatch.yaml and restart brokerwatch"
                            : "The bundled broker is built in (BUNDLED_BROKER=off turns it off)"
                        }
                      >
                        read-only
                      </span>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function initialValues(broker: BrokerSettingsView | null): Values {
  const text = (v: string | number | null | undefined) => (v === null || v === undefined ? "" : String(v));
  return {
    name: text(broker?.name),
    url: text(broker?.url),
    dialect: broker?.dialect ?? "auto",
    username: text(broker?.username),
    password: "",
    cluster: text(broker?.cluster),
    maxConnections: text(broker?.maxConnections),
    expectedNodes: text(broker?.expectedNodes),
    sysTopicPrefix: text(broker?.sysTopicPrefix),
    clientId: text(broker?.clientId),
  };
}

function BrokerForm({
  broker,
  onCancel,
  onSaved,
}: {
  broker: BrokerSettingsView | null;
  onCancel: () => void;
  onSaved: (message: string) => void;
}) {
  const id = useId();
  const editing = broker !== null;
  const [values, setValues] = useState<Values>(() => initialValues(broker));
  const [removePassword, setRemovePassword] = useState(false);
  const [error, setError] = useState<{ message: string; field: FieldName | null } | null>(null);
  const [saving, setSaving] = useState(false);
  const [testing, setTesting] = useState(false);
  const [test, setTest] = useState<ConnectionTestResult | null>(null);
  const [testError, setTestError] = useState<string | null>(null);
  const formRef = useRef<HTMLFormElement>(null);
  const [advancedOpen, setAdvancedOpen] = useState(() => ADVANCED.some((f) => initialValues(broker)[f] !== ""));

  useEffect(() => {
    formRef.current?.querySelector<HTMLInputElement>("input:not([readonly])")?.focus();
  }, []);

  useEffect(() => {
    if (!error?.field) return;
    if (ADVANCED.includes(error.field)) setAdvancedOpen(true);
    // after the details element has opened
    requestAnimationFrame(() => document.getElementById(`${id}-${error.field}`)?.focus());
  }, [error, id]);

  const set = (field: FieldName) => (event: { target: { value: string } }) =>
    setValues((v) => ({ ...v, [field]: event.target.value }));

  function invalid(field: FieldName) {
    return error?.field === field
      ? { "aria-invalid": true as const, "aria-describedby": `${id}-error` }
      : { "aria-describedby": `${id}-${field}-hint` };
  }

  async function save(event: FormEvent) {
    event.preventDefault();
    setSaving(true);
    setError(null);
    try {
      if (editing) {
        const { name: _name, password, ...rest } = values;
        await callApi("PATCH", `/api/brokers/${encodeURIComponent(broker.name)}`, {
          ...rest,
          password: removePassword ? null : password,
        });
        onSaved(`Saved ${broker.name}; its collector reconnects if the connection settings changed.`);
      } else {
        await callApi("POST", "/api/brokers", values);
        onSaved(`Added ${values.name}; its collector is connecting.`);
      }
    } catch (err) {
      const field =
        err instanceof ApiFailure && FIELDS.includes(err.parameter as FieldName) ? (err.parameter as FieldName) : null;
      setError({ message: failureMessage(err), field });
    } finally {
      setSaving(false);
    }
  }

  async function testConnection() {
    setTesting(true);
    setTest(null);
    setTestError(null);
    try {
      const { result } = await callApi<{ result: ConnectionTestResult }>("POST", "/api/brokers/test", {
        url: values.url,
        username: values.username,
        password: removePassword ? "" : values.password,
        sysTopicPrefix: values.sysTopicPrefix,
        // the stored password is used when the field is left blank
        ...(editing && !removePassword ? { name: broker.name } : {}),
      });
      setTest(result);
    } catch (err) {
      setTestError(failureMessage(err));
      if (err instanceof ApiFailure && FIELDS.includes(err.parameter as FieldName)) {
        setError({ message: err.message, field: err.parameter as FieldName });
      }
    } finally {
      setTesting(false);
    }
  }

  const fieldError = (field: FieldName) =>
    error?.field === field ? (
      <p id={`${id}-error`} className="mt-1 text-xs font-medium text-red-700 dark:text-red-400">
        {error.message}
      </p>
    ) : null;

  return (
    <form
      ref={formRef}
      onSubmit={save}
      aria-label={editing ? `Edit broker ${broker.name}` : "Add a broker"}
      className="mb-6 rounded-lg border border-zinc-200 bg-white p-4 dark:border-zinc-800 dark:bg-zinc-900"
      noValidate
    >
      <h3 className="mb-3 text-base font-semibold">{editing ? `Edit ${broker.name}` : "Add a broker"}</h3>
      <div className="grid gap-4 sm:grid-cols-2 lg:grid-cols-3">
        <Field
          label="Name"
          htmlFor={`${id}-name`}
          hint={
            editing
              ? "The broker label of its history; it cannot change."
              : "Letters, digits, “-”, “_” or “.”; the broker label everywhere."
          }
        >
          <input
            id={`${id}-name`}
            className={`${inputClass} read-only:bg-zinc-50 read-only:text-zinc-500 dark:read-only:bg-zinc-800`}
            value={values.name}
            onChange={set("name")}
            readOnly={editing}
            required
            autoComplete="off"
            {...invalid("name")}
          />
          {fieldError("name")}
        </Field>
        <Field
          label="URL"
          htmlFor={`${id}-url`}
          hint="mqtt://, mqtts://, ws:// or wss://"
          className="sm:col-span-1 lg:col-span-2"
        >
          <input
            id={`${id}-url`}
            className={`${inputClass} font-mono`}
            value={values.url}
            onChange={set("url")}
            placeholder="mqtt://10.0.0.5:1883"
            required
            autoComplete="off"
            spellCheck={false}
            {...invalid("url")}
          />
          {fieldError("url")}
        </Field>
        <Field label="Dialect" htmlFor={`${id}-dialect`} hint="How brokerwatch reads the broker's $SYS topics.">
          <select
            id={`${id}-dialect`}
            className={selectClass}
            value={values.dialect}
            onChange={set("dialect")}
            {...invalid("dialect")}
          >
            {DIALECTS.map((d) => (
              <option key={d.value} value={d.value}>
                {d.label}
              </option>
            ))}
          </select>
          {fieldError("dialect")}
        </Field>
        <Field label="Username" htmlFor={`${id}-username`} hint="Optional. Needs read access to $SYS/#.">
          <input
            id={`${id}-username`}
            className={inputClass}
            value={values.username}
            onChange={set("username")}
            autoComplete="off"
            {...invalid("username")}
          />
          {fieldError("username")}
        </Field>
        <Field
          label="Password"
          htmlFor={`${id}-password`}
          hint={
            editing && broker.hasPassword
              ? "A password is stored; it is never shown. Leave blank to keep it."
              : "Optional. Stored encrypted and never shown again."
          }
        >
          <input
            id={`${id}-password`}
            type="password"
            className={inputClass}
            value={values.password}
            onChange={set("password")}
            placeholder={editing && broker.hasPassword ? "•••••••• (stored)" : ""}
            disabled={removePassword}
            autoComplete="new-password"
            {...invalid("password")}
          />
          {fieldError("password")}
          {editing && broker.hasPassword && (
            <label className="mt-1.5 flex items-center gap-2 text-xs">
              <input
                type="checkbox"
                className={checkboxClass}
                checked={removePassword}
                onChange={(e) => setRemovePassword(e.target.checked)}
              />
              Remove the stored password
            </label>
          )}
        </Field>
        <details
          open={advancedOpen}
          onToggle={(e) => setAdvancedOpen(e.currentTarget.open)}
          className="sm:col-span-2 lg:col-span-3"
        >
          <summary className="cursor-pointer text-sm font-medium text-sky-700 select-none focus-visible:outline-2 focus-visible:outline-sky-500 dark:text-sky-400">
            Cluster, capacity and advanced options
          </summary>
          <div className="mt-3 grid gap-4 sm:grid-cols-2 lg:grid-cols-3">
            <Field label="Cluster" htmlFor={`${id}-cluster`} hint="Optional. Brokers sharing a cluster are its nodes.">
              <input
                id={`${id}-cluster`}
                className={inputClass}
                value={values.cluster}
                onChange={set("cluster")}
                {...invalid("cluster")}
              />
              {fieldError("cluster")}
            </Field>
            <Field label="Max connections" htmlFor={`${id}-maxConnections`} hint="Capacity, for the saturation rule.">
              <input
                id={`${id}-maxConnections`}
                className={inputClass}
                inputMode="numeric"
                value={values.maxConnections}
                onChange={set("maxConnections")}
                {...invalid("maxConnections")}
              />
              {fieldError("maxConnections")}
            </Field>
            <Field
              label="Expected nodes"
              htmlFor={`${id}-expectedNodes`}
              hint="Cluster size the node-down rule expects."
            >
              <input
                id={`${id}-expectedNodes`}
                className={inputClass}
                inputMode="numeric"
                value={values.expectedNodes}
                onChange={set("expectedNodes")}
                {...invalid("expectedNodes")}
              />
              {fieldError("expectedNodes")}
            </Field>
            <Field
              label="$SYS topic prefix"
              htmlFor={`${id}-sysTopicPrefix`}
              hint="Only for a $SYS tree bridged under a prefix, e.g. plant-a/"
            >
              <input
                id={`${id}-sysTopicPrefix`}
                className={`${inputClass} font-mono`}
                value={values.sysTopicPrefix}
                onChange={set("sysTopicPrefix")}
                spellCheck={false}
                {...invalid("sysTopicPrefix")}
              />
              {fieldError("sysTopicPrefix")}
            </Field>
            <Field label="Client ID" htmlFor={`${id}-clientId`} hint="Optional; when the broker's ACL keys on it.">
              <input
                id={`${id}-clientId`}
                className={`${inputClass} font-mono`}
                value={values.clientId}
                onChange={set("clientId")}
                spellCheck={false}
                {...invalid("clientId")}
              />
              {fieldError("clientId")}
            </Field>
          </div>
        </details>
      </div>

      {error && !error.field && (
        <Notice tone="bad" role="alert" className="mt-4">
          {error.message}
        </Notice>
      )}
      {error?.field && (
        <p role="alert" className="sr-only">
          {error.message}
        </p>
      )}

      <div aria-live="polite">
        {testing && (
          <Notice className="mt-4" role="status">
            <Spinner /> Connecting and listening on $SYS/# (up to 8 s)…
          </Notice>
        )}
        {testError && (
          <Notice tone="bad" role="alert" className="mt-4">
            Test failed: {testError}
          </Notice>
        )}
        {test && <ConnectionTestReport result={test} configuredDialect={values.dialect} />}
      </div>

      <div className="mt-4 flex flex-wrap gap-2">
        <button type="submit" className={buttonClass} disabled={saving}>
          {saving && <Spinner />}
          {editing ? "Save changes" : "Add broker"}
        </button>
        <button
          type="button"
          className={secondaryButtonClass}
          disabled={testing || values.url === ""}
          onClick={testConnection}
        >
          {testing && <Spinner />}
          Test connection
        </button>
        <button type="button" className={secondaryButtonClass} onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

const ERROR_KIND_LABEL: Record<string, string> = {
  refused: "connection refused",
  bad_credentials: "bad credentials",
  timeout: "timeout",
  dns: "unknown host",
  tls: "TLS error",
  protocol: "protocol",
  closed: "closed",
  other: "error",
};

function Row({ term, children }: { term: string; children: ReactNode }) {
  return (
    <div className="grid grid-cols-[10rem_1fr] gap-2 py-1 max-sm:grid-cols-1 max-sm:gap-0">
      <dt className="text-zinc-500">{term}</dt>
      <dd className="min-w-0">{children}</dd>
    </div>
  );
}

export function ConnectionTestReport({
  result,
  configuredDialect,
}: {
  result: ConnectionTestResult;
  configuredDialect: string;
}) {
  const tone = !result.connected ? "bad" : result.sysReadable ? "good" : "warn";
  const mismatch =
    result.detectedDialect && configuredDialect !== "auto" && configuredDialect !== result.detectedDialect;
  return (
    <Notice tone={tone} className="mt-4" testId="connection-test-result">
      <dl className="text-sm">
        <Row term="Connection">
          {result.connected ? (
            <span data-testid="test-connected">Connected in {result.connectMs} ms</span>
          ) : (
            <span data-testid="test-error">
              <Badge tone="bad">{ERROR_KIND_LABEL[result.error?.kind ?? "other"]}</Badge>{" "}
              {result.error?.message ?? "not connected"}
            </span>
          )}
        </Row>
        {result.connected && (
          <>
            <Row term="Broker version">
              <span data-testid="test-version">{result.version ?? "not reported"}</span>
            </Row>
            <Row term="Detected dialect">
              <span data-testid="test-dialect">{result.detectedDialect ?? "not recognised"}</span>
              {mismatch && (
                <span className="block text-xs">
                  Configured as {configuredDialect}, but the broker looks like {result.detectedDialect}: choose{" "}
                  {result.detectedDialect} or auto.
                </span>
              )}
            </Row>
            <Row term="$SYS readable">
              <span data-testid="test-sys">
                {result.sysReadable
                  ? `yes — ${result.sysMessages} message${result.sysMessages === 1 ? "" : "s"} on ${result.topic} in ${result.listenedMs} ms`
                  : `no — nothing arrived on ${result.topic} in ${(result.listenedMs / 1000).toFixed(1)} s`}
              </span>
              {!result.sysReadable && (
                <span className="block text-xs">
                  {result.subscribeRefused ? "The broker refused the subscription. " : ""}
                  brokerwatch reads metrics and client events from $SYS/#: allow this user to read it in the
                  broker&apos;s ACL (EMQX lets only the dashboard user read $SYS by default), or check the prefix.
                </span>
              )}
            </Row>
          </>
        )}
      </dl>
    </Notice>
  );
}
