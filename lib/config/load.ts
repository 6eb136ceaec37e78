import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import {
  type Document,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node as YamlNode,
  parseDocument,
} from "yaml";
import type { z } from "zod";
import {
  allowedKeysAt,
  type BrokerwatchConfig,
  BrokerwatchConfigSchema,
  describeValue,
  findDuplicateNames,
} from "./schema";

/**
 * Reads `brokerwatch.yaml`: YAML → `${VAR}` interpolation → zod validation, with
 * every problem reported as `file:line:col: path: what is wrong`, all at once.
 *
 * Interpolation: `${NAME}` in any string value is replaced by the environment
 * variable NAME; an unset variable is an error (an empty one is used as is).
 * `$${` writes a literal `${` (as in Docker Compose, and unlike `\${`, it needs no
 * care inside YAML double quotes, where `\$` is an invalid escape); a `$` not
 * followed by `{`, such as `pa$$word` or `{{ $labels.broker }}`, is left alone.
 * Keys are never interpolated, and substituted text is not scanned again.
 */

export interface ConfigIssue {
  /** where in the document, e.g. `brokers[1].url`; empty for the file itself */
  path: string;
  line: number | null;
  column: number | null;
  message: string;
}

/** An invalid config file: `message` holds one `file:line:col: path: problem` line per issue. */
export class ConfigError extends Error {
  readonly fileName: string;
  readonly issues: ConfigIssue[];

  constructor(fileName: string, issues: ConfigIssue[]) {
    super(issues.map((issue) => formatIssue(fileName, issue)).join("\n"));
    this.name = "ConfigError";
    this.fileName = fileName;
    this.issues = issues;
  }
}

function formatIssue(fileName: string, issue: ConfigIssue): string {
  const where = issue.line === null ? fileName : `${fileName}:${issue.line}:${issue.column ?? 1}`;
  return issue.path === "" ? `${where}: ${issue.message}` : `${where}: ${issue.path}: ${issue.message}`;
}

type PathSegment = string | number;

