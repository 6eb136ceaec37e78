import { chmod, lstat, mkdir, readdir } from "node:fs/promises";
import path from "node:path";

/**
 * The data directory holds the embedded database, the generated service key and the build lock:
 * nobody but the service's own user may read or change any of it. New files are owner-only
 * through the process umask; a directory made by an older version (or by hand, or restored from
 * a backup with loose modes) is tightened once at start.
 */
export const OWNER_ONLY_UMASK = 0o077;

export interface TightenResult {
  /** the data directory did not exist and was created 0700 */
  created: boolean;
  directories: number;
  files: number;
}

/** Creates `dir` 0700, or takes group/other bits off it and everything under it (symlinks are not followed). */
export async function secureDataDir(dir: string): Promise<TightenResult> {
  const result: TightenResult = { created: false, directories: 0, files: 0 };
  const made = await mkdir(dir, { recursive: true, mode: 0o700 });
  if (made !== undefined) {
    result.created = true;
    // mkdir's mode passes through the umask, and parents made on the way are not ours to judge
    await chmod(dir, 0o700);
    return result;
  }
  const walk = async (p: string): Promise<void> => {
    const info = await lstat(p);
    if (info.isSymbolicLink()) return;
    if ((info.mode & 0o077) !== 0) {
      await chmod(p, info.mode & 0o700);
      if (info.isDirectory()) result.directories += 1;
      else result.files += 1;
    }
    if (info.isDirectory()) {
      for (const entry of await readdir(p)) await walk(path.join(p, entry));
    }
  };
  await walk(dir);
  return result;
}

/** The one start-up line for what was tightened; null when nothing was. */
export function tightenedMessage(dir: string, result: TightenResult): string | null {
  if (result.directories + result.files === 0) return null;
  const parts = [];
  if (result.directories) parts.push(`${result.directories} director${result.directories === 1 ? "y" : "ies"}`);
  if (result.files) parts.push(`${result.files} file${result.files === 1 ? "" : "s"}`);
  return `brokerwatch: data directory ${dir} was readable or writable by other users: removed group/other permissions from ${parts.join(" and ")}`;
}
