/**
 * Regular expressions written by users (rule label matchers, silence matchers), compiled with
 * re2js, a port of RE2: matching takes time linear in the input whatever the pattern, so a
 * pattern like `(a*)*b` or `.*.*…!` cannot stall the process the way a backtracking engine
 * (JS `RegExp`) does. RE2 syntax is also what PromQL and Alertmanager document, so `(?i)`,
 * `(?P<name>…)` and `\pL` mean what they mean in Prometheus, and look-arounds and backreferences
 * are refused as they are there.
 *
 * Never build a `RegExp` from user text anywhere in the app: use `compileLabelRegex`.
 */
import { RE2JS } from "re2js";

/**
 * The longest pattern accepted. RE2 compiles in time linear in the pattern, but matching costs
 * pattern size × input length, and no label matcher needs more than a long alternation of names.
 */
export const MAX_REGEX_LENGTH = 1024;

/** A pattern that RE2 does not accept or that is over `MAX_REGEX_LENGTH`; the message is for the user. */
export class RegexError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RegexError";
  }
}

export interface LabelRegex {
  /** True when the whole of `value` matches (anchored at both ends, like Prometheus). */
  matches(value: string): boolean;
}

const cache = new Map<string, LabelRegex>();
const CACHE_SIZE = 256;

/**
 * Compiles a label-matcher pattern, fully anchored: Prometheus compiles `^(?s:re)$`
 * (model/labels/regexp.go), Alertmanager `^(?:re)$` (pkg/labels/matcher.go), so `dotAll` picks
 * between the two. Anchoring is done by RE2's whole-input match rather than by wrapping the text,
 * so a pattern such as `a)|(b` cannot escape the anchors.
 */
export function compileLabelRegex(source: string, opts: { dotAll: boolean }): LabelRegex {
  if (source.length > MAX_REGEX_LENGTH) {
    throw new RegexError(`regular expression is ${source.length} characters long, the limit is ${MAX_REGEX_LENGTH}`);
  }
  const key = `${opts.dotAll ? "s" : "-"}${source}`;
  const known = cache.get(key);
  if (known) return known;
  let re: RE2JS;
  try {
    re = RE2JS.compile(source, opts.dotAll ? RE2JS.DOTALL : 0);
  } catch (err) {
    throw new RegexError(`invalid regular expression ${JSON.stringify(source)}: ${(err as Error).message}`);
  }
  const compiled: LabelRegex = { matches: (value) => re.matches(value) };
  if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!);
  cache.set(key, compiled);
  return compiled;
}
