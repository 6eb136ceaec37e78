/**
 * `npm run check:layers`: the layering rule of docs/architecture.md §5, checked on the imports the
 * TypeScript compiler resolves (with tsconfig's `@/` alias), one line per violation:
 *
 *   drizzle-only-in-db    drizzle-orm is imported only under db/ (and drizzle.config.ts)
 *   db-no-lib-values      db/ imports no value from lib/ (`import type` is fine)
 *   components-no-db      components/ import nothing from db/
 *   no-folder-cycle       no cycle between app, components, lib, db, broker, server (value imports)
 *   sql-only-in-db        no SQL outside db/: no SQL tagged template (LISTEN/NOTIFY and advisory
 *                         locks included), no postgres.js or PGlite import, no use of the raw
 *                         `database.postgres` handle
 *   db-server-only        every db/ query module (one importing drizzle-orm values) imports
 *                         "server-only", so it can never reach a client bundle
 *   app-db-through-lib    app/ imports no value from db/: pages and routes reach it through lib/
 *                         (which authorises)
 *   http-errors-in-api    the HTTP error type (ApiError of lib/http.ts) is used only by the HTTP
 *                         edge (app/, lib/api/): the domain throws its own errors. Files that
 *                         still do are listed in HTTP_ERROR_BASELINE, which may only shrink
 *
 * Exits 1 when there is any violation. `checkLayers(root)` is what test/layers.test.ts runs.
 */
import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

export type LayerRule =
  | "drizzle-only-in-db"
  | "db-no-lib-values"
  | "components-no-db"
  | "no-folder-cycle"
  | "sql-only-in-db"
  | "db-server-only"
  | "app-db-through-lib"
  | "http-errors-in-api";

/**
 * Domain modules that still throw the HTTP error type (issue 20 found them; each is to move to a
 * domain error mapped in lib/api). The check fails for any other file, and for a file listed here
 * that no longer needs to be, so the list only shrinks.
 */
export const HTTP_ERROR_BASELINE: readonly string[] = [
  "lib/alerts/preview.ts",
  "lib/auth/api.ts",
  "lib/collector/shipping.ts",
  "lib/settings/brokers.ts",
  "lib/settings/input.ts",
  "lib/settings/rules.ts",
  "lib/settings/tokens.ts",
  "lib/settings/users.ts",
  "lib/settings/webhooks.ts",
];
/** Where the HTTP error type belongs: the route handlers, lib/api/, and its definition. */
const HTTP_EDGE = [/^app\//, /^lib\/api\//, /^lib\/http\.ts$/];
/** db/ modules exempt from server-only: the handle (drizzle-kit and scripts load it) and the schema. */
const SERVER_ONLY_EXEMPT = new Set(["db/client.ts", "db/schema.ts"]);
/** What opens a SQL statement, or a Postgres lock function anywhere in one. */
const SQL_TEXT =
  /^\s*(select\b[\s\S]*\b(from|as)\b|insert\s+into\b|update\s+\S+\s+set\b|delete\s+from\b|with\s+\w+\s+as\s*\(|(un)?listen\s+\w|notify\s+\w|(create|alter|drop)\s+(table|index|function|trigger|view)\b|truncate\b|copy\s+\S+\s+(from|to)\b|lock\s+table\b)|pg_(try_)?advisory|pg_notify/i;

export interface LayerViolation {
  rule: LayerRule;
  /** the importing file, relative to the root, with `/` separators */
  file: string;
  /** the module specifier as written */
  imports: string;
  message: string;
}

/** Folders whose files are checked, in the order the layering goes (outermost first). */
export const LAYER_FOLDERS = ["app", "components", "lib", "db", "broker", "server"] as const;
/** Also checked for the drizzle rule, outside the layers: the scripts and drizzle-kit's config. */
const OTHER_FOLDERS = ["scripts"];
const DRIZZLE_ALLOWED = [/^db\//, /^drizzle\.config\.ts$/];

interface ImportEdge {
  specifier: string;
  /** `import type …`, `export type … from`, or every named specifier marked `type` */
  typeOnly: boolean;
}

function sourceFiles(root: string, folder: string): string[] {
  const dir = path.join(root, folder);
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  const files: string[] = [];
  for (const entry of entries) {
    if (entry === "node_modules" || entry.startsWith(".")) continue;
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) files.push(...sourceFiles(root, path.join(folder, entry)));
    else if (/\.(ts|tsx|mts|cts)$/.test(entry) && !entry.endsWith(".d.ts")) files.push(full);
  }
  return files;
}

function importsOf(file: string, text: string): ImportEdge[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false);
  const edges: ImportEdge[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const named = clause?.namedBindings && ts.isNamedImports(clause.namedBindings) ? clause.namedBindings : null;
      const typeOnly =
        !!clause &&
        (clause.isTypeOnly ||
          (!clause.name && !!named && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly)));
      edges.push({ specifier: node.moduleSpecifier.text, typeOnly });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const named = node.exportClause && ts.isNamedExports(node.exportClause) ? node.exportClause : null;
      const typeOnly =
        node.isTypeOnly || (!!named && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly));
      edges.push({ specifier: node.moduleSpecifier.text, typeOnly });
    } else if (
      ts.isCallExpression(node) &&
      (node.expression.kind === ts.SyntaxKind.ImportKeyword ||
        (ts.isIdentifier(node.expression) && node.expression.text === "require")) &&
      node.arguments.length === 1 &&
      ts.isStringLiteralLike(node.arguments[0])
    ) {
      edges.push({ specifier: node.arguments[0].text, typeOnly: false });
    } else if (
      ts.isImportTypeNode(node) &&
      ts.isLiteralTypeNode(node.argument) &&
      ts.isStringLiteral(node.argument.literal)
    ) {
      edges.push({ specifier: node.argument.literal.text, typeOnly: true });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return edges;
}

