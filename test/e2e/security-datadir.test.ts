import { chmod, mkdtemp, readdir, lstat, writeFile, mkdir } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { secureDataDir, tightenedMessage } from "@/server/data-dir";
import { ensureBuilt } from "@/server/build";
import { ROOT, startApp } from "../helpers/app";

/** Every path under `dir` (itself included) with its permission bits. */
async function modes(dir: string): Promise<{ path: string; mode: number; directory: boolean }[]> {
  const out: { path: string; mode: number; directory: boolean }[] = [];
  const walk = async (p: string) => {
    const info = await lstat(p);
    if (info.isSymbolicLink()) return;
    out.push({ path: p, mode: info.mode & 0o777, directory: info.isDirectory() });
    if (info.isDirectory()) for (const e of await readdir(p)) await walk(path.join(p, e));
  };
  await walk(dir);
  return out;
}

async function looseDataDir(): Promise<{ dir: string; file: string }> {
  const dir = path.join(await mkdtemp(path.join(os.tmpdir(), "bw-datadir-")), "data");
  await mkdir(path.join(dir, "nested"), { recursive: true });
  const file = path.join(dir, "nested", "left-by-an-old-version");
  await writeFile(file, "x");
  await chmod(file, 0o666);
  await chmod(path.join(dir, "nested"), 0o777);
  await chmod(dir, 0o777);
  return { dir, file };
}

describe("the data directory is owner-only", () => {
  it("creates a missing data directory 0700", async () => {
    const dir = path.join(await mkdtemp(path.join(os.tmpdir(), "bw-datadir-")), "fresh", "data");
    const result = await secureDataDir(dir);
    expect(result).toEqual({ created: true, directories: 0, files: 0 });
    expect((await lstat(dir)).mode & 0o777).toBe(0o700);
    expect(tightenedMessage(dir, result)).toBeNull();
  });

  it("tightens a 0777 directory holding a 0666 file and says so in one line", async () => {
    const { dir, file } = await looseDataDir();
    const result = await secureDataDir(dir);
    expect(result).toEqual({ created: false, directories: 2, files: 1 });
    expect((await lstat(dir)).mode & 0o777).toBe(0o700);
    expect((await lstat(file)).mode & 0o777).toBe(0o600);
    expect(tightenedMessage(dir, result)).toBe(
      `brokerwatch: data directory ${dir} was readable or writable by other users: removed group/other permissions from 2 directories and 1 file`,
    );
    // a second start finds nothing to do
    expect(tightenedMessage(dir, await secureDataDir(dir))).toBeNull();
  });

  // the first start may build the app, which takes minutes on a busy machine
  beforeAll(() => ensureBuilt(ROOT, () => {}), 900_000);

  it("npm start on a fresh directory leaves the directory 0700 and every file it wrote 0600 or tighter", async () => {
    const dir = path.join(await mkdtemp(path.join(os.tmpdir(), "bw-datadir-")), "data");
    const app = await startApp({ dataDir: dir, database: "pglite" });
    try {
      const all = await modes(dir);
      expect(all.some((m) => m.path.endsWith("secret.key"))).toBe(true);
      expect(all.some((m) => m.path.includes(`${path.sep}pglite${path.sep}`))).toBe(true);
      expect(all.filter((m) => (m.mode & 0o077) !== 0)).toEqual([]);
      expect((await lstat(dir)).mode & 0o777).toBe(0o700);
    } finally {
      await app.stop();
    }
  }, 180_000);

  it("npm start on a loose directory tightens it and prints one line saying so", async () => {
    const { dir, file } = await looseDataDir();
    const app = await startApp({ dataDir: dir, database: "pglite" });
    try {
      expect((await lstat(file)).mode & 0o777).toBe(0o600);
      expect((await lstat(dir)).mode & 0o777).toBe(0o700);
      const lines = app.output.join("").split("\n").filter((l) => l.includes("readable or writable by other users"));
      expect(lines).toEqual([
        `brokerwatch: data directory ${dir} was readable or writable by other users: removed group/other permissions from 2 directories and 1 file`,
      ]);
    } finally {
      await app.stop();
    }
  }, 180_000);
});
