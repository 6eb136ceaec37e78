import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chmod, mkdtemp, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { MOSQUITTO } from "./require";
import { freePort, waitForPort } from "./ports";

/**
 * What the Mosquitto dialect reads: `$SYS` every second and every log line, with its timestamp and
 * the connection messages, published on `$SYS/broker/log/#`.
 */
export const SYS_AND_LOG = [
  "sys_interval 1",
  "log_dest topic",
  "log_type all",
  "connection_messages true",
  "log_timestamp true",
];

/** SYS_AND_LOG for a broker that refuses anonymous clients (users in `pw.txt`), its log also on stdout. */
export const PASSWORD_SYS_AND_LOG = [
  "allow_anonymous false",
  "password_file ${dir}/pw.txt",
  ...SYS_AND_LOG,
  "log_dest stdout",
];

/** A Mosquitto password file's content for these users (hashed by `mosquitto_passwd`). */
export async function passwordFile(users: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "bw-pw-"));
  const file = path.join(dir, "pw.txt");
  await writeFile(file, "");
  for (const [user, password] of Object.entries(users)) execFileSync("mosquitto_passwd", ["-b", file, user, password]);
  return readFile(file, "utf8");
}

export interface RunningMosquitto {
  port: number;
  url: string;
  dir: string;
  /** everything mosquitto printed (log_dest stdout) */
  output: string[];
  process: ChildProcess;
  /** stop it (SIGTERM) and wait for the exit */
  stop(): Promise<void>;
  /** send a signal without waiting (SIGSTOP/SIGCONT/SIGKILL for failure tests) */
  signal(sig: NodeJS.Signals): void;
  /** start it again on the same port with the same config (after stop or SIGKILL) */
  restart(): Promise<void>;
}

/** What a monitored Mosquitto needs to publish: `$SYS` every second and its log, connections included (anonymous). */
export const SYS_AND_LOG_CONFIG: readonly string[] = ["allow_anonymous true", ...SYS_AND_LOG];

/**
 * A real Debian `mosquitto` on a free port. `config` lines are appended after the listener
 * line; files (password, ACL) are written into the run's temp dir and may be referenced as
 * `${dir}/name` in the config.
 */
export async function startMosquitto(
  config: string[] = [],
  files: Record<string, string> = {},
): Promise<RunningMosquitto> {
  if (!MOSQUITTO) throw new Error("mosquitto binary not found");
  const dir = await mkdtemp(path.join(os.tmpdir(), "bw-mosquitto-"));
  // Started as root, mosquitto drops to its own user before reading password and ACL files.
  await chmod(dir, 0o755);
  for (const [name, content] of Object.entries(files)) await writeFile(path.join(dir, name), content, { mode: 0o644 });
  const port = await freePort();
  const conf = [`listener ${port} 127.0.0.1`, "persistence false", ...config.map((l) => l.replaceAll("${dir}", dir))];
  const confPath = path.join(dir, "mosquitto.conf");
  await writeFile(confPath, conf.join("\n") + "\n");
  const output: string[] = [];

  let child!: ChildProcess;
  async function launch(): Promise<void> {
    child = spawn(MOSQUITTO!, ["-c", confPath], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout!.on("data", (d) => output.push(String(d)));
    child.stderr!.on("data", (d) => output.push(String(d)));
    const exited = new Promise<never>((_, reject) =>
      child.once("exit", (code) => reject(new Error(`mosquitto exited (${code}): ${output.join("")}`))),
    );
    exited.catch(() => {});
    await Promise.race([waitForPort(port), exited]);
  }
  await launch();

  const running: RunningMosquitto = {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    dir,
    output,
    get process() {
      return child;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const done = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGCONT");
      child.kill("SIGTERM");
      await done;
    },
    signal(sig) {
      child.kill(sig);
    },
    async restart() {
      await running.stop();
      await launch();
    },
  };
  return running;
}
