/**
 * What the rules API and pages show about each rule: its definition, where it comes from, its
 * alerts and how its last evaluation went. Built from a snapshot of the engine's state, outside
 * the evaluation loop (engine.ts), which only records that state.
 */
import type { Labels } from "./promql";
import type { DisabledRule, LoadedRules, RuleSource } from "./rules";
import type { AlertStateMap } from "./state";

/** A rule as GET /api/rules shows it: definition, where it comes from, and how its evaluation goes. */
export interface RuleView {
  name: string;
  source: RuleSource;
  enabled: boolean;
  /** null only for a file entry that switches off a rule without restating it */
  expr: string | null;
  forSeconds: number;
  keepFiringForSeconds: number;
  labels: Labels;
  annotations: Labels;
  /** "record" for a recording rule: its name is the metric it writes, it has no alerts */
  kind: "alert" | "record";
  /** the rule file group it was imported from; null otherwise */
  group: string | null;
  /** the group's interval in seconds; null for the default */
  intervalSeconds: number | null;
  /** the group's limit; 0 for none */
  limit: number;
  /** Prometheus' rule state: the most severe state of its alerts. */
  state: "inactive" | "pending" | "firing";
  alerts: { pending: number; firing: number };
  lastEvaluatedAt: Date | null;
  lastDurationMs: number | null;
  /** The last evaluation's error, or why the rule could not be loaded. */
  lastError: string | null;
  /** Problems found when loading the rule; an expression error keeps it from being evaluated. */
  loadErrors: { message: string; position: number | null }[];
}

/** How a rule's last evaluation went. */
export interface RuleStatus {
  lastEvaluatedAt: Date;
  lastDurationMs: number;
  /** The evaluation's error (a query error, a failing fetch, anything it threw); null when it went well. */
  lastError: string | null;
}

/** The engine's state after a round, as `ruleViews` reads it. */
export interface EngineSnapshot {
  loaded: LoadedRules;
  states: ReadonlyMap<string, AlertStateMap>;
  status: ReadonlyMap<string, RuleStatus>;
}

/** Every rule of the last round: evaluated, refused at load, or switched off. */
export function ruleViews({ loaded, states, status: statuses }: EngineSnapshot): RuleView[] {
  const loadedNames = new Set(loaded.rules.map((r) => r.name));
  const view = (
    source: RuleSource,
    definition: DisabledRule["definition"],
    kind: "evaluated" | "refused" | "disabled",
  ): RuleView => {
    const loadErrors = loaded.errors
      .filter((e) => e.rule === definition.name && e.source === source)
      .map(({ message, position }) => ({ message, position }));
    // A refused rule still owns the alerts it had before (the engine keeps them), unless it is a
    // UI rule refused because a loaded rule owns its name.
    const ownsAlerts = kind === "evaluated" || (kind === "refused" && !loadedNames.has(definition.name));
    const alerts = ownsAlerts ? Object.values(states.get(definition.name) ?? {}) : [];
    const firing = alerts.filter((a) => a.state === "firing").length;
    const pending = alerts.length - firing;
    const status = kind === "evaluated" ? statuses.get(definition.name) : undefined;
    return {
      ...definition,
      kind: definition.kind ?? "alert",
      group: definition.group ?? null,
      intervalSeconds: definition.intervalSeconds ?? null,
      limit: definition.limit ?? 0,
      source,
      enabled: kind !== "disabled",
      state: firing > 0 ? "firing" : pending > 0 ? "pending" : "inactive",
      alerts: { pending, firing },
      lastEvaluatedAt: status?.lastEvaluatedAt ?? null,
      lastDurationMs: status?.lastDurationMs ?? null,
      lastError: status?.lastError ?? (kind === "refused" ? loadErrors[0].message : null),
      loadErrors,
    };
  };
  return [
    ...loaded.rules.map(({ parsed: _parsed, source, ...definition }) => view(source, definition, "evaluated")),
    // A loaded rule's own errors are template errors, shown with it; any other error refused a rule.
    ...loaded.errors
      .filter((e) => !loaded.rules.some((r) => r.name === e.rule && r.source === e.source))
      .map((e) => view(e.source, e.definition, "refused")),
    ...loaded.disabled.map((d) => view(d.source, d.definition, "disabled")),
  ];
}
