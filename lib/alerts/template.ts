/**
 * Annotation templating: the subset of Go text/template that Prometheus alert annotations use
 * (template/template.go NewTemplateExpander; rules/alerting.go prefixes every template with
 * `{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$value := .Value}}`).
 *
 * Supported: text, `{{ }}` actions with `{{-`/`-}}` trimming and comments; `$labels.x`, `$value`,
 * `$externalLabels.x` (and `.Labels.x`, `.Value`, `.ExternalLabels.x`); string and number
 * constants; pipelines; the functions humanize, humanize1024, humanizeDuration,
 * humanizePercentage, toUpper, toLower, title and printf (verbs %d %s %v %f %e %g, optional
 * precision for %f %e %g). Numbers print exactly as Go's fmt prints them.
 * Control structures (if/range/with/...) are refused.
 */
import { GO_STRING_ESCAPES } from "./go-escapes";
import type { Labels } from "./promql";

export interface TemplateData {
  /** The series labels of the alert (`$labels`). */
  labels: Labels;
  /** The sample value (`$value`). */
  value: number;
  externalLabels?: Labels;
}

/** Expands `text`; on a template error returns the text followed by an error marker instead of throwing. */
export function renderTemplate(text: string, data: TemplateData): string {
  try {
    return execute(parseTemplate(text), data);
  } catch (e) {
    if (e instanceof TemplateError) return `${text} <error expanding template: ${e.message}>`;
    throw e;
  }
}

/** Load-time check of a template: the error message, or null when it is valid. */
export function validateTemplate(text: string): string | null {
  try {
    parseTemplate(text);
    return null;
  } catch (e) {
    if (e instanceof TemplateError) return e.message;
    throw e;
  }
}

class TemplateError extends Error {}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

type Operand =
  | { kind: "string"; value: string }
  | { kind: "number"; value: number; isInt: boolean }
  /** `$labels.x` / `.Labels.x` and friends; `key` is null for the whole map or for `$value`. */
  | { kind: "data"; root: "labels" | "externalLabels" | "value"; key: string | null };
interface Command {
  fn: FunctionName | null;
  args: Operand[];
}
type TemplateNode = { kind: "text"; text: string } | { kind: "action"; pipeline: Command[] };

type Word = { kind: "operand"; operand: Operand } | { kind: "identifier"; name: string };
type Token = Word | { kind: "pipe" };

const SPACE = /[ \t\r\n]/;
const CONTROL_KEYWORDS = new Set([
  "if",
  "else",
  "end",
  "range",
  "with",
  "define",
  "template",
  "block",
  "break",
  "continue",
]);

function parseTemplate(text: string): TemplateNode[] {
  const nodes: TemplateNode[] = [];
  let pos = 0;
  let trimNext = false;
  for (;;) {
    const open = text.indexOf("{{", pos);
    let literal = text.slice(pos, open < 0 ? text.length : open);
    if (trimNext) literal = literal.replace(/^[ \t\r\n]+/, "");
    // text/template lex.go: "{{- " (dash then a space) trims the preceding whitespace.
    const trimLeft = open >= 0 && text[open + 2] === "-" && SPACE.test(text[open + 3] ?? "");
    if (trimLeft) literal = literal.replace(/[ \t\r\n]+$/, "");
    if (literal !== "") nodes.push({ kind: "text", text: literal });
    if (open < 0) return nodes;

    const start = open + (trimLeft ? 4 : 2);
    const action = text.startsWith("/*", start) ? skipComment(text, start) : lexAction(text, start);
    if (action.tokens) nodes.push({ kind: "action", pipeline: parsePipeline(action.tokens) });
    pos = action.end;
    trimNext = action.trimRight;
  }
}

/** " -}}" (space, dash) trims the following whitespace. */
function rightDelimiter(text: string, at: number): { end: number; trimRight: boolean } | null {
  if (SPACE.test(text[at] ?? "") && text[at + 1] === "-" && text.startsWith("}}", at + 2)) {
    return { end: at + 4, trimRight: true };
  }
  return text.startsWith("}}", at) ? { end: at + 2, trimRight: false } : null;
}

function skipComment(text: string, start: number): { tokens: null; end: number; trimRight: boolean } {
  const close = text.indexOf("*/", start + 2);
  if (close < 0) throw new TemplateError("unclosed comment");
  const delimiter = rightDelimiter(text, close + 2);
  if (!delimiter) throw new TemplateError("comment ends before closing delimiter");
  return { tokens: null, ...delimiter };
}

