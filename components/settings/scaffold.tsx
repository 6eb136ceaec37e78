"use client";
import "@/lib/zod-browser";

import { zodResolver } from "@hookform/resolvers/zod";
import { useRouter } from "next/navigation";
import { useEffect, useId, useRef, useState, type ComponentProps, type FormEvent, type ReactNode } from "react";
import {
  useForm,
  type DefaultValues,
  type FieldErrors,
  type FieldValues,
  type Path,
  type Resolver,
  type UseFormReturn,
} from "react-hook-form";
import { z } from "zod";
import { ACTIONS_COLUMN, buttonClass, CardTable, EmptyState, inputClass, secondaryButtonClass } from "@/components/ui";
import { ApiFailure, failureMessage } from "./api";
import { Field, Notice, ReadOnlyNote, SectionHeader, selectClass, Spinner, StatusNotice } from "./parts";

/**
 * The one scaffold of the settings pages: a section (header, viewer note, outcome line), its table,
 * and its forms. Each page (brokers, webhooks, tokens, users) supplies only its columns, its fields
 * and the request it sends; validation runs in the browser with the API's own zod schemas, and an
 * error the API still finds is shown at the field it names.
 */

export type Status = { tone: "good" | "bad"; text: string } | null;

// ---------------------------------------------------------------------------------------------
// The list
// ---------------------------------------------------------------------------------------------

/** The state of a settings list: the outcome line above the table and the row an action is running on. */
export function useSettingsActions<RowKey extends string | number>() {
  const router = useRouter();
  const [status, setStatus] = useState<Status>(null);
  const [busyRow, setBusyRow] = useState<RowKey | null>(null);

  /** Runs a row action: `done` on success, the API's message on failure; the page re-reads either way it changed. */
  async function run(row: RowKey | null, action: () => Promise<unknown>, done: string) {
    setBusyRow(row);
    setStatus(null);
    try {
      await action();
      setStatus({ tone: "good", text: done });
      router.refresh();
    } catch (err) {
      setStatus({ tone: "bad", text: failureMessage(err) });
    } finally {
      setBusyRow(null);
    }
  }

  /** A form saved: say so and re-read the page. */
  function saved(text: string) {
    setStatus({ tone: "good", text });
    router.refresh();
  }

  return { status, setStatus, busyRow, run, saved, router };
}

/**
 * The add/edit form of a list: closed, adding (`row` null) or editing one row. `formProps` are
 * what every such form takes; saving closes it and says what was saved.
 */
export function useRowEditor<Row>(saved: (text: string) => void) {
  const [open, setOpen] = useState<{ row: Row | null } | null>(null);
  return {
    open,
    add: () => setOpen({ row: null }),
    edit: (row: Row) => setOpen({ row }),
    formProps: {
      onCancel: () => setOpen(null),
      onSaved: (text: string) => {
        setOpen(null);
        saved(text);
      },
    },
  };
}

export function SettingsSection({
  title,
  description,
  add,
  canEdit,
  what,
  status,
  form,
  children,
}: {
  title: string;
  description: ReactNode;
  /** the header's "Add …" button, shown to admins while no form is open */
  add?: { label: string; onClick: () => void } | null;
  canEdit: boolean;
  /** what a viewer is told they can see but not change, e.g. "the brokers" */
  what: string;
  status: Status;
  /** the open form, above the outcome line */
  form?: ReactNode;
  children: ReactNode;
}) {
  return (
    <section>
      <SectionHeader
        title={title}
        description={description}
        actions={
          canEdit && add ? (
            <button type="button" className={buttonClass} onClick={add.onClick}>
              {add.label}
            </button>
          ) : undefined
        }
      />
      {!canEdit && <ReadOnlyNote what={what} />}
      {form}
      <StatusNotice status={status} />
      {children}
    </section>
  );
}

/** A settings table: the columns named, then a right-aligned actions column; `empty` instead when there are no rows. */
export function SettingsTable({
  columns,
  minWidth,
  rowCount,
  empty,
  children,
}: {
  columns: readonly string[];
  /** a Tailwind min-w-[…] class, so narrow screens scroll instead of squashing */
  minWidth: string;
  rowCount: number;
  empty?: ReactNode;
  children: ReactNode;
}) {
  if (rowCount === 0 && empty !== undefined) return <EmptyState>{empty}</EmptyState>;
  return (
    <CardTable columns={[...columns, ACTIONS_COLUMN]} className={minWidth}>
      {children}
    </CardTable>
  );
}

// ---------------------------------------------------------------------------------------------
// The form
// ---------------------------------------------------------------------------------------------

/** HTML forms hold "" for a field left blank; the API means "not set" by an absent key. */
export function withoutBlanks(values: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== "" && value !== null));
}

