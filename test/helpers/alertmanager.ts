import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { ALERTMANAGER } from "./require";
import { freePort, waitFor } from "./ports";

/**
 * A real Debian `prometheus-alertmanager` on a free loopback port, with its own config and storage
 * dir and clustering off (`--cluster.listen-address=` empty), as the tests' receiving end.
 */
export interface RunningAlertmanager {
  url: string;
  output: string[];
  /** GET /api/v2/alerts: the alerts it holds that have not ended */
  alerts(): Promise<AlertmanagerAlert[]>;
  stop(): Promise<void>;
}

export interface AlertmanagerAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  status: { state: string };
  fingerprint: string;
}

export async function startAlertmanager(): Promise<RunningAlertmanager> {
  if (!ALERTMANAGER) throw new Error("prometheus-alertmanager not found");
  const dir = await mkdtemp(path.join(os.tmpdir(), "bw-am-"));
  const config = path.join(dir, "alertmanager.yml");
  // one receiver with no integrations: we only read what it holds
  await writeFile(config, ["route:", "  receiver: hold", "receivers:", "  - name: hold", ""].join("\n"));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const output: string[] = [];
  const child: ChildProcess = spawn(
    ALERTMANAGER,
    [
      `--config.file=${config}`,
      `--storage.path=${path.join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--cluster.listen-address=",
      "--log.level=warn",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  child.stdout!.on("data", (d) => output.push(String(d)));
  child.stderr!.on("data", (d) => output.push(String(d)));
  let exited = false;
  child.on("exit", () => (exited = true));
  await waitFor(
    "alertmanager ready",
    async () => {
      if (exited) throw new Error(`alertmanager exited: ${output.join("")}`);
      const res = await fetch(`${url}/-/ready`).catch(() => null);
      return res?.ok ?? false;
    },
    30_000,
  );
  return {
    url,
    output,
    async alerts() {
      const res = await fetch(`${url}/api/v2/alerts`);
      if (!res.ok) throw new Error(`GET /api/v2/alerts: HTTP ${res.status}`);
      return (await res.json()) as AlertmanagerAlert[];
    },
    async stop() {
      if (!exited) {
        const done = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await done;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