function lexAction(text: string, start: number): { tokens: Token[]; end: number; trimRight: boolean } {
  const tokens: Token[] = [];
  let i = start;
  for (;;) {
    const delimiter = rightDelimiter(text, i);
    if (delimiter) return { tokens, ...delimiter };
    if (i >= text.length) throw new TemplateError("unclosed action");
    const c = text[i];
    if (SPACE.test(c)) {
      i++;
    } else if (c === "|") {
      tokens.push({ kind: "pipe" });
      i++;
    } else if (c === '"' || c === "`") {
      const end = findStringEnd(text, i);
      tokens.push({ kind: "operand", operand: { kind: "string", value: unquote(text.slice(i, end)) } });
      i = end;
    } else if (c === "$" || c === ".") {
      const m = /^(\$[A-Za-z0-9_]*)?((?:\.[A-Za-z0-9_]+)*)/.exec(text.slice(i))!;
      if (m[0] === "" || m[0] === "$") throw new TemplateError(`"${c}" (the whole template data) is not supported`);
      tokens.push({ kind: "operand", operand: dataOperand(m[1] ?? null, m[2].split(".").slice(1)) });
      i += m[0].length;
    } else if (/[-+0-9]/.test(c)) {
      const m = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?/.exec(text.slice(i));
      if (!m) throw new TemplateError(`bad number syntax: ${JSON.stringify(text.slice(i, i + 10))}`);
      tokens.push({
        kind: "operand",
        operand: { kind: "number", value: Number(m[0]), isInt: /^[-+]?\d+$/.test(m[0]) },
      });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i))![0];
      tokens.push({ kind: "identifier", name });
      i += name.length;
    } else if (c === "(" || c === ")") {
      throw new TemplateError("parenthesised pipelines are not supported");
    } else if (c === ":" || c === "=") {
      throw new TemplateError("variable declarations are not supported");
    } else {
      throw new TemplateError(`unexpected ${JSON.stringify(c)} in command`);
    }
  }
}

function findStringEnd(text: string, start: number): number {
  const quote = text[start];
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === quote) return i + 1;
    if (quote === '"' && text[i] === "\\") i++;
    else if (quote === '"' && text[i] === "\n") break;
  }
  throw new TemplateError("unterminated quoted string");
}

/** strconv.Unquote for the string constants of a template. */
function unquote(literal: string): string {
  if (literal[0] === "`") return literal.slice(1, -1);
  return literal
    .slice(1, -1)
    .replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)/g, (_, e: string) => {
      if (e in GO_STRING_ESCAPES) return GO_STRING_ESCAPES[e];
      if (/^[xuU]/.test(e) && e.length > 1) return String.fromCodePoint(parseInt(e.slice(1), 16));
      if (/^[0-7]{3}$/.test(e)) return String.fromCharCode(parseInt(e, 8));
      throw new TemplateError(`invalid syntax in string constant: unknown escape "\\${e}"`);
    });
}

const DATA_FIELDS: Record<string, "labels" | "externalLabels" | "value"> = {
  Labels: "labels",
  ExternalLabels: "externalLabels",
  Value: "value",
};
const VARIABLES: Record<string, "labels" | "externalLabels" | "value"> = {
  $labels: "labels",
  $externalLabels: "externalLabels",
  $value: "value",
};

function dataOperand(variable: string | null, fields: string[]): Operand {
  let root: "labels" | "externalLabels" | "value";
  if (variable !== null) {
    if (!Object.hasOwn(VARIABLES, variable)) throw new TemplateError(`undefined variable "${variable}"`);
    root = VARIABLES[variable];
  } else {
    const field = fields.shift()!;
    if (!Object.hasOwn(DATA_FIELDS, field)) throw new TemplateError(`can't evaluate field ${field}`);
    root = DATA_FIELDS[field];
  }
  if (fields.length === 0) return { kind: "data", root, key: null };
  if (root === "value" || fields.length > 1) {
    const typeName = root === "value" ? "float64" : "string";
    throw new TemplateError(`can't evaluate field ${fields[root === "value" ? 0 : 1]} in type ${typeName}`);
  }
  return { kind: "data", root, key: fields[0] };
}

function parsePipeline(tokens: Token[]): Command[] {
  if (tokens.length === 0) throw new TemplateError("missing value for command");
  const stages: Word[][] = [[]];
  for (const t of tokens) {
    if (t.kind === "pipe") stages.push([]);
    else stages[stages.length - 1].push(t);
  }
  return stages.map((stage, index) => parseCommand(stage, index));
}

