"use client";

import { useRouter } from "next/navigation";
import { useEffect, useState } from "react";
import { inputClass, secondaryButtonClass } from "@/components/ui";

/** `datetime-local` speaks the viewer's zone and has no zone in its value: convert both ways here. */
function toLocalInput(iso: string): string {
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A custom history range in the viewer's own time zone, sent to the page as RFC 3339. */
export function HistoryRangeForm({ from, to }: { from: string; to: string }) {
  const router = useRouter();
  const [fromLocal, setFrom] = useState("");
  const [toLocal, setTo] = useState("");
  // Filled after hydration: the server does not know the viewer's zone.
  useEffect(() => {
    setFrom(toLocalInput(from));
    setTo(toLocalInput(to));
  }, [from, to]);
  return (
    <form
      className="flex flex-wrap items-end gap-2 text-sm"
      onSubmit={(e) => {
        e.preventDefault();
        if (!fromLocal || !toLocal) return;
        const q = new URLSearchParams({
          from: new Date(fromLocal).toISOString(),
          to: new Date(toLocal).toISOString(),
        });
        router.push(`/alerts/history?${q}`);
      }}
    >
      <label className="flex flex-col gap-0.5 text-xs text-zinc-600 dark:text-zinc-400">
        From
        <input
          type="datetime-local"
          className={inputClass}
          value={fromLocal}
          onChange={(e) => setFrom(e.target.value)}
        />
      </label>
      <label className="flex flex-col gap-0.5 text-xs text-zinc-600 dark:text-zinc-400">
        To
        <input type="datetime-local" className={inputClass} value={toLocal} onChange={(e) => setTo(e.target.value)} />
      </label>
      <button type="submit" className={secondaryButtonClass}>
        Show
      </button>
    </form>
  );
}
