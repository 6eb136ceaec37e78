"use client";

import { useRouter } from "next/navigation";
import { useState } from "react";
import { callApi, failureMessage } from "@/components/settings/api";
import { buttonClass, secondaryButtonClass } from "@/components/ui";

/**
 * Upload a Prometheus rule file (`groups:`, as `promtool check rules` reads it): "Check" shows
 * what would be imported, "Import" stores it (POST /api/rules/import). The report names every
 * rule: imported, refused with the line and column of the error, or stored switched off because
 * it reads metrics brokerwatch does not have.
 */
interface RuleReport {
  group: string;
  index: number;
  kind: "alert" | "record" | null;
  name: string | null;
  status: "imported" | "refused" | "unknown_metrics";
  position: { line: number; column: number };
  message: string | null;
  unknownMetrics: string[];
}
interface ImportReport {
  dryRun: boolean;
  imported: number;
  refused: number;
  unknownMetrics: number;
  rules: RuleReport[];
}

const STATUS_TEXT = { imported: "imported", refused: "refused", unknown_metrics: "switched off" } as const;
const STATUS_TONE = {
  imported: "text-emerald-700 dark:text-emerald-400",
  refused: "text-red-700 dark:text-red-400",
  unknown_metrics: "text-amber-700 dark:text-amber-400",
} as const;

export function RuleImport() {
  const router = useRouter();
  const [file, setFile] = useState<{ name: string; text: string } | null>(null);
  const [report, setReport] = useState<ImportReport | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function send(dryRun: boolean) {
    if (!file) return;
    setBusy(true);
    setError(null);
    try {
      const result = await callApi<ImportReport>("POST", "/api/rules/import", { file: file.text, dryRun });
      setReport(result);
      if (!dryRun) router.refresh();
    } catch (err) {
      setReport(null);
      setError(`${file.name}: ${failureMessage(err)}`);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section
      aria-label="Import a Prometheus rule file"
      className="mb-6 rounded border border-zinc-200 p-4 dark:border-zinc-800"
    >
      <h2 className="mb-1 text-sm font-medium">Import a Prometheus rule file</h2>
      <p className="mb-3 text-xs text-zinc-600 dark:text-zinc-400">
        A <code>groups:</code> file as <code>promtool check rules</code> reads it. Each rule is imported on its own;
        recording rules write series other rules and charts can read.
      </p>
      <div className="flex flex-wrap items-center gap-3">
        <input
          type="file"
          accept=".yml,.yaml,text/yaml,application/yaml"
          aria-label="Rule file"
          className="text-sm"
          onChange={async (e) => {
            const chosen = e.target.files?.[0];
            setReport(null);
            setError(null);
            setFile(chosen ? { name: chosen.name, text: await chosen.text() } : null);
          }}
        />
        <button type="button" className={secondaryButtonClass} disabled={!file || busy} onClick={() => send(true)}>
          Check
        </button>
        <button type="button" className={buttonClass} disabled={!file || busy} onClick={() => send(false)}>
          Import
        </button>
      </div>
      {error && (
        <p role="alert" className="mt-3 text-sm text-red-600">
          {error}
        </p>
      )}
      {report && (
        <div className="mt-3 text-sm" aria-label="import report">
          <p className="mb-2">
            {report.dryRun ? "Would import" : "Imported"} {report.imported} · refused {report.refused} · switched off{" "}
            {report.unknownMetrics}
          </p>
          <ul className="space-y-1 text-xs">
            {report.rules.map((r) => (
              <li key={`${r.group}/${r.index}/${r.position.line}`} data-status={r.status}>
                <span className={`font-medium ${STATUS_TONE[r.status]}`}>{STATUS_TEXT[r.status]}</span>{" "}
                <span className="text-zinc-600 dark:text-zinc-400">
                  line {r.position.line}:{r.position.column} · {r.group}
                </span>{" "}
                <span className="font-mono">{r.name ?? "(unnamed)"}</span>
                {r.kind === "record" && <span className="text-zinc-600 dark:text-zinc-400"> (recording)</span>}
                {r.message && <div className="ml-4 text-zinc-600 dark:text-zinc-400">{r.message}</div>}
              </li>
            ))}
          </ul>
        </div>
      )}
    </section>
  );
}
