import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { parseDuration } from "../lib/config/schema";
import { progressLine, startFleet } from "../lib/simulator/fleet";
import { parseScenario, ScenarioError } from "../lib/simulator/scenario";

/**
 * `npm run simulate -- [scenario.yaml] [--url mqtt://host:port] [--scale N] [--for 10m]`: a fleet of
 * simulated devices on a real broker (the bundled one by default), with the failure modes the
 * diagnosis knows. docs/simulator.md says what each behaviour reproduces.
 */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const DEFAULT_SCENARIO = path.join(ROOT, "scripts", "scenarios", "fleet.yaml");

const HELP = `usage: npm run simulate -- [scenario.yaml] [options]

  scenario.yaml        the fleet to simulate (default: scripts/scenarios/fleet.yaml)
  --url URL            the broker (default: the scenario's url, else the bundled broker at
                       mqtt://127.0.0.1:$MQTT_PORT, 1883 when unset)
  --scale N            multiply the size of the steady groups (e.g. 10 for ~3,000 devices)
  --for DURATION       stop after this long (e.g. 5m); default: run until Ctrl-C
  --storm-now          drop every device at once after 10 s, as after a broker restart
  --quiet              no progress line

Everything a monitor sees from it happens on the broker: devices really connect, publish, time
out, take each other's sessions over and fail to authenticate. Nothing is written to brokerwatch.`;

function fail(message: string): never {
  console.error(`simulate: ${message}`);
  process.exit(2);
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        url: { type: "string" },
        scale: { type: "string" },
        for: { type: "string" },
        "storm-now": { type: "boolean" },
        quiet: { type: "boolean" },
        help: { type: "boolean" },
      },
    });
  } catch (error) {
    fail(`${(error as Error).message}\n\n${HELP}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(HELP);
    return;
  }
  if (positionals.length > 1) fail(`one scenario file at most (got ${positionals.length})\n\n${HELP}`);
  const file = positionals[0] ?? DEFAULT_SCENARIO;
  let scenario;
  try {
    scenario = parseScenario(readFileSync(file, "utf8"));
  } catch (error) {
    if (error instanceof ScenarioError) fail(`${file}: ${error.message}`);
    fail(`cannot read ${file}: ${(error as Error).message}`);
  }
  const url = values.url ?? scenario.url ?? `mqtt://127.0.0.1:${process.env.MQTT_PORT || 1883}`;
  try {
    const parsedUrl = new URL(url);
    if (parsedUrl.protocol !== "mqtt:") fail(`--url must be mqtt://host:port (got ${url})`);
  } catch {
    fail(`--url is not a URL: ${url}`);
  }
  const scale = values.scale === undefined ? 1 : Number(values.scale);
  if (!Number.isFinite(scale) || scale <= 0 || scale > 1000) fail(`--scale must be a number between 0 and 1000 (got ${values.scale})`);
  let forSeconds: number | null = null;
  if (values.for !== undefined) {
    try {
      forSeconds = parseDuration(values.for);
    } catch (error) {
      fail(`--for: ${(error as Error).message}`);
    }
  }

  const fleet = startFleet(scenario, { url, scale });
  const started = Date.now();
  const groups = scenario.groups.map((g) => `${g.name} (${g.behaviour})`).join(", ");
  console.log(`simulate: ${fleet.stats().devices.toLocaleString("en-US")} devices on ${url}: ${groups}`);
  console.log("simulate: Ctrl-C stops the fleet; open brokerwatch's overview to watch it");

  const tty = process.stderr.isTTY;
  let lastPrinted = 0;
  let toldAccepted = false;
  const progress = setInterval(() => {
    if (!toldAccepted && fleet.stats().authAccepted > 0) {
      toldAccepted = true;
      if (tty) process.stderr.write("\n");
      console.error(
        "simulate: the broker let a device with a wrong password in: it accepts any credentials " +
          "(the bundled broker does until BUNDLED_BROKER_USERS is set), so no auth failure will show",
      );
    }
    if (values.quiet) return;
    const elapsed = (Date.now() - started) / 1000;
    const line = progressLine(fleet.stats(), elapsed);
    if (tty) process.stderr.write(`\r\x1b[2K${line}`);
    else if (elapsed - lastPrinted >= 10) {
      lastPrinted = elapsed;
      console.error(line);
    }
  }, 1000);
  if (values["storm-now"]) setTimeout(() => fleet.storm(3), 10_000).unref();

  let stopping = false;
  const stop = async (why: string) => {
    if (stopping) return;
    stopping = true;
    clearInterval(progress);
    if (tty) process.stderr.write("\n");
    const stats = fleet.stats();
    await fleet.stop();
    console.log(`simulate: ${why}; ${progressLine(stats, (Date.now() - started) / 1000)}`);
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("stopped"));
  process.on("SIGTERM", () => void stop("stopped"));
  if (forSeconds !== null) setTimeout(() => void stop(`ran for ${values.for}`), forSeconds * 1000);
}

main().catch((error) => fail((error as Error).stack ?? String(error)));