/** SQL written outside db/: tagged templates with SQL text, and uses of the raw driver handle. */
function sqlUses(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false);
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isTaggedTemplateExpression(node)) {
      const head = ts.isNoSubstitutionTemplateLiteral(node.template) ? node.template.text : node.template.head.text;
      const whole = node.template.getText(source);
      if (SQL_TEXT.test(head) || /pg_(try_)?advisory|pg_notify/i.test(whole)) found.push(`${node.tag.getText(source)}\`${head.trim().slice(0, 40)}…\``);
    } else if (ts.isPropertyAccessExpression(node) && node.name.text === "postgres") {
      found.push(node.getText(source));
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** Whether a file imports "server-only" (a bare import), and whether it imports drizzle-orm values. */
function serverOnlyFacts(edges: ImportEdge[]): { serverOnly: boolean; drizzleValues: boolean } {
  return {
    serverOnly: edges.some((e) => e.specifier === "server-only"),
    drizzleValues: edges.some((e) => e.specifier === "drizzle-orm" && !e.typeOnly),
  };
}

/** Whether the file names ApiError (imports or re-exports it) from lib/http. */
function usesHttpError(file: string, text: string): boolean {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false);
  let uses = false;
  const visit = (node: ts.Node) => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier) &&
      /(^|\/)http$/.test(node.moduleSpecifier.text) &&
      /\bApiError\b/.test(node.getText(source))
    ) {
      uses = true;
    }
    if (!uses) ts.forEachChild(node, visit);
  };
  visit(source);
  return uses;
}

function topFolder(relative: string): string | null {
  const first = relative.split("/")[0];
  return (LAYER_FOLDERS as readonly string[]).includes(first) && relative.includes("/") ? first : null;
}

function isDrizzle(specifier: string): boolean {
  return specifier === "drizzle-orm" || specifier.startsWith("drizzle-orm/");
}

