import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { drizzle } from "drizzle-orm/pglite";
import { MIGRATIONS_FOLDER, migrateDatabase, type Database, type Db } from "@/db/client";
import * as schema from "@/db/schema";

/**
 * A new PGlite runs initdb (4–8 CPU-seconds on this 2-core machine) and then every migration
 * (another ~1 s): paid once per test file, that was most of the fast tier's time. Instead the
 * data directory of one initdb'd PGlite, and of one that is also migrated, is dumped to a tarball
 * once (a file in the temp dir, named by a hash of drizzle/ and the PGlite version, so any change
 * to a migration makes a new one), and each test database starts from a copy of it (~1.3 s CPU).
 * The copy is a whole separate database: nothing is shared between tests.
 */
export type TemplateKind = "empty" | "migrated";

const require = createRequire(import.meta.url);

async function templateKey(): Promise<string> {
  const hash = createHash("sha256");
  // the package's version (its package.json is not in its "exports")
  hash.update(await readFile(path.join(path.dirname(require.resolve("@electric-sql/pglite")), "..", "package.json")));
  const walk = async (dir: string): Promise<void> => {
    for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else hash.update(entry.name).update(await readFile(full));
    }
  };
  await walk(MIGRATIONS_FOLDER);
  return hash.digest("hex").slice(0, 16);
}

function templateDir(): string {
  return path.join(os.tmpdir(), "brokerwatch-test-pglite");
}

async function templateFile(kind: TemplateKind): Promise<string> {
  return path.join(templateDir(), `${await templateKey()}-${kind}.tar`);
}

function wrap(client: PGlite): Database {
  return {
    db: drizzle(client, { schema }) as unknown as Db,
    kind: "pglite",
    ping: async () => {
      await client.query("select 1");
    },
    close: () => client.close(),
  };
}

/** Build both templates when they are not in the temp dir yet (globalSetup calls it once per run). */
export async function ensurePgliteTemplates(): Promise<void> {
  const [empty, migrated] = [await templateFile("empty"), await templateFile("migrated")];
  const have = await Promise.all(
    [empty, migrated].map((f) =>
      readFile(f).then(
        () => true,
        () => false,
      ),
    ),
  );
  if (have.every(Boolean)) return;
  await mkdir(templateDir(), { recursive: true });
  const client = await PGlite.create();
  const save = async (file: string) => {
    const tar = Buffer.from(await (await client.dumpDataDir("none")).arrayBuffer());
    // another run may be writing the same file: write aside, then rename (atomic)
    const aside = `${file}.${process.pid}.${Date.now()}`;
    await writeFile(aside, tar);
    await rename(aside, file);
  };
  try {
    await save(empty);
    await migrateDatabase(wrap(client));
    await save(migrated);
  } finally {
    await client.close();
  }
}

const loaded = new Map<TemplateKind, Promise<Blob>>();

async function template(kind: TemplateKind): Promise<Blob> {
  let blob = loaded.get(kind);
  if (!blob) {
    blob = (async () => {
      const file = await templateFile(kind);
      const data = await readFile(file).catch(async () => {
        await ensurePgliteTemplates();
        return readFile(file);
      });
      return new Blob([data]);
    })();
    loaded.set(kind, blob);
  }
  return blob;
}

/** A new in-memory PGlite: initdb'd ("empty") or also migrated to the current schema ("migrated"). */
export async function pgliteFromTemplate(kind: TemplateKind = "migrated"): Promise<Database> {
  return wrap(await PGlite.create({ loadDataDir: await template(kind) }));
}

/**
 * Fills `dataDir` the way the service's embedded database lays it out (`<dataDir>/pglite`, see
 * db/client.ts) with a migrated copy, so a service started on it in a test skips initdb and finds
 * its migrations applied.
 */
export async function seedPgliteDataDir(dataDir: string): Promise<void> {
  const dir = path.join(dataDir, "pglite");
  if (
    await stat(path.join(dir, "PG_VERSION")).then(
      () => true,
      () => false,
    )
  )
    return; // a restart on the same data dir
  await mkdir(dir, { recursive: true });
  const client = await PGlite.create({ dataDir: dir, loadDataDir: await template("migrated") });
  await client.close();
}