/** `groupBy[0]`, `headers.X-Token`: a field's path as the API writes it in a 400. */
function pathText(path: readonly string[]): string {
  return path.reduce((out, key) => (/^\d+$/.test(key) ? `${out}[${key}]` : out ? `${out}.${key}` : key), "");
}

/**
 * The first message under each form field, written as the API writes it (`url: must be …`), so a
 * problem reads the same whether the browser or the server found it. zod reports where in the
 * request body a problem is (`headers.X-Token`); the form shows it at the field that holds it.
 */
function fieldMessages(errors: FieldErrors): FieldErrors {
  const out: Record<string, { type: string; message: string }> = {};
  const first = (node: unknown, path: string[]): { type: string; message: string } | null => {
    if (typeof node !== "object" || node === null) return null;
    const { message, type } = node as { message?: unknown; type?: unknown };
    if (typeof message === "string") {
      // as the API says it (lib/settings/input.ts parseInput)
      const text = /received undefined$/.test(message) ? "is required" : message;
      return { type: String(type), message: path.length ? `${pathText(path)}: ${text}` : text };
    }
    for (const [key, child] of Object.entries(node)) {
      if (key === "ref") continue;
      const found = first(child, [...path, key]);
      if (found) return found;
    }
    return null;
  };
  for (const [field, node] of Object.entries(errors)) {
    const found = first(node, field ? [field] : []);
    if (found) out[field || "root"] = found;
  }
  return out as FieldErrors;
}

export type SettingsForm<Values extends FieldValues> = UseFormReturn<Values> & {
  /** prefix of the ids of this form's inputs: `${id}-${field}` */
  id: string;
  fieldId: (name: Path<Values>) => string;
  /** the form-level message: an error no field holds or, when fields show no messages of their own, the first one */
  formError: string | undefined;
  inlineErrors: boolean;
  /** handleSubmit that also shows an API failure at the field it names */
  submitWith: (send: (values: Values) => Promise<void>) => (event?: FormEvent) => Promise<void>;
};

/**
 * A settings form over react-hook-form. `schema` is the API's schema of the request body and
 * `toBody` turns the form's text fields into that body (by default: blanks left out), so the browser
 * refuses what the API would, with the same words, before any request is made.
 */