function parseCommand(words: Word[], stage: number): Command {
  if (words.length === 0) throw new TemplateError("missing command");
  const [head, ...rest] = words;
  if (head.kind === "operand") {
    if (stage > 0) throw new TemplateError(`non executable command in pipeline stage ${stage + 1}`);
    if (rest.length > 0) throw new TemplateError(`can't give argument to non-function ${describe(head.operand)}`);
    return { fn: null, args: [head.operand] };
  }
  if (CONTROL_KEYWORDS.has(head.name)) {
    throw new TemplateError(`"{{ ${head.name} }}" is not supported (no control structures)`);
  }
  if (!Object.hasOwn(FUNCTIONS, head.name)) throw new TemplateError(`function "${head.name}" not defined`);
  const fn = head.name as FunctionName;
  const args = rest.map((w) => {
    if (w.kind === "identifier") throw new TemplateError(`function "${w.name}" as an argument is not supported`);
    return w.operand;
  });
  // A stage after a pipe receives the previous result as its last argument.
  const given = args.length + (stage > 0 ? 1 : 0);
  const { arity } = FUNCTIONS[fn];
  if (arity === "variadic" ? given < 1 : given !== arity) {
    throw new TemplateError(
      `wrong number of args for ${fn}: want ${arity === "variadic" ? "at least 1" : arity} got ${given}`,
    );
  }
  if (fn === "printf" && args[0]?.kind === "string") checkFormat(args[0].value);
  return { fn, args };
}

function describe(o: Operand): string {
  if (o.kind !== "data") return o.kind === "string" ? JSON.stringify(o.value) : String(o.value);
  return o.root === "value" ? "$value" : `$${o.root}${o.key === null ? "" : `.${o.key}`}`;
}

// ---------------------------------------------------------------------------------------------
// Execution
// ---------------------------------------------------------------------------------------------

type Value =
  | { t: "string"; v: string }
  | { t: "float64"; v: number }
  | { t: "int"; v: number }
  | { t: "map[string]string"; v: Labels };

function execute(nodes: TemplateNode[], data: TemplateData): string {
  let out = "";
  for (const node of nodes) {
    if (node.kind === "text") {
      out += node.text;
      continue;
    }
    let result: Value | null = null;
    for (const command of node.pipeline) {
      const args = command.args.map((a) => operandValue(a, data));
      if (result !== null) args.push(result);
      result = command.fn === null ? args[0] : FUNCTIONS[command.fn].call(args);
    }
    out += printValue(result!);
  }
  return out;
}

function operandValue(o: Operand, data: TemplateData): Value {
  switch (o.kind) {
    case "string":
      return { t: "string", v: o.value };
    case "number":
      return o.isInt ? { t: "int", v: o.value } : { t: "float64", v: o.value };
    case "data": {
      if (o.root === "value") return { t: "float64", v: data.value };
      const map = (o.root === "labels" ? data.labels : data.externalLabels) ?? {};
      // Prometheus executes with Option("missingkey=zero"): a missing label is "". Only the map's
      // own keys are labels: `$labels.constructor` or `$labels.__proto__` must not reach the
      // object's internals (a JS object is not a Go map).
      if (o.key === null) return { t: "map[string]string", v: ownLabels(map) };
      return { t: "string", v: Object.hasOwn(map, o.key) ? String(map[o.key]) : "" };
    }
  }
}

/** The labels as a map without a prototype, so no key reaches Object.prototype. */
function ownLabels(labels: Labels): Labels {
  const out: Labels = Object.create(null);
  for (const [k, v] of Object.entries(labels)) out[k] = v;
  return out;
}

/** What fmt.Sprint prints for the value (text/template's printValue). */
function printValue(v: Value): string {
  switch (v.t) {
    case "string":
      return v.v;
    case "int":
      return String(v.v);
    case "float64":
      return formatFloat(v.v, "g", -1);
    case "map[string]string": {
      const keys = Object.keys(v.v).sort();
      return `map[${keys.map((k) => `${k}:${v.v[k]}`).join(" ")}]`;
    }
  }
}

type FunctionName =
  "humanize" | "humanize1024" | "humanizeDuration" | "humanizePercentage" | "toUpper" | "toLower" | "title" | "printf";

