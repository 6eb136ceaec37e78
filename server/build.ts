import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";

/**
 * `npm start` builds the web app when there is no build of the current sources. The
 * fingerprint covers every file Next compiles; a lock directory keeps two starts (or two
 * test workers) from building into the same .next at once.
 */
const SOURCE_DIRS = ["app", "lib", "db", "components"];
const SOURCE_FILES = ["next.config.ts", "proxy.ts", "postcss.config.mjs", "package.json", "tsconfig.json"];

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(full)));
    else out.push(full);
  }
  return out;
}

export async function sourceFingerprint(root: string): Promise<string> {
  const hash = createHash("sha256");
  const files = [
    ...(await Promise.all(SOURCE_DIRS.map((d) => listFiles(path.join(root, d))))).flat(),
    ...SOURCE_FILES.map((f) => path.join(root, f)),
  ].sort();
  for (const file of files) {
    try {
      hash.update(path.relative(root, file));
      hash.update(await readFile(file));
    } catch {
      // a listed top-level file may not exist
    }
  }
  return hash.digest("hex");
}

async function isBuilt(root: string, fingerprint: string): Promise<boolean> {
  try {
    await stat(path.join(root, ".next", "BUILD_ID"));
    return (await readFile(path.join(root, ".next", "brokerwatch-fingerprint"), "utf8")) === fingerprint;
  } catch {
    return false;
  }
}

/** Whether the process that took a lock is still alive (a killed build must not block the next start). */
async function lockOwnerAlive(lockDir: string): Promise<boolean> {
  const pid = Number(await readFile(path.join(lockDir, "pid"), "utf8").catch(() => ""));
  if (!pid) {
    // created but its pid not written yet — unless that was long ago
    const info = await stat(lockDir).catch(() => null);
    return !!info && Date.now() - info.mtimeMs < 30_000;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function withLock<T>(lockDir: string, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    try {
      await mkdir(lockDir);
      await writeFile(path.join(lockDir, "pid"), String(process.pid));
      break;
    } catch {
      const info = await stat(lockDir).catch(() => null);
      // A lock whose owner died, or older than 15 minutes, belongs to a build that will never finish.
      if (info && (!(await lockOwnerAlive(lockDir)) || Date.now() - info.mtimeMs > 15 * 60_000)) {
        await rm(lockDir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for another build (lock ${lockDir})`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}

/** Build with `next build` unless .next already holds a build of these sources. Returns whether it built. */
export async function ensureBuilt(root: string, log: (line: string) => void = console.log): Promise<boolean> {
  const fingerprint = await sourceFingerprint(root);
  if (await isBuilt(root, fingerprint)) return false;
  return withLock(path.join(root, ".next-build.lock"), async () => {
    if (await isBuilt(root, fingerprint)) return false;
    log("brokerwatch: building the web app (first start or changed sources; takes a minute)...");
    const nextBin = path.join(root, "node_modules", "next", "dist", "bin", "next");
    await new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, [nextBin, "build"], {
        cwd: root,
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, NODE_ENV: "production", NEXT_TELEMETRY_DISABLED: "1" },
      });
      let output = "";
      child.stdout.on("data", (d) => (output += d));
      child.stderr.on("data", (d) => (output += d));
      child.on("error", reject);
      child.on("exit", (code) =>
        code === 0 ? resolve() : reject(new Error(`next build failed (exit ${code}):\n${output.slice(-4000)}`)),
      );
    });
    await writeFile(path.join(root, ".next", "brokerwatch-fingerprint"), fingerprint);
    return true;
  });
}
