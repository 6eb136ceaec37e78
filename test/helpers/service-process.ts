import { spawn, type ChildProcess } from "node:child_process";
import type { ServiceOptions } from "@/server/service";
import { ROOT } from "./app";

/** A brokerwatch process (service-main.ts: the service without its web app) for kill/pause/restart tests. */
export interface ServiceProcess {
  process: ChildProcess;
  output: string[];
  /** resolves once `service ready` was printed; rejects with the output if it exited first */
  ready: Promise<void>;
  /** resolves with the exit code */
  exited: Promise<number | null>;
  /** the log so far, one string */
  log(): string;
  signal(sig: NodeJS.Signals): void;
  /** SIGTERM (or `sig`) and wait for the exit */
  stop(sig?: NodeJS.Signals): Promise<number | null>;
}

export function spawnService(opts: Omit<ServiceOptions, "log">, env: Record<string, string> = {}): ServiceProcess {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "--import", "./server/register-hooks.mjs", "test/helpers/service-main.ts"],
    {
      cwd: ROOT,
      env: { ...process.env, ...env, BW_SERVICE_OPTIONS: JSON.stringify(opts) } as NodeJS.ProcessEnv,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  const output: string[] = [];
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      process.off("exit", killOnExit);
      resolve(code);
    }),
  );
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      output.push(String(d));
      if (/service ready/.test(output.join(""))) resolve();
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (d) => output.push(String(d)));
    void exited.then((code) => reject(new Error(`service exited (${code}) before ready:\n${output.join("")}`)));
  });
  ready.catch(() => {});
  return {
    process: child,
    output,
    ready,
    exited,
    log: () => output.join(""),
    signal: (sig) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    },
    async stop(sig = "SIGTERM") {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill("SIGCONT");
      child.kill(sig);
      return exited;
    },
  };
}
