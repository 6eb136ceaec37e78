import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkLayers, formatViolation } from "../scripts/check-layers";

const ROOT = path.resolve(import.meta.dirname, "..");

/** A throwaway repository laid out like ours, holding exactly the files given. */
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(path.join(os.tmpdir(), "bw-layers-"));
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), text);
  }
  roots.push(root);
  return root;
}
const roots: string[] = [];
afterAll(() => roots.forEach((root) => rmSync(root, { recursive: true, force: true })));

describe("the layering check", () => {
  it("passes a tree that follows the layering, type-only imports of lib/ from db/ included", () => {
    const root = tree({
      "app/page.tsx":
        'import { Table } from "@/components/table";\nimport { list } from "@/lib/service";\nexport default () => Table(list());\n',
      "components/table.tsx":
        'import type { Row } from "@/lib/types";\nexport const Table = (rows: Row[]) => rows.length;\n',
      "lib/types.ts": "export interface Row { id: number }\n",
      "lib/service.ts": 'import { rows } from "@/db/rows";\nexport const list = () => rows();\n',
      "db/rows.ts":
        'import "server-only";\nimport { sql } from "drizzle-orm";\nimport type { Row } from "../lib/types";\nexport const rows = (): Row[] => (sql ? [] : []);\n',
      "drizzle.config.ts": 'import "drizzle-orm";\n',
    });
    expect(checkLayers(root)).toEqual([]);
  });

  it("names the file, the import and the rule of each violation", () => {
    const root = tree({
      "lib/alerts/store.ts": 'import { eq } from "drizzle-orm/sql";\nexport const x = eq;\n',
      "lib/reasons.ts": 'import { table } from "@/db/table";\nexport const REASONS = [table];\n',
      "db/table.ts": "export const table = 1;\n",
      "db/events.ts": 'import { REASONS } from "@/lib/reasons";\nexport const events = REASONS;\n',
      "components/list.tsx": 'import type { table } from "../db/table";\nexport type T = typeof table;\n',
    });
    const violations = checkLayers(root);
    expect(violations.map((v) => [v.rule, v.file])).toEqual([
      ["components-no-db", "components/list.tsx"],
      ["drizzle-only-in-db", "lib/alerts/store.ts"],
      ["db-no-lib-values", "db/events.ts"],
      ["no-folder-cycle", "lib/reasons.ts"],
    ]);
    expect(formatViolation(violations[2])).toBe(
      "db/events.ts → @/lib/reasons (lib/reasons.ts)  [db-no-lib-values] " +
        "db/ imports no value from lib/ (only `import type`): move the value into db/ or pass it in",
    );
    expect(violations[3].message).toContain("lib → db → lib");
  });

  it("finds SQL outside db/, a db query module without server-only, app/ reaching db/, HTTP errors in the domain", () => {
    const root = tree({
      "server/service.ts":
        'export async function lock(c: any) { return c`select pg_try_advisory_lock(hashtext(${"x"}))`; }\n',
      "lib/live.ts": "export const share = (database: any) => database.postgres.listen('ch', () => {});\n",
      "lib/driver.ts": 'import postgres from "postgres";\nexport const p = postgres;\n',
      "lib/notes.ts": "export const label = (t: any) => t`Select a broker`;\n",
      "db/queries.ts": 'import { eq } from "drizzle-orm";\nexport const q = eq;\n',
      "db/types.ts": 'import type { SQL } from "drizzle-orm";\nexport type S = SQL;\n',
      "app/api/x/route.ts": 'import { q } from "@/db/queries";\nimport type { S } from "@/db/types";\nexport const GET = (s: S) => q;\n',
      "lib/http.ts": "export class ApiError extends Error {}\n",
      "lib/settings/thing.ts": 'import { ApiError } from "@/lib/http";\nexport const e = new ApiError();\n',
      "lib/api/route.ts": 'import { ApiError } from "../http";\nexport const e = ApiError;\n',
    });
    const found = checkLayers(root).map((v) => [v.rule, v.file]);
    expect(found).toContainEqual(["sql-only-in-db", "server/service.ts"]);
    expect(found).toContainEqual(["sql-only-in-db", "lib/live.ts"]);
    expect(found).toContainEqual(["sql-only-in-db", "lib/driver.ts"]);
    expect(found).toContainEqual(["db-server-only", "db/queries.ts"]);
    expect(found).toContainEqual(["app-db-through-lib", "app/api/x/route.ts"]);
    expect(found).toContainEqual(["http-errors-in-api", "lib/settings/thing.ts"]);
    // a template that merely starts with a word like "Select", type-only imports and lib/api are fine
    expect(found.filter(([, file]) => ["lib/notes.ts", "db/types.ts", "lib/api/route.ts"].includes(file))).toEqual([]);
    expect(found.filter(([rule]) => rule === "app-db-through-lib")).toHaveLength(1);
  });

  it("finds no violation in this repository", { timeout: 120_000 }, () => {
    expect(checkLayers(ROOT).map(formatViolation)).toEqual([]);
  });
});
