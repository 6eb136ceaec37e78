/**
 * Silences with Alertmanager's semantics (docs/alertmanager.md, pkg/labels/matcher.go, silence/silence.go):
 * a silence mutes an alert while it is active and *all* of its matchers match the alert's labels.
 * Muting only drops notifications; the engine keeps tracking the alert. Pure.
 */
import { z } from "zod";
import { compileLabelRegex, type LabelRegex, type Labels } from "@/lib/alerts/promql";
import { parseDuration } from "@/lib/config/schema";
import type { SilenceRow } from "@/db/schema";

export type SilenceMatcher = SilenceRow["matchers"][number];
export type Silence = Pick<SilenceRow, "matchers" | "startsAt" | "endsAt">;

/** True when an active silence mutes an alert with these labels. */
export function isSilenced(labels: Labels, silences: readonly Silence[], now: Date): boolean {
  return silences.some((silence) => isActive(silence, now) && silence.matchers.every((m) => matches(m, labels)));
}

/**
 * Receiver routing (Alertmanager route `match:` and `match_re:`): an alert reaches a receiver when
 * every label in `match` equals and every one in `matchRe` fully matches (RE2). None set: every alert.
 */
export function routesTo(
  receiver: { match?: Record<string, string> | null; matchRe?: Record<string, string> | null },
  labels: Labels,
): boolean {
  for (const [name, value] of Object.entries(receiver.match ?? {})) {
    if (!matches({ name, value, isRegex: false, isEqual: true }, labels)) return false;
  }
  for (const [name, value] of Object.entries(receiver.matchRe ?? {})) {
    if (!matches({ name, value, isRegex: true, isEqual: true }, labels)) return false;
  }
  return true;
}

/** silence.CalcSilenceState: pending before startsAt, active until endsAt, expired from then on. */
function isActive(silence: Silence, now: Date): boolean {
  return silence.startsAt.getTime() <= now.getTime() && now.getTime() < silence.endsAt.getTime();
}

/** labels.Matcher.Matches: a missing label matches as the empty string, as in Alertmanager. */
function matches(matcher: SilenceMatcher, labels: Labels): boolean {
  return matchesValue(matcher, labels[matcher.name] ?? "");
}

function matchesValue(matcher: SilenceMatcher, value: string): boolean {
  if (!matcher.isRegex) return (value === matcher.value) === matcher.isEqual;
  const re = compileMatcherRegex(matcher.value);
  // A stored silence always compiled when it was created; should one not (one stored before RE2),
  // muting nothing is the safe side: a page too many beats a page lost.
  if (re === null) return false;
  return re.matches(value) === matcher.isEqual;
}

/**
 * labels.NewMatcher compiles `^(?:value)$`: regex matchers are fully anchored, RE2 syntax, and
 * compiled with the linear-time engine (lib/alerts/promql/regex.ts) so a hostile pattern cannot
 * stall the notifier. Null when RE2 refuses the pattern or it is over the length limit.
 */
function compileMatcherRegex(source: string): LabelRegex | null {
  try {
    return compileLabelRegex(source, { dotAll: false });
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// POST /api/silences input

/** Prometheus label names: the only names a matcher can usefully test. */
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

const matcherSchema = z
  .strictObject({
    name: z.string().regex(LABEL_NAME, { error: 'must be a label name: letters, digits and "_", like broker' }),
    value: z.string(),
    isRegex: z.boolean().default(false),
    /** false turns = into != and =~ into !~ (Alertmanager API v2) */
    isEqual: z.boolean().default(true),
  })
  .superRefine((matcher, ctx) => {
    if (matcher.isRegex && compileMatcherRegex(matcher.value) === null) {
      ctx.addIssue({ code: "custom", path: ["value"], message: "is not a valid regular expression" });
    }
  });

const rfc3339Time = z.iso.datetime({ offset: true, error: "must be an RFC 3339 time, like 2026-05-01T12:00:00Z" });

/**
 * The body of `POST /api/silences`, resolved against `now`: Alertmanager's postable silence
 * (`matchers`, `startsAt`, `endsAt`, `createdBy`, `comment`), where `duration` (`2h`) may stand in
 * for `endsAt` and `startsAt` defaults to now. Output is a silence row without its id.
 */
export function silenceInputSchema(now: Date) {
  return z
    .strictObject({
      matchers: z.array(matcherSchema).min(1, { error: "needs at least one matcher" }),
      startsAt: rfc3339Time.optional(),
      endsAt: rfc3339Time.optional(),
      duration: z
        .string()
        .transform((text, ctx) => {
          try {
            return parseDuration(text);
          } catch (error) {
            ctx.addIssue({ code: "custom", message: (error as Error).message });
            return z.NEVER;
          }
        })
        .optional(),
      createdBy: z.string().trim().min(1, { error: "must say who creates the silence" }),
      comment: z.string().default(""),
    })
    .superRefine((input, ctx) => {
      // validateSilence: a silence whose every matcher matches "" would match every alert.
      if (input.matchers.every((m) => matchesValue(m, ""))) {
        ctx.addIssue({
          code: "custom",
          path: ["matchers"],
          message: "at least one matcher must not match the empty string, or the silence would mute every alert",
        });
      }
      if ((input.endsAt === undefined) === (input.duration === undefined)) {
        ctx.addIssue({ code: "custom", path: ["endsAt"], message: "give either endsAt or duration" });
      }
    })
    .transform((input, ctx) => {
      // Alertmanager moves a start in the past to now: a silence cannot act retroactively.
      const requestedStart = input.startsAt ? new Date(input.startsAt) : now;
      const startsAt = requestedStart < now ? now : requestedStart;
      const endsAt = input.endsAt ? new Date(input.endsAt) : new Date(startsAt.getTime() + input.duration! * 1000);
      if (endsAt <= now) {
        ctx.addIssue({
          code: "custom",
          path: [input.endsAt ? "endsAt" : "duration"],
          message: "must end in the future",
        });
        return z.NEVER;
      }
      if (endsAt <= startsAt) {
        ctx.addIssue({
          code: "custom",
          path: [input.endsAt ? "endsAt" : "duration"],
          message: "must end after startsAt",
        });
        return z.NEVER;
      }
      return { matchers: input.matchers, startsAt, endsAt, createdBy: input.createdBy, comment: input.comment };
    });
}

export type SilenceInput = z.output<ReturnType<typeof silenceInputSchema>>;
