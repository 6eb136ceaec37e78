"use client";

import { useRouter } from "next/navigation";
import { useId, useState, type FormEvent } from "react";
import { Time } from "@/components/time";
import {
  Badge,
  buttonClass,
  inputClass,
  rowClass,
  secondaryButtonClass,
  tableClass,
  tdClass,
  thClass,
} from "@/components/ui";
import type { UserView } from "@/lib/settings/views";
import { ApiFailure, callApi, failureMessage } from "./api";
import { ConfirmButton } from "./confirm-button";
import {
  Field,
  Notice,
  ReadOnlyNote,
  SectionHeader,
  selectClass,
  smallButtonClass,
  Spinner,
  StatusNotice,
} from "./parts";

type Status = { tone: "good" | "bad"; text: string } | null;
const MIN_PASSWORD = 8;

export function UserSettings({
  users,
  canEdit,
  currentUsername,
}: {
  users: UserView[];
  canEdit: boolean;
  currentUsername: string;
}) {
  const router = useRouter();
  const [status, setStatus] = useState<Status>(null);
  const [changing, setChanging] = useState<number | null>(null);
  const admins = users.filter((u) => u.role === "admin").length;

  async function remove(user: UserView) {
    setStatus(null);
    try {
      await callApi("DELETE", `/api/users/${user.id}`);
      setStatus({ tone: "good", text: `${user.username} removed; their sessions have ended.` });
      router.refresh();
    } catch (err) {
      setStatus({ tone: "bad", text: failureMessage(err) });
    }
  }

  return (
    <section>
      <SectionHeader
        title="Users"
        description="People who sign in to this UI. Admins change settings; viewers see everything and change nothing."
      />
      {!canEdit && <ReadOnlyNote what="the users" />}
      {canEdit && (
        <AddUserForm
          onAdded={(user) => {
            setStatus({ tone: "good", text: `${user.username} added as ${user.role}.` });
            router.refresh();
          }}
        />
      )}
      <StatusNotice status={status} />
      <div className="relative overflow-x-auto rounded-lg border border-zinc-200 bg-white dark:border-zinc-800 dark:bg-zinc-900">
        <table className={`${tableClass} min-w-[32rem]`}>
          <thead className="border-b border-zinc-200 dark:border-zinc-800">
            <tr>
              <th className={thClass}>Username</th>
              <th className={thClass}>Role</th>
              <th className={thClass}>Added</th>
              <th className={`${thClass} text-right`}>
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {users.map((u) => {
              const self = u.username === currentUsername;
              const lastAdmin = u.role === "admin" && admins <= 1;
              return (
                <tr key={u.id} className={rowClass} data-user-row={u.username}>
                  <td className={tdClass}>
                    <span className="font-medium">{u.username}</span>
                    {self && <span className="ml-1.5 text-xs text-zinc-500">(you)</span>}
                    {changing === u.id && (
                      <ChangePasswordForm
                        user={u}
                        self={self}
                        onCancel={() => setChanging(null)}
                        onChanged={() => {
                          setChanging(null);
                          if (self) {
                            // A new password ends every session of the user, this one included.
                            window.location.assign("/login?next=/settings/users");
                            return;
                          }
                          setStatus({
                            tone: "good",
                            text: `Password of ${u.username} changed; their sessions have ended.`,
                          });
                        }}
                      />
                    )}
                  </td>
                  <td className={tdClass}>
                    <Badge tone={u.role === "admin" ? "warn" : "neutral"}>{u.role}</Badge>
                  </td>
                  <td className={`${tdClass} whitespace-nowrap`}>
                    <Time value={u.createdAt} />
                  </td>
                  <td className={`${tdClass} text-right whitespace-nowrap`}>
                    {canEdit && (
                      <span className="inline-flex gap-1">
                        {changing !== u.id && (
                          <button
                            type="button"
                            className={smallButtonClass}
                            onClick={() => setChanging(u.id)}
                            aria-label={`Change the password of ${u.username}`}
                          >
                            Change password
                          </button>
                        )}
                        {self || lastAdmin ? (
                          <span className="px-2 py-1 text-xs text-zinc-400">
                            {self ? "can't remove yourself" : "last admin"}
                          </span>
                        ) : (
                          <ConfirmButton
                            label="Remove"
                            confirmLabel={`Remove ${u.username}`}
                            onConfirm={() => remove(u)}
                          />
                        )}
                      </span>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function AddUserForm({ onAdded }: { onAdded: (user: UserView) => void }) {
  const id = useId();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState("viewer");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<{ message: string; parameter: string | null } | null>(null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const { user } = await callApi<{ user: UserView }>("POST", "/api/users", { username, password, role });
      setUsername("");
      setPassword("");
      setRole("viewer");
      onAdded(user);
    } catch (err) {
      setError({ message: failureMessage(err), parameter: err instanceof ApiFailure ? err.parameter : null });
    } finally {
      setBusy(false);
    }
  }

  return (
    <form
      onSubmit={submit}
      aria-label="Add a user"
      className="mb-6 rounded-lg border border-zinc-200 bg-white p-4 dark:border-zinc-800 dark:bg-zinc-900"
    >
      <h3 className="mb-3 text-base font-semibold">Add a user</h3>
      <div className="grid gap-3 sm:grid-cols-[1fr_1fr_10rem_auto] sm:items-end">
        <Field label="Username" htmlFor={`${id}-username`}>
          <input
            id={`${id}-username`}
            className={inputClass}
            value={username}
            onChange={(e) => setUsername(e.target.value)}
            required
            autoComplete="off"
            aria-invalid={error?.parameter === "username" || undefined}
          />
        </Field>
        <Field label="Password" htmlFor={`${id}-password`}>
          <input
            id={`${id}-password`}
            type="password"
            className={inputClass}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            required
            minLength={MIN_PASSWORD}
            autoComplete="new-password"
            placeholder={`at least ${MIN_PASSWORD} characters`}
            aria-invalid={error?.parameter === "password" || undefined}
          />
        </Field>
        <Field label="Role" htmlFor={`${id}-role`}>
          <select id={`${id}-role`} className={selectClass} value={role} onChange={(e) => setRole(e.target.value)}>
            <option value="viewer">viewer</option>
            <option value="admin">admin</option>
          </select>
        </Field>
        <button type="submit" className={buttonClass} disabled={busy}>
          {busy && <Spinner />}
          Add user
        </button>
      </div>
      {error && (
        <Notice tone="bad" role="alert" className="mt-3">
          {error.message}
        </Notice>
      )}
    </form>
  );
}

function ChangePasswordForm({
  user,
  self,
  onCancel,
  onChanged,
}: {
  user: UserView;
  self: boolean;
  onCancel: () => void;
  onChanged: () => void;
}) {
  const id = useId();
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await callApi("PATCH", `/api/users/${user.id}`, { password });
      onChanged();
    } catch (err) {
      setError(failureMessage(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={submit} className="mt-2 max-w-md" aria-label={`New password for ${user.username}`}>
      <label htmlFor={`${id}-password`} className="mb-1 block text-xs font-medium">
        New password for {user.username}
      </label>
      <div className="flex flex-wrap gap-2">
        <input
          id={`${id}-password`}
          type="password"
          className={`${inputClass} min-w-0 flex-1`}
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          required
          minLength={MIN_PASSWORD}
          autoComplete="new-password"
          autoFocus
          onKeyDown={(e) => e.key === "Escape" && onCancel()}
        />
        <button type="submit" className={buttonClass} disabled={busy}>
          {busy && <Spinner />}
          Set password
        </button>
        <button type="button" className={secondaryButtonClass} onClick={onCancel}>
          Cancel
        </button>
      </div>
      <p className="mt-1 text-xs text-zinc-500">
        {self
          ? "This signs you out everywhere; sign in again with the new password."
          : "This signs them out everywhere."}
      </p>
      {error && (
        <p role="alert" className="mt-1 text-xs font-medium text-red-700 dark:text-red-400">
          {error}
        </p>
      )}
    </form>
  );
}
