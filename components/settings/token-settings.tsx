"use client";

import { useRouter } from "next/navigation";
import { useEffect, useId, useRef, useState, type FormEvent } from "react";
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
import type { TokenView } from "@/lib/settings/views";
import { callApi, failureMessage } from "./api";
import { ConfirmButton } from "./confirm-button";
import { Field, Notice, ReadOnlyNote, SectionHeader, selectClass, Spinner, StatusNotice } from "./parts";

type Status = { tone: "good" | "bad"; text: string } | null;

export function TokenSettings({ tokens, canEdit }: { tokens: TokenView[]; canEdit: boolean }) {
  const router = useRouter();
  const [created, setCreated] = useState<{ name: string; token: string } | null>(null);
  const [status, setStatus] = useState<Status>(null);

  async function revoke(token: TokenView) {
    setStatus(null);
    try {
      await callApi("DELETE", `/api/tokens/${token.id}`);
      setStatus({ tone: "good", text: `Token "${token.name}" revoked: requests with it are refused from now on.` });
      router.refresh();
    } catch (err) {
      setStatus({ tone: "bad", text: failureMessage(err) });
    }
  }

  return (
    <section>
      <SectionHeader
        title="API tokens"
        description={
          <>
            Send one as <code className="text-xs">Authorization: Bearer &lt;token&gt;</code> to the HTTP API. A viewer
            token reads; an admin token can also change settings.
          </>
        }
      />
      {!canEdit && <ReadOnlyNote what="the API tokens" />}
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
      <StatusNotice status={status} />
      {tokens.length === 0 ? (
        <EmptyState>No API tokens yet.{canEdit ? " Create one above for a script or a dashboard." : ""}</EmptyState>
      ) : (
        <div className="relative overflow-x-auto rounded-lg border border-zinc-200 bg-white dark:border-zinc-800 dark:bg-zinc-900">
          <table className={`${tableClass} min-w-[44rem]`}>
            <thead className="border-b border-zinc-200 dark:border-zinc-800">
              <tr>
                <th className={thClass}>Name</th>
                <th className={thClass}>Role</th>
                <th className={thClass}>Prefix</th>
                <th className={thClass}>Created</th>
                <th className={thClass}>Last used</th>
                <th className={thClass}>Status</th>
                <th className={`${thClass} text-right`}>
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {tokens.map((t) => (
                <tr key={t.id} className={rowClass} data-token-row={t.name}>
                  <td className={`${tdClass} font-medium`}>{t.name}</td>
                  <td className={tdClass}>
                    <Badge tone={t.role === "admin" ? "warn" : "neutral"}>{t.scope === "ingest" ? "ingest" : t.role}</Badge>
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
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function CreateTokenForm({ onCreated }: { onCreated: (name: string, token: string) => void }) {
  const id = useId();
  const [name, setName] = useState("");
  const [role, setRole] = useState("viewer");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      // "ingest" is a scope, not a role: such a token may only ship log lines
      const body = role === "ingest" ? { name, role: "viewer", scope: "ingest" } : { name, role };
      const created = await callApi<{ token: string; name: string }>("POST", "/api/tokens", body);
      setName("");
      onCreated(created.name, created.token);
    } catch (err) {
      setError(failureMessage(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form
      onSubmit={submit}
      aria-label="Create an API token"
      className="mb-6 rounded-lg border border-zinc-200 bg-white p-4 dark:border-zinc-800 dark:bg-zinc-900"
    >
      <div className="flex flex-wrap items-end gap-3">
        <Field label="Token name" htmlFor={`${id}-name`} className="min-w-48 flex-1">
          <input
            id={`${id}-name`}
            className={inputClass}
            value={name}
            onChange={(e) => setName(e.target.value)}
            placeholder="what it is for, e.g. grafana"
            required
            maxLength={100}
            autoComplete="off"
          />
        </Field>
        <Field label="Role" htmlFor={`${id}-role`} className="w-40">
          <select id={`${id}-role`} className={selectClass} value={role} onChange={(e) => setRole(e.target.value)}>
            <option value="viewer">viewer (read)</option>
            <option value="admin">admin (read and change)</option>
            <option value="ingest">ingest (ship log lines only)</option>
          </select>
        </Field>
        <button type="submit" className={buttonClass} disabled={busy}>
          {busy && <Spinner />}
          Create token
        </button>
      </div>
      {error && (
        <Notice tone="bad" role="alert" className="mt-3">
          {error}
        </Notice>
      )}
    </form>
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
