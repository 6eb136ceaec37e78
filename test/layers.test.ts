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
        'import { sql } from "drizzle-orm";\nimport type { Row } from "../lib/types";\nexport const rows = (): Row[] => (sql ? [] : []);\n',
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

  it("finds no violation in this repository", { timeout: 120_000 }, () => {
    expect(checkLayers(ROOT).map(formatViolation)).toEqual([]);
  });
});