/** `brokers[1].url`; keys that are not identifiers are quoted: `headers["X-Api-Key"]`. */
function formatPath(path: readonly PropertyKey[]): string {
  let formatted = "";
  for (const segment of path) {
    if (typeof segment === "number") formatted += `[${segment}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(String(segment))) formatted += `${formatted ? "." : ""}${String(segment)}`;
    else formatted += `[${JSON.stringify(String(segment))}]`;
  }
  return formatted;
}

/** An issue found before positions are attached: `at: "key"` points at the key itself (a typo, a bad label name). */
interface PendingIssue {
  path: readonly PropertyKey[];
  at: "key" | "value";
  message: string;
}

export interface ParseConfigOptions {
  /** how the file is named in error messages */
  fileName: string;
  env: Record<string, string | undefined>;
}

/** Parses and validates the text of a config file. Throws ConfigError listing every problem. */
export function parseConfig(text: string, opts: ParseConfigOptions): BrokerwatchConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const position = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };

  if (doc.errors.length > 0) {
    // The rest of the document cannot be trusted after a syntax error, so stop here.
    throw new ConfigError(
      opts.fileName,
      doc.errors.map((error) => ({ path: "", ...position(error.pos[0]), message: yamlErrorInPlainWords(error) })),
    );
  }

  const documentIssues: PendingIssue[] = [];
  let document: unknown;
  try {
    document =
      toPlainValue(doc.contents, [], { doc, env: opts.env, issues: documentIssues, expanding: new Set(), resolved: new Map(), values: 0, textChars: 0 }) ?? {};
  } catch (err) {
    if (!(err instanceof ExpansionLimit)) throw err;
    const offset = offsetOf(doc, err.path, "value");
    const at = offset === null ? { line: null, column: null } : position(offset);
    throw new ConfigError(opts.fileName, [{ path: formatPath(err.path), ...at, message: err.message }]);
  }
  // A value whose interpolation failed still holds its `${...}` text; validating it would only repeat the problem.
  const unresolved = new Set(documentIssues.map((issue) => formatPath(issue.path)));

  const result = BrokerwatchConfigSchema.safeParse(document, { error: inPlainWords, reportInput: true });
  const validationIssues: PendingIssue[] = [
    ...(result.success ? [] : result.error.issues.flatMap(fromZodIssue)),
    ...findDuplicateNames(document).map((duplicate) => ({ ...duplicate, at: "value" as const })),
  ].filter((issue) => !unresolved.has(formatPath(issue.path)));

  const issues = [...documentIssues, ...validationIssues]
    .map((issue): ConfigIssue => {
      const offset = offsetOf(doc, issue.path, issue.at);
      return {
        path: formatPath(issue.path),
        ...(offset === null ? { line: null, column: null } : position(offset)),
        message: issue.message,
      };
    })
    // Document order, so the list reads top to bottom like the file.
    .sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));

  if (!result.success || issues.length > 0) throw new ConfigError(opts.fileName, issues);
  return result.data;
}

/**
 * `BROKERWATCH_CONFIG` when set and not empty, else `brokerwatch.yaml` in `cwd`
 * when it exists, else null: running without a config file is normal.
 */
export function resolveConfigPath(env: Record<string, string | undefined>, cwd = "."): string | null {
  if (env.BROKERWATCH_CONFIG) return env.BROKERWATCH_CONFIG;
  const defaultPath = join(cwd, "brokerwatch.yaml");
  return existsSync(defaultPath) ? defaultPath : null;
}

/**
 * Reads and parses the config file at `path`. A missing file gives null, unless
 * it is the file `BROKERWATCH_CONFIG` names: an operator who points at a file
 * means it, and starting without their brokers and rules would hide the typo.
 */
export async function loadConfigFile(
  path: string,
  env: Record<string, string | undefined> = process.env,
): Promise<BrokerwatchConfig | null> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const namedByEnv = env.BROKERWATCH_CONFIG ? resolve(env.BROKERWATCH_CONFIG) === resolve(path) : false;
    if (code === "ENOENT" && !namedByEnv) return null;
    const message =
      code === "ENOENT"
        ? "file not found (BROKERWATCH_CONFIG points at it)"
        : `cannot read the file: ${(error as Error).message}`;
    throw new ConfigError(path, [{ path: "", line: null, column: null, message }]);
  }
  return parseConfig(text, { fileName: path, env });
}

// ---------------------------------------------------------------------------
// YAML → plain values, with interpolation

interface Walk {
  doc: Document;
  env: Record<string, string | undefined>;
  /** unset variables and other problems found while reading the YAML */
  issues: PendingIssue[];
  /** collections being converted, to catch an alias inside the collection it names */
  expanding: Set<unknown>;
  /** each alias node's target, looked up once */
  resolved: Map<unknown, unknown>;
  /** values produced so far, aliases expanded (MAX_CONFIG_VALUES) */
  values: number;
  /** characters of text read so far, aliases expanded (MAX_CONFIG_TEXT_CHARS) */
  textChars: number;
}

/**
 * What the file may expand to once its aliases are followed. This walk replaces yaml's toJS(), and
 * with it toJS's `maxAliasCount`: without a bound, nine levels of an anchor aliased ten times over
 * (the "billion laughs") ran for minutes and took gigabytes (issue 18). A real config, thousands of
 * brokers and rules included, is far below both.
 */
export const MAX_CONFIG_VALUES = 200_000;
export const MAX_CONFIG_TEXT_CHARS = 16 * 1024 * 1024;

class ExpansionLimit extends Error {
  constructor(
    readonly path: PathSegment[],
    message: string,
  ) {
    super(message);
  }
}

function toPlainValue(node: unknown, path: PathSegment[], walk: Walk): unknown {
  if (++walk.values > MAX_CONFIG_VALUES) {
    throw new ExpansionLimit(
      path,
      `the file expands to more than ${MAX_CONFIG_VALUES.toLocaleString("en")} values once its YAML aliases (*name) are followed: an alias of an alias repeats a block exponentially; write the values out or alias less`,
    );
  }
  if (isScalar(node) && typeof node.value === "string") {
    walk.textChars += node.value.length;
    if (walk.textChars > MAX_CONFIG_TEXT_CHARS) {
      throw new ExpansionLimit(
        path,
        `the file expands to more than ${MAX_CONFIG_TEXT_CHARS / 1024 / 1024} MiB of text once its YAML aliases (*name) are followed: alias long values less often`,
      );
    }
  }
  if (isAlias(node)) {
    // resolve() searches the document for the anchor every time: once per alias node is enough
    let target = walk.resolved.get(node);
    if (target === undefined && !walk.resolved.has(node)) {
      target = node.resolve(walk.doc);
      walk.resolved.set(node, target);
    }
    // yaml reports an unknown anchor only when converting with toJS(), which this walk replaces.
    if (target === undefined) {
      walk.issues.push({ path, at: "value", message: `*${node.source} refers to no anchor &${node.source} above it` });
      return null;
    }
    return toPlainValue(target, path, walk);
  }
  if (isMap(node) || isSeq(node)) {
    if (walk.expanding.has(node)) {
      walk.issues.push({ path, at: "value", message: "this alias refers to the collection that contains it" });
      return null;
    }
    walk.expanding.add(node);
    const value = isMap(node)
      ? // fromEntries defines own properties, so a `__proto__:` key is just an unknown key.
        Object.fromEntries(
          node.items.map((pair) => {
            const key = keyText(pair.key);
            return [key, toPlainValue(pair.value, [...path, key], walk)];
          }),
        )
      : node.items.map((item, index) => toPlainValue(item, [...path, index], walk));
    walk.expanding.delete(node);
    return value;
  }
  if (isScalar(node)) {
    return typeof node.value === "string" ? interpolate(node.value, path, walk) : node.value;
  }
  // `key:` with nothing after it
  return null;
}

function keyText(key: unknown): string {
  if (isScalar(key)) return String(key.value);
  return String(key);
}

/** `$${` (escape), or `${` up to the next `}`; a missing `}` leaves the second group empty. */
const VARIABLE_REFERENCE = /\$\$\{|\$\{([^}]*)(\}?)/g;
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function interpolate(text: string, path: PathSegment[], walk: Walk): string {
  const problem = (message: string) => walk.issues.push({ path, at: "value", message });
  return text.replace(VARIABLE_REFERENCE, (reference, name: string | undefined, closingBrace: string | undefined) => {
    if (name === undefined) return "${";
    if (closingBrace === "") {
      problem("has ${ without a closing }; write $${ for a literal ${");
    } else if (!VARIABLE_NAME.test(name)) {
      problem(
        `${reference} is not a variable reference: names are letters, digits and _ (defaults like \${VAR:-x} are not supported); write $\${ for a literal \${`,
      );
    } else {
      const value = walk.env[name];
      if (typeof value === "string") return value;
      problem(`environment variable ${name} is not set`);
    }
    return reference;
  });
}

// ---------------------------------------------------------------------------
// Positions

/** Where `path` starts in the source; when the path runs out (a missing key), the nearest enclosing node. */
function offsetOf(doc: Document, path: readonly PropertyKey[], at: "key" | "value"): number | null {
  let node: unknown = doc.contents;
  let offset = rangeStart(node);
  for (const [i, segment] of path.entries()) {
    if (isAlias(node)) node = node.resolve(doc);
    let next: unknown;
    if (isMap(node)) {
      const pair = node.items.find((item) => isPair(item) && keyText(item.key) === String(segment));
      if (!pair) break;
      if (at === "key" && i === path.length - 1) return rangeStart(pair.key) ?? offset;
      // `key:` with no value: point at the key.
      next = pair.value ?? pair.key;
    } else if (isSeq(node) && typeof segment === "number") {
      next = node.items[segment];
    }
    const nextOffset = rangeStart(next);
    if (nextOffset === null) break;
    node = next;
    offset = nextOffset;
  }
  return offset;
}

function rangeStart(node: unknown): number | null {
  const range = (node as YamlNode | null | undefined)?.range;
  return range ? range[0] : null;
}

// ---------------------------------------------------------------------------
// Messages in an operator's words

function yamlErrorInPlainWords(error: { code: string; message: string }): string {
  switch (error.code) {
    case "DUPLICATE_KEY":
      return "YAML: this key appears twice in the same mapping";
    case "MULTIPLE_DOCS":
      return "YAML: the file holds more than one document (a second ---); brokerwatch reads one";
    default:
      return `YAML: ${error.message}`;
  }
}

const EXPECTED_IN_WORDS: Record<string, string> = {
  string: "text",
  number: "a number",
  int: "a whole number",
  boolean: "true or false",
  array: "a list (lines starting with -)",
  object: "a mapping (key: value lines)",
  record: "a mapping (key: value lines)",
};

/**
 * zod's generic messages rewritten; messages set in schema.ts take precedence.
 * Secret fields carry their own message there, so echoing the input here is safe.
 */
const inPlainWords: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case "invalid_type":
      if (issue.input === undefined) return "is required but missing";
      if (issue.expected === "string" && (typeof issue.input === "number" || typeof issue.input === "boolean")) {
        return `must be text; YAML read ${String(issue.input)} as a ${typeof issue.input}, so put it in quotes`;
      }
      return `must be ${EXPECTED_IN_WORDS[issue.expected] ?? issue.expected} (got ${describeValue(issue.input)})`;
    case "invalid_value":
      return `must be one of ${issue.values.map(String).join(", ")} (got ${describeValue(issue.input)})`;
    case "too_small":
      if (issue.origin === "string" && issue.minimum === 1) return "must not be empty";
      if (issue.origin === "array") return `must list at least ${String(issue.minimum)}`;
      return undefined;
    default:
      return undefined;
  }
};

function fromZodIssue(issue: z.core.$ZodIssue): PendingIssue[] {
  if (issue.code === "unrecognized_keys") {
    const allowed = allowedKeysAt(issue.path);
    return issue.keys.map((key) => ({
      path: [...issue.path, key],
      at: "key" as const,
      message: unknownKeyMessage(key, allowed),
    }));
  }
  if (issue.code === "invalid_key") {
    return [{ path: issue.path, at: "key", message: issue.issues[0]?.message ?? issue.message }];
  }
  return [{ path: issue.path, at: "value", message: issue.message }];
}

/** A typo like `maxConnection` or `keepFiringFor` must not be silently ignored; name the key it probably meant. */
function unknownKeyMessage(key: string, allowed: readonly string[]): string {
  const squash = (word: string) => word.toLowerCase().replace(/[_-]/g, "");
  const closest = allowed
    .map((candidate) => ({ candidate, distance: editDistance(squash(key), squash(candidate)) }))
    .sort((a, b) => a.distance - b.distance)[0];
  if (closest && closest.distance <= 2) return `unknown key; did you mean ${closest.candidate}?`;
  return allowed.length > 0 ? `unknown key; expected one of ${allowed.join(", ")}` : "unknown key";
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}
