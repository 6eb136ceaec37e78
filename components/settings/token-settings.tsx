"use client";

import { useEffect, useRef, useState } from "react";
import { Time } from "@/components/time";
import { Badge, buttonClass, inputClass, rowClass, secondaryButtonClass, tdClass } from "@/components/ui";
import { TokenCreateSchema } from "@/lib/settings/request-schemas";
import type { TokenView } from "@/lib/settings/views";
import { callApi } from "./api";
import { ConfirmButton } from "./confirm-button";
import { Notice } from "./parts";
import {
  SelectField,
  SettingsFormFrame,
  SettingsSection,
  SettingsTable,
  SubmitButton,
  TextField,
  useSettingsActions,
  useSettingsForm,
} from "./scaffold";

export function TokenSettings({ tokens, canEdit }: { tokens: TokenView[]; canEdit: boolean }) {
  const [created, setCreated] = useState<{ name: string; token: string } | null>(null);
  const { status, setStatus, run, router } = useSettingsActions<number>();

  const revoke = (token: TokenView) =>
    run(
      null,
      () => callApi("DELETE", `/api/tokens/${token.id}`),
      `Token "${token.name}" revoked: requests with it are refused from now on.`,
    );

  return (
    <SettingsSection
      title="API tokens"
      description={
        <>
          Send one as <code className="text-xs">Authorization: Bearer &lt;token&gt;</code> to the HTTP API. A viewer
          token reads; an admin token can also change settings.
        </>
      }
      canEdit={canEdit}
      what="the API tokens"
      status={status}
      form={
        <>
          {canEdit && !created && (
            <CreateTokenForm
              onCreated={(name, token) => {
                setCreated({ name, token });
                setStatus(null);
                router.refresh();
              }}
            />
          )}
          {created && <NewTokenSecret {...created} onDone={() => setCreated(null)} />}
        </>
      }
    >
      <SettingsTable
        columns={["Name", "Role", "Prefix", "Created", "Last used", "Status"]}
        minWidth="min-w-[44rem]"
        rowCount={tokens.length}
        empty={<>No API tokens yet.{canEdit ? " Create one above for a script or a dashboard." : ""}</>}
      >
        {tokens.map((t) => (
          <tr key={t.id} className={rowClass} data-token-row={t.name}>
            <td className={`${tdClass} font-medium`}>{t.name}</td>
            <td className={tdClass}>
              <Badge tone={t.role === "admin" ? "warn" : "neutral"}>{t.scope === "ingest" ? "ingest" : t.role}</Badge>
              {t.scope === "ingest" && (
                <span className="ml-2 text-xs text-zinc-600 dark:text-zinc-400" data-token-brokers>
                  {t.brokers ? `to ${t.brokers.join(", ")}` : "to every broker"}
                </span>
              )}
            </td>
            <td className={`${tdClass} font-mono text-xs`}>{t.prefix}…</td>
            <td className={`${tdClass} whitespace-nowrap`}>
              <Time value={t.createdAt} />
            </td>
            <td className={`${tdClass} whitespace-nowrap`}>
              <Time value={t.lastUsedAt} relative />
            </td>
            <td className={`${tdClass} whitespace-nowrap`}>
              {t.revokedAt ? (
                <Badge tone="bad">
                  revoked <Time value={t.revokedAt} relative />
                </Badge>
              ) : (
                <Badge tone="good">active</Badge>
              )}
            </td>
            <td className={`${tdClass} text-right whitespace-nowrap`}>
              {canEdit && !t.revokedAt && (
                <ConfirmButton label="Revoke" confirmLabel={`Revoke ${t.name}`} onConfirm={() => revoke(t)} />
              )}
            </td>
          </tr>
        ))}
      </SettingsTable>
    </SettingsSection>
  );
}

function CreateTokenForm({ onCreated }: { onCreated: (name: string, token: string) => void }) {
  const form = useSettingsForm<{ name: string; role: string; scope: string; brokers: string }>({
    schema: TokenCreateSchema,
    defaultValues: { name: "", role: "viewer", scope: "api", brokers: "" },
    inlineErrors: false,
  });

  const submit = form.submitWith(async (values) => {
    const created = await callApi<{ token: string; name: string }>("POST", "/api/tokens", values);
    form.resetField("name");
    onCreated(created.name, created.token);
  });

  return (
    <SettingsFormFrame form={form} onSubmit={submit} label="Create an API token" nativeValidation errorClassName="mt-3">
      <div className="flex flex-wrap items-end gap-3">
        <TextField
          form={form}
          name="name"
          label="Token name"
          className="min-w-48 flex-1"
          placeholder="what it is for, e.g. grafana"
          required
          maxLength={100}
          autoComplete="off"
        />
        <SelectField
          form={form}
          name="role"
          label="Role"
          className="w-40"
          options={[
            { value: "viewer", label: "viewer (read)" },
            { value: "admin", label: "admin (read and change)" },
          ]}
        />
        <SelectField
          form={form}
          name="scope"
          label="Scope"
          className="w-48"
          options={[
            { value: "api", label: "api (the API at its role)" },
            { value: "ingest", label: "ingest (ship log lines only)" },
          ]}
        />
        <TextField
          form={form}
          name="brokers"
          label="Brokers (ingest only)"
          className="min-w-48"
          placeholder="empty: every broker"
          maxLength={10_000}
          autoComplete="off"
        />
        <SubmitButton form={form}>Create token</SubmitButton>
      </div>
    </SettingsFormFrame>
  );
}

/** The new token, this once: only its hash is stored, so it cannot be shown again. */
function NewTokenSecret({ name, token, onDone }: { name: string; token: string; onDone: () => void }) {
  const [copied, setCopied] = useState<"yes" | "no" | null>(null);
  const inputRef = useRef<HTMLInputElement>(null);
  useEffect(() => {
    inputRef.current?.focus();
    inputRef.current?.select();
  }, []);

  async function copy() {
    try {
      await navigator.clipboard.writeText(token);
      setCopied("yes");
    } catch {
      // No clipboard access (plain http on another host): the text is selected for Ctrl+C instead.
      inputRef.current?.select();
      setCopied("no");
    }
  }

  return (
    <Notice tone="warn" className="mb-6" testId="new-token">
      <p className="font-medium">Token &quot;{name}&quot; created. Copy it now: you won&apos;t see it again.</p>
      <p className="mt-0.5 text-xs">Only a hash of it is stored. If it is lost, revoke it and create another.</p>
      <div className="mt-3 flex flex-wrap gap-2">
        <label htmlFor="new-token-value" className="sr-only">
          New API token
        </label>
        <input
          id="new-token-value"
          ref={inputRef}
          readOnly
          value={token}
          data-testid="new-token-value"
          className={`${inputClass} min-w-0 flex-1 bg-white font-mono text-xs dark:bg-zinc-900`}
          onFocus={(e) => e.currentTarget.select()}
        />
        <button type="button" className={buttonClass} onClick={copy}>
          {copied === "yes" ? "Copied" : "Copy"}
        </button>
        <button type="button" className={secondaryButtonClass} onClick={onDone}>
          Done
        </button>
      </div>
      <p aria-live="polite" className="mt-1 text-xs">
        {copied === "yes" && "Copied to the clipboard."}
        {copied === "no" && "The browser did not allow copying: the token is selected, press Ctrl+C (⌘C)."}
      </p>
    </Notice>
  );
}
