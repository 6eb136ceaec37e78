"use client";

import { useEffect, useState, type ReactNode } from "react";
import { StatusBadge } from "@/components/status-badge";
import { Time } from "@/components/time";
import { Badge, inputClass, rowClass, secondaryButtonClass, tdClass } from "@/components/ui";
import { BrokerSchema } from "@/lib/config/schema";
import type { BrokerSettingsView, ConnectionTestResult } from "@/lib/settings/views";
import { ApiFailure, callApi, failureMessage } from "./api";
import { checkboxClass, Notice, smallButtonClass, SourceBadge, Spinner } from "./parts";
import {
  SelectField,
  SettingsFormFrame,
  SettingsSection,
  SettingsTable,
  TextField,
  useRowEditor,
  useSettingsActions,
  useSettingsForm,
  withoutBlanks,
} from "./scaffold";

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
  "monitorUrl",
  "natsUrl",
] as const;
type FieldName = (typeof FIELDS)[number];
type Values = Record<FieldName, string> & { removePassword: boolean };
/** Fields most brokers leave empty, folded away until wanted. */
const ADVANCED_FIELDS: readonly { name: FieldName; label: string; hint: string; kind: "text" | "count" | "code" }[] = [
  { name: "cluster", label: "Cluster", hint: "Optional. Brokers sharing a cluster are its nodes.", kind: "text" },
  { name: "maxConnections", label: "Max connections", hint: "Capacity, for the saturation rule.", kind: "count" },
  { name: "expectedNodes", label: "Expected nodes", hint: "Cluster size the node-down rule expects.", kind: "count" },
  {
    name: "sysTopicPrefix",
    label: "$SYS topic prefix",
    hint: "Only for a $SYS tree bridged under a prefix, e.g. plant-a/",
    kind: "code",
  },
  { name: "clientId", label: "Client ID", hint: "Optional; when the broker's ACL keys on it.", kind: "code" },
];
const ADVANCED = ADVANCED_FIELDS.map((f) => f.name);

const DIALECTS = [
  { value: "auto", label: "auto (detect from $SYS)" },
  { value: "mosquitto", label: "Mosquitto" },
  { value: "emqx", label: "EMQX" },
  { value: "bundled", label: "brokerwatch bundled (Aedes)" },
  { value: "nats", label: "NATS (MQTT listener; read from its monitoring port)" },
];