export function checkLayers(root: string): LayerViolation[] {
  const options: ts.CompilerOptions = {
    baseUrl: root,
    paths: { "@/*": ["./*"] },
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    allowImportingTsExtensions: true,
    jsx: ts.JsxEmit.ReactJSX,
  };
  const host = ts.createCompilerHost(options);
  const relative = (file: string) => path.relative(root, file).split(path.sep).join("/");

  const files = [...LAYER_FOLDERS, ...OTHER_FOLDERS].flatMap((folder) => sourceFiles(root, folder));
  const drizzleConfig = path.join(root, "drizzle.config.ts");
  if (ts.sys.fileExists(drizzleConfig)) files.push(drizzleConfig);

  const violations: LayerViolation[] = [];
  /** folder → folder → first value import that makes the edge, for the cycle message */
  const folderEdges = new Map<string, Map<string, string>>();

  const baselineUsed = new Set<string>();
  for (const file of files) {
    const from = relative(file);
    const fromFolder = topFolder(from);
    const text = ts.sys.readFile(file) ?? "";
    const edges = importsOf(file, text);
    if (fromFolder && fromFolder !== "db") {
      for (const use of sqlUses(file, text)) {
        violations.push({
          rule: "sql-only-in-db",
          file: from,
          imports: use,
          message: "SQL (and the raw postgres.js handle) stays in db/: call a db/ function that runs it",
        });
      }
      for (const edge of edges) {
        if (!edge.typeOnly && (edge.specifier === "postgres" || edge.specifier.startsWith("@electric-sql/pglite"))) {
          violations.push({
            rule: "sql-only-in-db",
            file: from,
            imports: edge.specifier,
            message: "the database drivers are imported only under db/",
          });
        }
      }
    }
    if (fromFolder === "db" && !SERVER_ONLY_EXEMPT.has(from)) {
      const facts = serverOnlyFacts(edges);
      if (facts.drizzleValues && !facts.serverOnly) {
        violations.push({
          rule: "db-server-only",
          file: from,
          imports: "drizzle-orm",
          message: 'a db/ query module starts with import "server-only", so it can never reach a client bundle',
        });
      }
    }
    if (fromFolder && !HTTP_EDGE.some((edge) => edge.test(from)) && usesHttpError(file, text)) {
      if (HTTP_ERROR_BASELINE.includes(from)) baselineUsed.add(from);
      else {
        violations.push({
          rule: "http-errors-in-api",
          file: from,
          imports: "ApiError",
          message: "the domain throws its own errors; only app/ and lib/api/ speak HTTP (lib/api maps them to statuses)",
        });
      }
    }
    for (const edge of edges) {
      if (isDrizzle(edge.specifier)) {
        if (!DRIZZLE_ALLOWED.some((allowed) => allowed.test(from))) {
          violations.push({
            rule: "drizzle-only-in-db",
            file: from,
            imports: edge.specifier,
            message: "drizzle-orm is imported only under db/: move the query into a db/ module",
          });
        }
        continue;
      }
      const resolved = ts.resolveModuleName(edge.specifier, file, options, host).resolvedModule;
      if (!resolved || resolved.isExternalLibraryImport) continue;
      const to = relative(resolved.resolvedFileName);
      if (to.startsWith("..")) continue;
      const toFolder = topFolder(to);
      if (fromFolder === "db" && toFolder === "lib" && !edge.typeOnly) {
        violations.push({
          rule: "db-no-lib-values",
          file: from,
          imports: `${edge.specifier} (${to})`,
          message: "db/ imports no value from lib/ (only `import type`): move the value into db/ or pass it in",
        });
      }
      if (fromFolder === "app" && toFolder === "db" && !edge.typeOnly) {
        violations.push({
          rule: "app-db-through-lib",
          file: from,
          imports: `${edge.specifier} (${to})`,
          message: "app/ reaches db/ only through lib/, which checks who is asking: call the lib/ function",
        });
      }
      if (fromFolder === "components" && toFolder === "db") {
        violations.push({
          rule: "components-no-db",
          file: from,
          imports: `${edge.specifier} (${to})`,
          message: "components/ import nothing from db/: take the data as props, or a type from lib/",
        });
      }
      if (fromFolder && toFolder && fromFolder !== toFolder && !edge.typeOnly) {
        const targets = folderEdges.get(fromFolder) ?? new Map<string, string>();
        if (!targets.has(toFolder)) targets.set(toFolder, `${from} → ${edge.specifier}`);
        folderEdges.set(fromFolder, targets);
      }
    }
  }
  violations.push(...folderCycles(folderEdges));
  for (const listed of HTTP_ERROR_BASELINE) {
    if (!baselineUsed.has(listed) && files.some((f) => relative(f) === listed)) {
      violations.push({
        rule: "http-errors-in-api",
        file: "scripts/check-layers.ts",
        imports: listed,
        message: `${listed} no longer uses ApiError: take it off HTTP_ERROR_BASELINE`,
      });
    }
  }
  return violations;
}

/** Every pair of folders that import each other's values, directly or through others (one line per cycle found). */
function folderCycles(edges: Map<string, Map<string, string>>): LayerViolation[] {
  const violations: LayerViolation[] = [];
  const seen = new Set<string>();
  for (const start of LAYER_FOLDERS) {
    // shortest path back to `start`, breadth first
    const previous = new Map<string, string>();
    const queue = [...(edges.get(start)?.keys() ?? [])];
    for (const next of queue) previous.set(next, start);
    while (queue.length) {
      const at = queue.shift()!;
      if (at === start) break;
      for (const next of edges.get(at)?.keys() ?? []) {
        if (previous.has(next)) continue;
        previous.set(next, at);
        queue.push(next);
      }
    }
    if (!previous.has(start)) continue;
    const cycle: string[] = [start];
    for (let at = previous.get(start)!; at !== start; at = previous.get(at)!) cycle.unshift(at);
    cycle.unshift(start);
    const key = [...cycle.slice(1)].sort().join(",");
    if (seen.has(key)) continue;
    seen.add(key);
    const steps = cycle.slice(1).map((to, i) => edges.get(cycle[i])!.get(to)!);
    violations.push({
      rule: "no-folder-cycle",
      file: steps[0].split(" → ")[0],
      imports: steps[0].split(" → ")[1],
      message: `folders import each other: ${cycle.join(" → ")} (${steps.join("; ")})`,
    });
  }
  return violations;
}

export function formatViolation(v: LayerViolation): string {
  return `${v.file} → ${v.imports}  [${v.rule}] ${v.message}`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
  const violations = checkLayers(root);
  for (const v of violations) console.log(formatViolation(v));
  console.log(violations.length ? `${violations.length} layering violation(s)` : "layers: no violation");
  process.exitCode = violations.length ? 1 : 0;
}
