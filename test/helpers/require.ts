import { execFileSync } from "node:child_process";
import { describe } from "vitest";

/**
 * Tests that need an outside binary (mosquitto, chromium) or the real Postgres skip with a
 * visible message when it is missing, except under REQUIRE_ALL=1 (CI), where a missing
 * prerequisite fails the run instead: nothing may silently not run there.
 */
export const REQUIRE_ALL = process.env.REQUIRE_ALL === "1";

export function binaryPath(name: string, candidates: string[] = []): string | null {
  for (const candidate of candidates) {
    try {
      execFileSync("test", ["-x", candidate]);
      return candidate;
    } catch {
      // try the next one
    }
  }
  try {
    return execFileSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).trim() || null;
  } catch {
    return null;
  }
}

export const MOSQUITTO = binaryPath("mosquitto", ["/usr/sbin/mosquitto"]);
export const CHROMIUM = binaryPath("chromium", ["/usr/bin/chromium"]);
/** Prometheus' promtool (Debian package `prometheus`), to check our rule files and /metrics as Prometheus does. */
export const PROMTOOL = binaryPath("promtool", ["/usr/bin/promtool"]);
export const ALERTMANAGER = binaryPath("prometheus-alertmanager", ["/usr/bin/prometheus-alertmanager"]);

/** `describe` when every prerequisite is there; otherwise skip loudly, or fail under REQUIRE_ALL=1. */
export function describeIf(missing: string[], name: string, fn: () => void): void {
  if (missing.length === 0) {
    describe(name, fn);
    return;
  }
  const why = `needs ${missing.join(", ")}`;
  if (REQUIRE_ALL) {
    describe(name, () => {
      throw new Error(`REQUIRE_ALL=1 but ${name} ${why}`);
    });
    return;
  }
  console.warn(`SKIPPED: "${name}" ${why} (CI installs them: see .ci/run)`);
  describe.skip(name, fn);
}

export function needs(opts: {
  mosquitto?: boolean;
  chromium?: boolean;
  postgres?: boolean;
  rabbitmq?: boolean;
  nats?: boolean;
  promtool?: boolean;
  alertmanager?: boolean;
}): string[] {
  const missing: string[] = [];
  if (opts.nats && !NATS_SERVER) missing.push("the nats-server binary (apt-get install nats-server)");
  if (opts.promtool && !PROMTOOL) missing.push("promtool (apt-get install prometheus)");
  if (opts.alertmanager && !ALERTMANAGER) missing.push("prometheus-alertmanager (apt-get install prometheus-alertmanager)");
  if (opts.rabbitmq && !RABBITMQ_SERVER) missing.push("rabbitmq-server (apt-get install rabbitmq-server)");
  if (opts.mosquitto && !MOSQUITTO) missing.push("the mosquitto binary (apt-get install mosquitto)");
  if (opts.chromium && !CHROMIUM) missing.push("chromium (apt-get install chromium)");
  if (opts.postgres && !process.env.DATABASE_URL) missing.push("DATABASE_URL pointing at a Postgres server");
  return missing;
}

export const RABBITMQ_SERVER = binaryPath("rabbitmq-server", [
  // the real script, not Debian's /usr/sbin wrapper, which switches to the rabbitmq user and its /var/lib dirs
  "/usr/lib/rabbitmq/bin/rabbitmq-server",
]);

export const NATS_SERVER = binaryPath("nats-server", ["/usr/sbin/nats-server"]);
