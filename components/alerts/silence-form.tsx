"use client";

import { useRouter } from "next/navigation";
import { useId, useState } from "react";
import { buttonClass, inputClass, secondaryButtonClass } from "@/components/ui";

const PRESETS = [
  { duration: "1h", label: "1 hour" },
  { duration: "4h", label: "4 hours" },
  { duration: "1d", label: "1 day" },
] as const;

/** The labels a silence made from an alert matches by default: the rule, and where it fires. */
function defaultMatched(labels: Record<string, string>): Set<string> {
  const names = new Set(["alertname"]);
  if (labels.broker) names.add("broker");
  else if (labels.cluster) names.add("cluster");
  return names;
}

/**
 * "Silence" on an alert (admins only): matchers pre-filled from its alertname and broker (or
 * cluster), any other label one click away, a duration preset and a comment saying why, which
 * the next person on call will want to read.
 */
export function SilenceButton({ labels, createdBy }: { labels: Record<string, string>; createdBy: string }) {
  const router = useRouter();
  const id = useId();
  const [open, setOpen] = useState(false);
  const [matched, setMatched] = useState(() => defaultMatched(labels));
  const [duration, setDuration] = useState<string>("1h");
  const [comment, setComment] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  if (!open) {
    return (
      <button type="button" className={secondaryButtonClass} onClick={() => setOpen(true)}>
        Silence
      </button>
    );
  }

  const names = Object.keys(labels).sort((a, b) =>
    a === "alertname" ? -1 : b === "alertname" ? 1 : a.localeCompare(b),
  );
  const toggle = (name: string) =>
    setMatched((prev) => {
      const next = new Set(prev);
      if (next.has(name)) next.delete(name);
      else next.add(name);
      return next;
    });

  async function submit(event: React.FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const res = await fetch("/api/silences", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          matchers: [...matched].map((name) => ({ name, value: labels[name], isRegex: false, isEqual: true })),
          duration,
          createdBy,
          comment: comment.trim(),
        }),
      });
      if (!res.ok) {
        const body = await res.json().catch(() => null);
        setError(body?.error?.message ?? `the silence was not created (HTTP ${res.status})`);
        return;
      }
      setOpen(false);
      setComment("");
      router.refresh();
    } finally {
      setBusy(false);
    }
  }

  return (
    <form
      onSubmit={submit}
      aria-label="Silence this alert"
      className="mt-3 w-full space-y-3 rounded-md border border-zinc-200 bg-zinc-50 p-3 text-sm dark:border-zinc-700 dark:bg-zinc-950"
    >
      <fieldset>
        <legend className="mb-1 text-xs font-medium text-zinc-600 dark:text-zinc-400 uppercase">Mute alerts whose labels are</legend>
        <div className="flex flex-wrap gap-1.5">
          {names.map((name) => (
            <label
              key={name}
              className={`inline-flex cursor-pointer items-center gap-1 rounded px-1.5 py-0.5 font-mono text-xs ring-1 ${
                matched.has(name)
                  ? "bg-sky-50 text-sky-800 ring-sky-300 dark:bg-sky-950 dark:text-sky-200 dark:ring-sky-800"
                  : "text-zinc-600 dark:text-zinc-400 ring-zinc-300 dark:ring-zinc-700"
              }`}
            >
              <input type="checkbox" className="sr-only" checked={matched.has(name)} onChange={() => toggle(name)} />
              {name}=&quot;{labels[name]}&quot;
            </label>
          ))}
        </div>
        {matched.size === 0 && <p className="mt-1 text-xs text-red-600">Pick at least one label.</p>}
      </fieldset>
      <fieldset>
        <legend className="mb-1 text-xs font-medium text-zinc-600 dark:text-zinc-400 uppercase">For</legend>
        <div className="flex gap-1.5" role="radiogroup">
          {PRESETS.map((p) => (
            <button
              key={p.duration}
              type="button"
              role="radio"
              aria-checked={duration === p.duration}
              onClick={() => setDuration(p.duration)}
              className={duration === p.duration ? buttonClass : secondaryButtonClass}
            >
              {p.label}
            </button>
          ))}
        </div>
      </fieldset>
      <div>
        <label htmlFor={`${id}-comment`} className="mb-1 block text-xs font-medium text-zinc-600 dark:text-zinc-400 uppercase">
          Comment
        </label>
        <input
          id={`${id}-comment`}
          className={inputClass}
          required
          value={comment}
          onChange={(e) => setComment(e.target.value)}
          placeholder="Why, for whoever is on call next: planned maintenance, known issue #123…"
        />
      </div>
      {error && (
        <p role="alert" className="text-sm text-red-600">
          {error}
        </p>
      )}
      <div className="flex gap-2">
        <button type="submit" className={buttonClass} disabled={busy || matched.size === 0}>
          {busy ? "Creating…" : "Create silence"}
        </button>
        <button type="button" className={secondaryButtonClass} onClick={() => setOpen(false)}>
          Cancel
        </button>
      </div>
    </form>
  );
}

/** Expires a silence now (admins only); it stays listed under expired, as in Alertmanager. */
export function ExpireSilenceButton({ id }: { id: string }) {
  const router = useRouter();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  return (
    <span className="inline-flex flex-col items-end gap-1">
      <button
        type="button"
        className={secondaryButtonClass}
        disabled={busy}
        onClick={async () => {
          setBusy(true);
          setError(null);
          const res = await fetch(`/api/silences/${encodeURIComponent(id)}`, { method: "DELETE" });
          setBusy(false);
          if (!res.ok) {
            const body = await res.json().catch(() => null);
            setError(body?.error?.message ?? `HTTP ${res.status}`);
            return;
          }
          router.refresh();
        }}
      >
        {busy ? "Expiring…" : "Expire"}
      </button>
      {error && (
        <span role="alert" className="text-xs text-red-600">
          {error}
        </span>
      )}
    </span>
  );
}