const FUNCTIONS: Record<FunctionName, { arity: number | "variadic"; call(args: Value[]): Value }> = {
  humanize: { arity: 1, call: ([a]) => str(humanize(toFloat(a))) },
  humanize1024: { arity: 1, call: ([a]) => str(humanize1024(toFloat(a))) },
  humanizeDuration: { arity: 1, call: ([a]) => str(humanizeDuration(toFloat(a))) },
  humanizePercentage: { arity: 1, call: ([a]) => str(`${formatFloat(toFloat(a) * 100, "g", 4)}%`) },
  toUpper: { arity: 1, call: ([a]) => str(mapRunes(toStr(a), (r) => simpleCase(r.toUpperCase(), r))) },
  toLower: { arity: 1, call: ([a]) => str(mapRunes(toStr(a), (r) => simpleCase(r.toLowerCase(), r))) },
  title: { arity: 1, call: ([a]) => str(title(toStr(a))) },
  printf: { arity: "variadic", call: ([format, ...args]) => str(sprintf(toStr(format), args)) },
};

function str(v: string): Value {
  return { t: "string", v };
}

function toStr(v: Value): string {
  if (v.t !== "string") throw new TemplateError(`wrong type for value; expected string; got ${v.t}`);
  return v.v;
}

/** template.go convertToFloat: floats, ints, and strings via strconv.ParseFloat. */
function toFloat(v: Value): number {
  switch (v.t) {
    case "float64":
    case "int":
      return v.v;
    case "string": {
      const s = v.v;
      if (/^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(s)) return Number(s);
      const special = /^([+-]?)(inf|infinity|nan)$/i.exec(s);
      if (special) return special[2].toLowerCase() === "nan" ? NaN : special[1] === "-" ? -Infinity : Infinity;
      throw new TemplateError(`strconv.ParseFloat: parsing ${JSON.stringify(s)}: invalid syntax`);
    }
    default:
      throw new TemplateError(`can't convert ${v.t} to float`);
  }
}

const BIG_PREFIXES = ["k", "M", "G", "T", "P", "E", "Z", "Y"];
const SMALL_PREFIXES = ["m", "u", "n", "p", "f", "a", "z", "y"];

