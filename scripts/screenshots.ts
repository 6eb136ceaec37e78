import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chmod, mkdtemp, readFile, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Page } from "playwright-core";
import { ensureBuilt } from "../server/build";
import { startFleet, type Fleet } from "../lib/simulator/fleet";
import { parseScenario, type Scenario } from "../lib/simulator/scenario";

/**
 * `npm run screenshots`: the README's pictures, from a simulated fleet on two real Mosquittos
 * watched by a real brokerwatch. It starts both brokers (Debian `mosquitto`), brokerwatch on
 * embedded defaults, and the fleet simulator's default scenario on each broker; lets the fleet run,
 * restarts plant-a once (SIGKILL, back after 3 s) so there is an incident to show, then saves
 * each page at 1440×900 (and the overview at 390×844) into docs/screenshots/ with Debian's chromium.
 * Nothing is staged: every number on every picture is what brokerwatch recorded.
 */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const OUT = path.join(ROOT, "docs", "screenshots");
const ADMIN_PASSWORD = "screenshots-admin-password";
const RUN_SECONDS = Number(process.env.SCREENSHOT_RUN_SECONDS ?? 150);

function log(line: string) {
  console.log(`screenshots: ${line}`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`port ${port} did not open`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Mosquitto {
  name: string;
  port: number;
  start(): Promise<void>;
  kill(signal: NodeJS.Signals): void;
}

async function mosquitto(name: string, extra: string[], files: Record<string, string> = {}): Promise<Mosquitto> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `bw-shots-${name}-`));
  await chmod(dir, 0o755);
  for (const [file, content] of Object.entries(files)) await writeFile(path.join(dir, file), content, { mode: 0o644 });
  const port = await freePort();
  const conf = [
    `listener ${port} 127.0.0.1`,
    "persistence false",
    "sys_interval 1",
    "log_dest topic",
    "log_type all",
    "connection_messages true",
    "log_timestamp true",
    "max_queued_messages 200",
    ...extra.map((l) => l.replaceAll("${dir}", dir)),
  ];
  await writeFile(path.join(dir, "mosquitto.conf"), conf.join("\n") + "\n");
  let child: ChildProcess | null = null;
  return {
    name,
    port,
    async start() {
      child = spawn("mosquitto", ["-c", path.join(dir, "mosquitto.conf")], { stdio: "ignore" });
      await waitForPort(port);
    },
    kill(signal) {
      child?.kill(signal);
    },
  };
}

function withCredentials(scenario: Scenario, username: string, password: string): Scenario {
  return {
    ...scenario,
    groups: scenario.groups.map((g) =>
      g.behaviour === "bad-credentials" ? { ...g, username, password: "wrong-password" } : { ...g, username, password },
    ),
  };
}