export function BrokerSettings({ brokers, canEdit }: { brokers: BrokerSettingsView[]; canEdit: boolean }) {
  const { status, busyRow, run, saved } = useSettingsActions<string>();
  const editor = useRowEditor<BrokerSettingsView>(saved);

  const setEnabled = (broker: BrokerSettingsView, enabled: boolean) =>
    run(
      broker.name,
      () => callApi("PATCH", `/api/brokers/${encodeURIComponent(broker.name)}`, { enabled }),
      enabled
        ? `${broker.name} enabled: its collector is connecting.`
        : `${broker.name} disabled: no longer monitored.`,
    );

  return (
    <SettingsSection
      title="Brokers"
      description="The MQTT brokers brokerwatch watches. Brokers from brokerwatch.yaml and the bundled broker are read-only here."
      add={!editor.open ? { label: "Add broker", onClick: editor.add } : null}
      canEdit={canEdit}
      what="the brokers"
      status={status}
      form={
        editor.open && (
          <BrokerForm key={editor.open.row?.name ?? "add"} broker={editor.open.row} {...editor.formProps} />
        )
      }
    >
      <SettingsTable
        columns={["Broker", "URL", "Dialect", "Status", "Last seen"]}
        minWidth="min-w-[48rem]"
        rowCount={brokers.length}
        empty={
          <>No brokers yet. {canEdit ? "Add one above, or list them in brokerwatch.yaml." : "An admin can add one."}</>
        }
      >
        {brokers.map((b) => (
          <tr key={b.name} className={rowClass} data-broker-row={b.name}>
            <td className={tdClass}>
              <div className="flex flex-wrap items-center gap-1.5">
                <span className="font-medium">{b.name}</span>
                <SourceBadge source={b.source} />
              </div>
              {(b.cluster || b.username) && (
                <div className="mt-0.5 text-xs text-zinc-600 dark:text-zinc-400">
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
              {b.version && <div className="text-xs text-zinc-600 dark:text-zinc-400">version {b.version}</div>}
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
                    onClick={() => editor.edit(b)}
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
                  className="text-xs text-zinc-600 dark:text-zinc-400"
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
      </SettingsTable>
    </SettingsSection>
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
    monitorUrl: text(broker?.monitorUrl),
    natsUrl: text(broker?.natsUrl),
    removePassword: false,
  };
}

/** The form's fields as the API reads them: blanks left out, the password only when it is kept. */
function brokerBody({ removePassword, ...values }: Values): Record<string, unknown> {
  return withoutBlanks(removePassword ? { ...values, password: "" } : values);
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
  const editing = broker !== null;
  const form = useSettingsForm<Values>({
    schema: BrokerSchema,
    defaultValues: initialValues(broker),
    toBody: brokerBody,
  });
  const { errors } = form.formState;
  const [testing, setTesting] = useState(false);
  const [test, setTest] = useState<ConnectionTestResult | null>(null);
  const [testError, setTestError] = useState<string | null>(null);
  const [advancedOpen, setAdvancedOpen] = useState(() => ADVANCED.some((f) => initialValues(broker)[f] !== ""));
  const [removePassword, url, dialect] = form.watch(["removePassword", "url", "dialect"]);

  // An error in a folded-away field opens the fold, then takes the focus there.
  const advancedError = ADVANCED.find((f) => errors[f]);
  useEffect(() => {
    if (!advancedError) return;
    setAdvancedOpen(true);
    requestAnimationFrame(() => document.getElementById(form.fieldId(advancedError))?.focus());
  }, [advancedError, errors, form]);

  const save = form.submitWith(async (values) => {
    if (editing) {
      const { name: _name, password, removePassword, ...rest } = values;
      await callApi("PATCH", `/api/brokers/${encodeURIComponent(broker.name)}`, {
        ...rest,
        password: removePassword ? null : password,
      });
      onSaved(`Saved ${broker.name}; its collector reconnects if the connection settings changed.`);
    } else {
      const { removePassword: _keep, ...body } = values;
      await callApi("POST", "/api/brokers", body);
      onSaved(`Added ${values.name}; its collector is connecting.`);
    }
  });

  async function testConnection() {
    const values = form.getValues();
    setTesting(true);
    setTest(null);
    setTestError(null);
    try {
      const { result } = await callApi<{ result: ConnectionTestResult }>("POST", "/api/brokers/test", {
        url: values.url,
        username: values.username,
        password: values.removePassword ? "" : values.password,
        sysTopicPrefix: values.sysTopicPrefix,
        // the stored password is used when the field is left blank
        ...(editing && !values.removePassword ? { name: broker.name } : {}),
      });
      setTest(result);
    } catch (err) {
      setTestError(failureMessage(err));
      if (err instanceof ApiFailure && FIELDS.includes(err.parameter as FieldName)) {
        form.setError(err.parameter as FieldName, { type: "server", message: err.message }, { shouldFocus: true });
      }
    } finally {
      setTesting(false);
    }
  }

  return (
    <SettingsFormFrame
      form={form}
      onSubmit={save}
      label={editing ? `Edit broker ${broker.name}` : "Add a broker"}
      title={editing ? `Edit ${broker.name}` : "Add a broker"}
      submitLabel={editing ? "Save changes" : "Add broker"}
      onCancel={onCancel}
      focusFirst
      buttons={
        <button
          type="button"
          className={secondaryButtonClass}
          disabled={testing || url === ""}
          onClick={testConnection}
        >
          {testing && <Spinner />}
          Test connection
        </button>
      }
      after={
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
          {test && <ConnectionTestReport result={test} configuredDialect={dialect} />}
        </div>
      }
    >
      <div className="grid gap-4 sm:grid-cols-2 lg:grid-cols-3">
        <TextField
          form={form}
          name="name"
          label="Name"
          hint={
            editing
              ? "The broker label of its history; it cannot change."
              : "Letters, digits, “-”, “_” or “.”; the broker label everywhere."
          }
          inputClassName={`${inputClass} read-only:bg-zinc-50 read-only:text-zinc-500 dark:read-only:bg-zinc-800`}
          readOnly={editing}
          required
          autoComplete="off"
        />
        <TextField
          form={form}
          name="url"
          label="URL"
          hint="mqtt://, mqtts://, ws:// or wss://"
          className="sm:col-span-1 lg:col-span-2"
          inputClassName={`${inputClass} font-mono`}
          placeholder="mqtt://10.0.0.5:1883"
          required
          autoComplete="off"
          spellCheck={false}
        />
        <SelectField
          form={form}
          name="dialect"
          label="Dialect"
          hint="How brokerwatch reads the broker's $SYS topics."
          options={DIALECTS}
        />
        {dialect === "nats" && (
          <>
            <TextField
              form={form}
              name="monitorUrl"
              label="Monitoring URL"
              hint="Required for NATS: its http: monitoring port (liveness, metrics, ClientID events)."
              inputClassName={`${inputClass} font-mono`}
              placeholder="http://10.0.0.5:8222"
              autoComplete="off"
              spellCheck={false}
            />
            <TextField
              form={form}
              name="natsUrl"
              label="NATS URL"
              hint="Optional: the client port, for pushed events; Username/Password are then a system-account user."
              inputClassName={`${inputClass} font-mono`}
              placeholder="nats://10.0.0.5:4222"
              autoComplete="off"
              spellCheck={false}
            />
          </>
        )}
        <TextField
          form={form}
          name="username"
          label="Username"
          hint={dialect === "nats" ? "With a NATS URL: a user of the system account." : "Optional. Needs read access to $SYS/#."}
          autoComplete="off"
        />
        <TextField
          form={form}
          name="password"
          label="Password"
          hint={
            editing && broker.hasPassword
              ? "A password is stored; it is never shown. Leave blank to keep it."
              : "Optional. Stored encrypted and never shown again."
          }
          type="password"
          placeholder={editing && broker.hasPassword ? "•••••••• (stored)" : ""}
          disabled={removePassword}
          autoComplete="new-password"
        >
          {editing && broker.hasPassword && (
            <label className="mt-1.5 flex items-center gap-2 text-xs">
              <input type="checkbox" className={checkboxClass} {...form.register("removePassword")} />
              Remove the stored password
            </label>
          )}
        </TextField>
        <details
          open={advancedOpen}
          onToggle={(e) => setAdvancedOpen(e.currentTarget.open)}
          className="sm:col-span-2 lg:col-span-3"
        >
          <summary className="cursor-pointer text-sm font-medium text-sky-700 select-none focus-visible:outline-2 focus-visible:outline-sky-500 dark:text-sky-400">
            Cluster, capacity and advanced options
          </summary>
          <div className="mt-3 grid gap-4 sm:grid-cols-2 lg:grid-cols-3">
            {ADVANCED_FIELDS.map(({ name, label, hint, kind }) => (
              <TextField
                key={name}
                form={form}
                name={name}
                label={label}
                hint={hint}
                inputMode={kind === "count" ? "numeric" : undefined}
                inputClassName={kind === "code" ? `${inputClass} font-mono` : inputClass}
                spellCheck={kind === "code" ? false : undefined}
              />
            ))}
          </div>
        </details>
      </div>
    </SettingsFormFrame>
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
      <dt className="text-zinc-600 dark:text-zinc-400">{term}</dt>
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