export function useSettingsForm<Values extends FieldValues>({
  schema,
  defaultValues,
  toBody = (values) => withoutBlanks(values),
  inlineErrors = true,
}: {
  schema: z.ZodType;
  defaultValues: DefaultValues<Values>;
  toBody?: (values: Values, ctx: z.core.$RefinementCtx) => unknown;
  /** false: fields are only marked invalid and the message stands below the form */
  inlineErrors?: boolean;
}): SettingsForm<Values> {
  const id = useId();
  const [resolver] = useState(() => settingsResolver<Values>(schema, toBody));
  const form = useForm<Values>({ defaultValues, resolver });
  const fields = Object.keys(defaultValues ?? {});
  const { errors } = form.formState;

  const submitWith = (send: (values: Values) => Promise<void>) =>
    form.handleSubmit(async (values) => {
      try {
        await send(values);
      } catch (err) {
        const message = failureMessage(err);
        const field = err instanceof ApiFailure ? (err.parameter ?? "").split(/[.[]/)[0] : "";
        if (fields.includes(field))
          form.setError(field as Path<Values>, { type: "server", message }, { shouldFocus: true });
        else form.setError("root.server", { type: "server", message });
      }
    });

  const rootMessage = errors.root?.server?.message ?? errors.root?.message;
  const firstField = fields.map((f) => errors[f]?.message).find((m) => typeof m === "string");
  return {
    ...form,
    id,
    fieldId: (name: Path<Values>) => `${id}-${name}`,
    formError: (rootMessage ?? (inlineErrors ? undefined : firstField)) as string | undefined,
    inlineErrors,
    submitWith,
  };
}

function settingsResolver<Values extends FieldValues>(
  schema: z.ZodType,
  toBody: (values: Values, ctx: z.core.$RefinementCtx) => unknown,
): Resolver<Values> {
  // raw: the values handed to the submit handler are the form's own, not the schema's output
  // (which fills defaults, e.g. `enabled: true`, that a PATCH must not send)
  const bodySchema = z.preprocess((values, ctx) => toBody(values as Values, ctx), schema) as z.ZodType<unknown, Values>;
  const check: Resolver<Values> = zodResolver(bodySchema, undefined, { raw: true });
  return async (values, context, options) => {
    const result = await check(values, context, options);
    if (Object.keys(result.errors).length === 0) return result;
    return { values: {}, errors: fieldMessages(result.errors) as FieldErrors<Values> };
  };
}

/** The frame of a settings form: title, fields, the form-level error, and Save / Cancel. */
export function SettingsFormFrame<Values extends FieldValues>({
  form,
  onSubmit,
  label,
  title,
  children,
  after,
  submitLabel,
  buttons,
  onCancel,
  nativeValidation = false,
  focusFirst = false,
  errorClassName = "mt-4",
}: {
  form: SettingsForm<Values>;
  onSubmit: (event?: FormEvent) => Promise<void>;
  label: string;
  title?: string;
  children: ReactNode;
  /** below the form-level error, above the buttons (e.g. a connection test's report) */
  after?: ReactNode;
  /** without it the form places its own SubmitButton among its fields */
  submitLabel?: string;
  /** more buttons between Save and Cancel */
  buttons?: ReactNode;
  onCancel?: () => void;
  /** let the browser check required/minLength first, as a one-line form does */
  nativeValidation?: boolean;
  /** a form opened by a button takes the focus */
  focusFirst?: boolean;
  errorClassName?: string;
}) {
  const ref = useRef<HTMLFormElement>(null);
  useEffect(() => {
    if (focusFirst) ref.current?.querySelector<HTMLInputElement>("input:not([readonly])")?.focus();
  }, [focusFirst]);
  return (
    <form
      ref={ref}
      onSubmit={onSubmit}
      noValidate={!nativeValidation}
      aria-label={label}
      className="mb-6 rounded-lg border border-zinc-200 bg-white p-4 dark:border-zinc-800 dark:bg-zinc-900"
    >
      {title && <h3 className="mb-3 text-base font-semibold">{title}</h3>}
      {children}
      {form.formError && (
        <Notice tone="bad" role="alert" className={errorClassName}>
          {form.formError}
        </Notice>
      )}
      {after}
      {submitLabel && (
        <div className="mt-4 flex flex-wrap gap-2">
          <SubmitButton form={form}>{submitLabel}</SubmitButton>
          {buttons}
          {onCancel && (
            <button type="button" className={secondaryButtonClass} onClick={onCancel}>
              Cancel
            </button>
          )}
        </div>
      )}
    </form>
  );
}

export function SubmitButton<Values extends FieldValues>({
  form,
  children,
}: {
  form: SettingsForm<Values>;
  children: ReactNode;
}) {
  const busy = form.formState.isSubmitting;
  return (
    <button type="submit" className={buttonClass} disabled={busy}>
      {busy && <Spinner />}
      {children}
    </button>
  );
}

/** The message under a field; `role="alert"` so a screen reader hears it when it appears. */
export function FieldError<Values extends FieldValues>({
  form,
  name,
}: {
  form: SettingsForm<Values>;
  name: Path<Values>;
}) {
  const message = form.formState.errors[name]?.message;
  if (!form.inlineErrors || typeof message !== "string") return null;
  return (
    <p
      id={`${form.fieldId(name)}-error`}
      role="alert"
      className="mt-1 text-xs font-medium text-red-700 dark:text-red-400"
    >
      {message}
    </p>
  );
}

/** The attributes that tie an input to its form field: value binding, id, and what describes it. */
export function fieldProps<Values extends FieldValues>(form: SettingsForm<Values>, name: Path<Values>, hint: boolean) {
  const invalid = form.formState.errors[name] !== undefined;
  const describedBy =
    invalid && form.inlineErrors ? `${form.fieldId(name)}-error` : hint ? `${form.fieldId(name)}-hint` : undefined;
  return {
    ...form.register(name),
    id: form.fieldId(name),
    "aria-invalid": invalid || undefined,
    "aria-describedby": describedBy,
  };
}

type InputProps = Omit<ComponentProps<"input">, "name" | "id" | "form">;

/** A labelled text input of a settings form, with its hint and its error. */
export function TextField<Values extends FieldValues>({
  form,
  name,
  label,
  hint,
  className,
  inputClassName = inputClass,
  children,
  ...input
}: InputProps & {
  form: SettingsForm<Values>;
  name: Path<Values>;
  label: string;
  hint?: ReactNode;
  className?: string;
  inputClassName?: string;
  /** below the input and its error, e.g. a "remove the stored password" checkbox */
  children?: ReactNode;
}) {
  return (
    <Field label={label} htmlFor={form.fieldId(name)} hint={hint} className={className}>
      <input className={inputClassName} {...input} {...fieldProps(form, name, hint !== undefined)} />
      <FieldError form={form} name={name} />
      {children}
    </Field>
  );
}

/** A labelled select of a settings form, with its hint and its error. */
export function SelectField<Values extends FieldValues>({
  form,
  name,
  label,
  hint,
  className,
  options,
}: {
  form: SettingsForm<Values>;
  name: Path<Values>;
  label: string;
  hint?: ReactNode;
  className?: string;
  options: readonly { value: string; label: string }[];
}) {
  return (
    <Field label={label} htmlFor={form.fieldId(name)} hint={hint} className={className}>
      <select className={selectClass} {...fieldProps(form, name, hint !== undefined)}>
        {options.map((option) => (
          <option key={option.value} value={option.value}>
            {option.label}
          </option>
        ))}
      </select>
      <FieldError form={form} name={name} />
    </Field>
  );
}