async function main(): Promise<void> {
  log("building the app if needed");
  await ensureBuilt(ROOT, log);
  const dir = await mkdtemp(path.join(os.tmpdir(), "bw-shots-"));
  const pwFile = path.join(dir, "pw.txt");
  await writeFile(pwFile, "");
  execFileSync("mosquitto_passwd", ["-b", pwFile, "fleet", "fleet-password"]);
  execFileSync("mosquitto_passwd", ["-b", pwFile, "monitor", "monitor-password"]);
  const plantA = await mosquitto("plant-a", ["allow_anonymous true"]);
  const plantB = await mosquitto("plant-b", ["allow_anonymous false", "password_file ${dir}/pw.txt"], {
    "pw.txt": await readFile(pwFile, "utf8"),
  });
  await plantA.start();
  await plantB.start();
  log(`plant-a on ${plantA.port}, plant-b on ${plantB.port}`);

  const config = path.join(dir, "brokerwatch.yaml");
  await writeFile(
    config,
    [
      "brokers:",
      `  - name: plant-a`,
      `    url: mqtt://127.0.0.1:${plantA.port}`,
      "    dialect: mosquitto",
      "    maxConnections: 400",
      `  - name: plant-b`,
      `    url: mqtt://127.0.0.1:${plantB.port}`,
      "    dialect: mosquitto",
      "    username: monitor",
      "    password: monitor-password",
      "    maxConnections: 400",
    ].join("\n") + "\n",
  );
  const webPort = await freePort();
  const app = spawn(process.execPath, ["--import", "tsx", "--import", "./server/register-hooks.mjs", "server/main.ts"], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: String(webPort),
      MQTT_PORT: String(await freePort()),
      BROKERWATCH_DATA_DIR: path.join(dir, "data"),
      BROKERWATCH_CONFIG: config,
      BROKERWATCH_ADMIN_PASSWORD: ADMIN_PASSWORD,
      DATABASE_URL: "",
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    let out = "";
    app.stdout!.on("data", (d) => {
      out += String(d);
      if (out.includes("brokerwatch ready")) resolve();
    });
    app.once("exit", (code) => reject(new Error(`brokerwatch exited (${code}):\n${out}`)));
  });
  const base = `http://127.0.0.1:${webPort}`;
  log(`brokerwatch at ${base}`);

  const scenario = parseScenario(await readFile(path.join(ROOT, "scripts", "scenarios", "fleet.yaml"), "utf8"));
  const fleets: Fleet[] = [
    startFleet(scenario, { url: `mqtt://127.0.0.1:${plantA.port}` }),
    startFleet(withCredentials(scenario, "fleet", "fleet-password"), { url: `mqtt://127.0.0.1:${plantB.port}`, scale: 0.5 }),
  ];
  log(`fleet running for ${RUN_SECONDS} s`);
  await sleep((RUN_SECONDS * 1000) / 2);
  log("restarting plant-a (SIGKILL, back after 3 s) for an incident");
  plantA.kill("SIGKILL");
  await sleep(3000);
  await plantA.start();
  await sleep((RUN_SECONDS * 1000) / 2);

  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${base}/login`);
    await page.getByLabel("Username").fill("admin");
    await page.getByLabel("Password").fill(ADMIN_PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${base}/`);
    const shot = async (p: Page, urlPath: string, file: string, fullPage = false) => {
      await p.goto(`${base}${urlPath}`);
      await p.waitForLoadState("networkidle").catch(() => {});
      await sleep(1500);
      await p.screenshot({ path: path.join(OUT, file), fullPage });
      log(`${file} ← ${urlPath}`);
    };
    const incidents = (await (await page.request.get(`${base}/api/brokers/plant-a/incidents`)).json()) as {
      incidents?: { id: number }[];
    };
    await shot(page, "/", "overview.png");
    await shot(page, "/brokers/plant-a?range=15m", "broker.png", true);
    await shot(page, "/clients?q=meter-0042", "clients.png", true);
    await shot(page, `/clients/${encodeURIComponent("pump-7")}`, "client-trace.png", true);
    if (incidents.incidents?.[0]) await shot(page, `/incidents/${incidents.incidents[0].id}`, "incident.png", true);
    else log("no incident recorded: incident.png kept as it was");
    await shot(page, "/alerts", "alerts.png");
    await shot(page, "/settings/brokers", "settings.png");
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
    const phonePage = await phone.newPage();
    await phonePage.goto(`${base}/login`);
    await phonePage.getByLabel("Username").fill("admin");
    await phonePage.getByLabel("Password").fill(ADMIN_PASSWORD);
    await phonePage.getByRole("button", { name: "Sign in" }).click();
    await phonePage.waitForURL(`${base}/`);
    await shot(phonePage, "/", "overview-phone.png");
  } finally {
    await browser.close();
    for (const f of fleets) await f.stop();
    app.kill("SIGTERM");
    plantA.kill("SIGTERM");
    plantB.kill("SIGTERM");
  }
}

main().catch((error) => {
  console.error(`screenshots: ${(error as Error).stack ?? error}`);
  process.exit(1);
});