/** Scales |v| < 1 up by 1000s, returning the value and its SI prefix (template.go). */
function scaleSmall(v: number): [number, string] {
  let prefix = "";
  for (const p of SMALL_PREFIXES) {
    if (Math.abs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return [v, prefix];
}

function humanize(v: number): string {
  if (v === 0 || !Number.isFinite(v)) return formatFloat(v, "g", 4);
  if (Math.abs(v) >= 1) {
    let prefix = "";
    for (const p of BIG_PREFIXES) {
      if (Math.abs(v) < 1000) break;
      prefix = p;
      v /= 1000;
    }
    return formatFloat(v, "g", 4) + prefix;
  }
  const [scaled, prefix] = scaleSmall(v);
  return formatFloat(scaled, "g", 4) + prefix;
}

function humanize1024(v: number): string {
  if (Math.abs(v) <= 1 || !Number.isFinite(v)) return formatFloat(v, "g", 4);
  let prefix = "";
  for (const p of ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"]) {
    if (Math.abs(v) < 1024) break;
    prefix = p;
    v /= 1024;
  }
  return formatFloat(v, "g", 4) + prefix;
}

function humanizeDuration(v: number): string {
  if (!Number.isFinite(v)) return formatFloat(v, "g", 4);
  if (v === 0) return `${formatFloat(v, "g", 4)}s`;
  if (Math.abs(v) >= 1) {
    const sign = v < 0 ? "-" : "";
    v = Math.abs(v);
    const duration = Math.trunc(v); // int64(v)
    const seconds = duration % 60;
    const minutes = Math.trunc(duration / 60) % 60;
    const hours = Math.trunc(duration / 3600) % 24;
    const days = Math.trunc(duration / 86400);
    // For days to minutes, seconds are shown as an integer.
    if (days !== 0) return `${sign}${days}d ${hours}h ${minutes}m ${seconds}s`;
    if (hours !== 0) return `${sign}${hours}h ${minutes}m ${seconds}s`;
    if (minutes !== 0) return `${sign}${minutes}m ${seconds}s`;
    return `${sign}${formatFloat(v, "g", 4)}s`;
  }
  const [scaled, prefix] = scaleSmall(v);
  return `${formatFloat(scaled, "g", 4)}${prefix}s`;
}

/** Iterates code points (Go ranges over runes, not UTF-16 units). */
function mapRunes(s: string, f: (rune: string, prev: string | null) => string): string {
  let out = "";
  let prev: string | null = null;
  for (const r of s) {
    out += f(r, prev);
    prev = r;
  }
  return out;
}

/** Go's strings.ToUpper maps rune by rune; JS may expand one (ß → SS), Go keeps it. */
function simpleCase(mapped: string, original: string): string {
  return [...mapped].length === 1 ? mapped : original;
}

/** strings.Title: upper-case the first rune of each word; isSeparator decides what ends a word. */
function title(s: string): string {
  const isSeparator = (r: string) => {
    if (r.codePointAt(0)! <= 0x7f) return !/[A-Za-z0-9_]/.test(r);
    if (/[\p{L}\p{Nd}]/u.test(r)) return false;
    return /\s/u.test(r);
  };
  return mapRunes(s, (r, prev) => (prev === null || isSeparator(prev) ? simpleCase(r.toUpperCase(), r) : r));
}

// --- printf ------------------------------------------------------------------------------------

const VERB_RE = /%(?:\.(\d+))?([\s\S])|%$/g;

/**
 * The largest printf precision accepted. Go allows up to 10⁶, but each digit is work and memory
 * on the evaluation loop: `%.1000000000f` would build a billion-character string. No alert text
 * needs more than a few decimals.
 */
export const MAX_PRINTF_PRECISION = 100;

function checkFormat(format: string): void {
  for (const m of format.matchAll(VERB_RE)) {
    const [whole, precision, verb] = m;
    if (whole === "%") throw new TemplateError(`printf: format ${JSON.stringify(format)} ends with "%"`);
    if (verb === "%" && precision === undefined) continue;
    if (precision !== undefined && Number(precision) > MAX_PRINTF_PRECISION) {
      throw new TemplateError(
        `printf: precision ${precision.length > 12 ? `${precision.slice(0, 12)}…` : precision} is over the limit of ${MAX_PRINTF_PRECISION}`,
      );
    }
    if (!"dsvfeg".includes(verb) || (precision !== undefined && !"feg".includes(verb))) {
      throw new TemplateError(
        `printf: unsupported verb ${JSON.stringify(whole)} (supported: %d %s %v %f %e %g, precision for %f %e %g)`,
      );
    }
  }
}

/** fmt.Sprintf for the supported verbs, with Go's %!verb(type=value), MISSING and EXTRA markers. */
function sprintf(format: string, args: Value[]): string {
  checkFormat(format);
  let next = 0;
  const out = format.replace(VERB_RE, (_whole, precision: string | undefined, verb: string) => {
    if (verb === "%") return "%";
    if (next >= args.length) return `%!${verb}(MISSING)`;
    return formatVerb(verb, precision === undefined ? -1 : Number(precision), args[next++]);
  });
  if (next >= args.length) return out;
  const extra = args.slice(next).map((a) => `${a.t}=${printValue(a)}`);
  return `${out}%!(EXTRA ${extra.join(", ")})`;
}

function formatVerb(verb: string, precision: number, arg: Value): string {
  switch (verb) {
    case "v":
      return printValue(arg);
    case "s":
      if (arg.t === "string" || arg.t === "map[string]string") return printValue(arg);
      break;
    case "d":
      if (arg.t === "int") return String(arg.v);
      break;
    default:
      // %e %f default to 6 decimals, %g to the shortest representation.
      if (arg.t === "float64")
        return formatFloat(arg.v, verb as "e" | "f" | "g", precision < 0 && verb !== "g" ? 6 : precision);
  }
  return `%!${verb}(${arg.t}=${printValue(arg)})`;
}

// --- Go float formatting (strconv.FormatFloat as fmt uses it) -----------------------------------

/** A decimal 0.d1d2… × 10^dp; digits carry no leading or trailing zeros ("" is zero). */
interface Decimal {
  digits: string;
  dp: number;
  neg: boolean;
}

/**
 * Formats like Go's fmt with verb e, f or g; precision -1 is the shortest representation that
 * round-trips (what %v prints). Rounding is on the exact binary value, half to even, as in
 * strconv (ftoa.go), which is why JS toPrecision/toFixed cannot be used: they round ties away.
 */
function formatFloat(x: number, verb: "e" | "f" | "g", precision: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (isInfinite(x)) return x > 0 ? "+Inf" : "-Inf";
  const shortest = precision < 0;
  let prec = precision;
  let d: Decimal;
  if (shortest) {
    d = shortestDecimal(x);
    prec =
      verb === "e"
        ? Math.max(d.digits.length - 1, 0)
        : verb === "f"
          ? Math.max(d.digits.length - d.dp, 0)
          : d.digits.length;
  } else {
    d = exactDecimal(x);
    if (verb === "e") d = roundDecimal(d, prec + 1);
    else if (verb === "f") d = roundDecimal(d, d.dp + prec);
    else {
      if (prec === 0) prec = 1;
      d = roundDecimal(d, prec);
    }
  }
  if (verb === "e") return formatE(d, prec);
  if (verb === "f") return formatF(d, prec);
  // %g: %e when the exponent is < -4 or >= the precision (6 for the shortest form).
  const nd = d.digits.length;
  let eprec = prec;
  if (eprec > nd && nd >= d.dp) eprec = nd;
  if (shortest) eprec = 6;
  const exp = d.dp - 1;
  if (exp < -4 || exp >= eprec) return formatE(d, Math.min(prec, nd) - 1);
  return formatF(d, Math.max((prec > d.dp ? nd : prec) - d.dp, 0));
}

function isInfinite(x: number): boolean {
  return x === Infinity || x === -Infinity;
}

function trimZeros(digits: string, dp: number, neg: boolean): Decimal {
  const trimmed = digits.replace(/0+$/, "");
  return { digits: trimmed, dp: trimmed === "" ? 0 : dp, neg };
}

function shortestDecimal(x: number): Decimal {
  const [mantissa, exponent] = Math.abs(x).toExponential().split("e");
  return trimZeros(mantissa.replace(".", ""), Number(exponent) + 1, x < 0 || Object.is(x, -0));
}

/** The exact decimal expansion of a double: mantissa × 2^e written out with BigInt. */
function exactDecimal(x: number): Decimal {
  const neg = x < 0 || Object.is(x, -0);
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(x));
  const bits = view.getBigUint64(0);
  const biasedExp = Number((bits >> 52n) & 0x7ffn);
  let mantissa = bits & ((1n << 52n) - 1n);
  if (biasedExp !== 0) mantissa |= 1n << 52n;
  const e = (biasedExp === 0 ? 1 : biasedExp) - 1075;
  if (mantissa === 0n) return { digits: "", dp: 0, neg };
  if (e >= 0) {
    const digits = (mantissa << BigInt(e)).toString();
    return trimZeros(digits, digits.length, neg);
  }
  // mantissa / 2^k = mantissa × 5^k / 10^k
  const digits = (mantissa * 5n ** BigInt(-e)).toString();
  return trimZeros(digits, digits.length + e, neg);
}

/** strconv decimal.Round: keep nd digits, an exact tie rounds to even. */
function roundDecimal(d: Decimal, nd: number): Decimal {
  if (nd < 0 || nd >= d.digits.length) return d;
  const next = d.digits[nd];
  const tie = next === "5" && nd + 1 === d.digits.length;
  const up = tie ? nd > 0 && Number(d.digits[nd - 1]) % 2 === 1 : next >= "5";
  if (!up) return trimZeros(d.digits.slice(0, nd), d.dp, d.neg);
  let i = nd - 1;
  while (i >= 0 && d.digits[i] === "9") i--;
  if (i < 0) return { digits: "1", dp: d.dp + 1, neg: d.neg };
  return trimZeros(d.digits.slice(0, i) + String(Number(d.digits[i]) + 1), d.dp, d.neg);
}

/** ftoa.go fmtE: d.ddde±dd. */
function formatE(d: Decimal, prec: number): string {
  let s = (d.neg ? "-" : "") + (d.digits[0] ?? "0");
  if (prec > 0) s += "." + d.digits.slice(1, prec + 1).padEnd(prec, "0");
  const exp = d.digits === "" ? 0 : d.dp - 1;
  return `${s}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
}

/** ftoa.go fmtF: ddd.ddd. */
function formatF(d: Decimal, prec: number): string {
  let s = d.neg ? "-" : "";
  s += d.dp > 0 ? d.digits.slice(0, d.dp).padEnd(d.dp, "0") : "0";
  if (prec > 0) {
    s += ".";
    for (let i = 1; i <= prec; i++) {
      const j = d.dp + i - 1;
      s += j >= 0 && j < d.digits.length ? d.digits[j] : "0";
    }
  }
  return s;
}
