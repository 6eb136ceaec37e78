"use client";

import { useState } from "react";
import { Time } from "@/components/time";
import { Badge, buttonClass, inputClass, rowClass, secondaryButtonClass, tdClass } from "@/components/ui";
import { PASSWORD_MIN_LENGTH, UserCreateSchema, UserPatchSchema } from "@/lib/settings/request-schemas";
import type { UserView } from "@/lib/settings/views";
import { callApi } from "./api";
import { ConfirmButton } from "./confirm-button";
import { smallButtonClass, Spinner } from "./parts";
import {
  fieldProps,
  SelectField,
  SettingsFormFrame,
  SettingsSection,
  SettingsTable,
  SubmitButton,
  TextField,
  useSettingsActions,
  useSettingsForm,
} from "./scaffold";

/** viewer first: the safer role is the default */
const USER_ROLE_OPTIONS = [
  { value: "viewer", label: "viewer" },
  { value: "admin", label: "admin" },
];

export function UserSettings({
  users,
  canEdit,
  currentUsername,
}: {
  users: UserView[];
  canEdit: boolean;
  currentUsername: string;
}) {
  const { status, setStatus, run, saved } = useSettingsActions<number>();
  const [changing, setChanging] = useState<number | null>(null);
  const admins = users.filter((u) => u.role === "admin").length;

  const remove = (user: UserView) =>
    run(null, () => callApi("DELETE", `/api/users/${user.id}`), `${user.username} removed; their sessions have ended.`);

  return (
    <SettingsSection
      title="Users"
      description="People who sign in to this UI. Admins change settings; viewers see everything and change nothing."
      canEdit={canEdit}
      what="the users"
      status={status}
      form={canEdit && <AddUserForm onAdded={(user) => saved(`${user.username} added as ${user.role}.`)} />}
    >
      <SettingsTable columns={["Username", "Role", "Added"]} minWidth="min-w-[32rem]" rowCount={users.length}>
        {users.map((u) => {
          const self = u.username === currentUsername;
          const lastAdmin = u.role === "admin" && admins <= 1;
          return (
            <tr key={u.id} className={rowClass} data-user-row={u.username}>
              <td className={tdClass}>
                <span className="font-medium">{u.username}</span>
                {self && <span className="ml-1.5 text-xs text-zinc-600 dark:text-zinc-400">(you)</span>}
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
                        aria-label={`Change password of ${u.username}`}
                      >
                        Change password
                      </button>
                    )}
                    {self || lastAdmin ? (
                      <span className="px-2 py-1 text-xs text-zinc-600 dark:text-zinc-400">
                        {self ? "can't remove yourself" : "last admin"}
                      </span>
                    ) : (
                      <ConfirmButton label="Remove" confirmLabel={`Remove ${u.username}`} onConfirm={() => remove(u)} />
                    )}
                  </span>
                )}
              </td>
            </tr>
          );
        })}
      </SettingsTable>
    </SettingsSection>
  );
}

function AddUserForm({ onAdded }: { onAdded: (user: UserView) => void }) {
  const form = useSettingsForm<{ username: string; password: string; role: string }>({
    schema: UserCreateSchema,
    defaultValues: { username: "", password: "", role: "viewer" },
    inlineErrors: false,
  });

  const submit = form.submitWith(async (values) => {
    const { user } = await callApi<{ user: UserView }>("POST", "/api/users", values);
    form.reset();
    onAdded(user);
  });

  return (
    <SettingsFormFrame
      form={form}
      onSubmit={submit}
      label="Add a user"
      title="Add a user"
      nativeValidation
      errorClassName="mt-3"
    >
      <div className="grid gap-3 sm:grid-cols-[1fr_1fr_10rem_auto] sm:items-end">
        <TextField form={form} name="username" label="Username" required autoComplete="off" />
        <TextField
          form={form}
          name="password"
          label="Password"
          type="password"
          required
          minLength={PASSWORD_MIN_LENGTH}
          autoComplete="new-password"
          placeholder={`at least ${PASSWORD_MIN_LENGTH} characters`}
        />
        <SelectField form={form} name="role" label="Role" options={USER_ROLE_OPTIONS} />
        <SubmitButton form={form}>Add user</SubmitButton>
      </div>
    </SettingsFormFrame>
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
  const form = useSettingsForm<{ password: string }>({
    schema: UserPatchSchema,
    defaultValues: { password: "" },
    inlineErrors: false,
  });

  const submit = form.submitWith(async (values) => {
    await callApi("PATCH", `/api/users/${user.id}`, values);
    onChanged();
  });

  return (
    <form onSubmit={submit} className="mt-2 max-w-md" aria-label={`New password for ${user.username}`}>
      <label htmlFor={form.fieldId("password")} className="mb-1 block text-xs font-medium">
        New password for {user.username}
      </label>
      <div className="flex flex-wrap gap-2">
        <input
          type="password"
          className={`${inputClass} min-w-0 flex-1`}
          required
          minLength={PASSWORD_MIN_LENGTH}
          autoComplete="new-password"
          autoFocus
          onKeyDown={(e) => e.key === "Escape" && onCancel()}
          {...fieldProps(form, "password", false)}
        />
        <button type="submit" className={buttonClass} disabled={form.formState.isSubmitting}>
          {form.formState.isSubmitting && <Spinner />}
          Set password
        </button>
        <button type="button" className={secondaryButtonClass} onClick={onCancel}>
          Cancel
        </button>
      </div>
      <p className="mt-1 text-xs text-zinc-600 dark:text-zinc-400">
        {self
          ? "This signs you out everywhere; sign in again with the new password."
          : "This signs them out everywhere."}
      </p>
      {form.formError && (
        <p role="alert" className="mt-1 text-xs font-medium text-red-700 dark:text-red-400">
          {form.formError}
        </p>
      )}
    </form>
  );
}
