import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ensureBuilt } from "@/server/build";
import { createServerDatabase } from "./db";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

export interface RunningApp {
  url: string;
  mqttUrl: string | null;
  dataDir: string;
  output: string[];
  process: ChildProcess;
  /** the admin password printed on first start, if any */
  adminPassword: string | null;
  /** send a signal and wait for the exit; resolves with the exit code and how long it took */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
}

export interface StartAppOptions {
  env?: Record<string, string | undefined>;
  /** use this data dir (to restart on the same embedded database) */
  dataDir?: string;
  /** "auto": a fresh database on DATABASE_URL's server when set, else embedded PGlite */
  database?: "auto" | "pglite";
}

/** Run the whole service (`npm start`'s entry) as a child process on free ports. */
export async function startApp(opts: StartAppOptions = {}): Promise<RunningApp> {
  await ensureBuilt(ROOT, () => {});
  const dataDir = opts.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), "bw-app-")));
  let dropDatabase: (() => Promise<void>) | null = null;
  const env: Record<string, string | undefined> = {
    ...process.env,
    PORT: "0",
    MQTT_PORT: "0",
    HOSTNAME: "127.0.0.1",
    BROKERWATCH_DATA_DIR: dataDir,
    DATABASE_URL: undefined,
  };
  if ((opts.database ?? "auto") === "auto" && process.env.DATABASE_URL && !opts.env?.DATABASE_URL) {
    const db = await createServerDatabase();
    env.DATABASE_URL = db.url;
    dropDatabase = db.drop;
  }
  Object.assign(env, opts.env ?? {});
  for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];

  // `node --import tsx` (as `npm start`): one process, so signals reach the server itself.
  const child = spawn(process.execPath, ["--max-semi-space-size=2", "--import", "tsx", "--import", "./server/register-hooks.mjs", "server/main.ts"], {
    cwd: ROOT,
    env: env as NodeJS.ProcessEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  // A test that times out or a worker that exits must not leave the app running (and eating the CPU).
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  child.once("exit", () => process.off("exit", killOnExit));
  const output: string[] = [];
  let buffer = "";
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      output.push(String(d));
      buffer += String(d);
      if (/brokerwatch ready[\s\S]*database: /.test(buffer)) resolve();
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (d) => output.push(String(d)));
    child.once("exit", (code) => reject(new Error(`app exited (${code}) before ready:\n${output.join("")}`)));
    setTimeout(() => reject(new Error(`app not ready after 120 s:\n${output.join("")}`)), 120_000).unref();
  });
  try {
    await ready;
  } catch (err) {
    child.kill("SIGKILL");
    if (dropDatabase) await dropDatabase().catch(() => {});
    throw err;
  }
  const url = /UI:\s+(\S+)/.exec(buffer)![1];
  const broker = /broker:\s+(mqtt:\/\/\S+)/.exec(buffer);
  const password = /admin password[^:]*: (\S+)/.exec(buffer);
  return {
    url,
    mqttUrl: broker ? broker[1] : null,
    dataDir,
    output,
    process: child,
    adminPassword: password ? password[1] : null,
    async stop(signal = "SIGTERM") {
      const started = Date.now();
      let result: { code: number | null; signal: NodeJS.Signals | null; ms: number };
      if (child.exitCode !== null || child.signalCode !== null) {
        result = { code: child.exitCode, signal: child.signalCode, ms: 0 };
      } else {
        const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
          child.once("exit", (code, sig) => resolve({ code, signal: sig })),
        );
        child.kill(signal);
        result = { ...(await exited), ms: Date.now() - started };
      }
      if (dropDatabase) await dropDatabase().catch(() => {});
      return result;
    },
  };
}

/** `fetch` on the app's `path` with the bearer `token` and a JSON content type (`init.headers` win). */
export function appFetch(app: RunningApp, token: string, path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${app.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...init.headers },
  });
}

/** The JSON answer of a GET on the app's API with the bearer `token`; an error status throws, with the body. */
export async function appJson<T>(app: RunningApp, token: string, pathAndQuery: string): Promise<T> {
  const res = await fetch(`${app.url}${pathAndQuery}`, { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) throw new Error(`${pathAndQuery}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}
