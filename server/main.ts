import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { readEnv, type ServiceEnv } from "./env";
import { ensureBuilt } from "./build";
import { OWNER_ONLY_UMASK, secureDataDir, tightenedMessage } from "./data-dir";

/**
 * `npm start`: one process runs the web app, the bundled broker, the collector and the alert
 * engine; on Postgres the ingest side runs in a worker thread (server/ingest-thread.ts). Order matters: free ports are checked before anything slow, migrations run before
 * anything reads the database, and shutdown runs in reverse.
 */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SHUTDOWN_BUDGET_MS = 4500;
const REMOTE_ADDRESS_HEADER = "x-brokerwatch-remote-address";
const REQUEST_PATH_HEADER = "x-brokerwatch-path";

function fail(message: string): never {
  console.error(`brokerwatch: ${message}`);
  process.exit(1);
}

function portInUse(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once("error", (err: NodeJS.ErrnoException) => resolve(err.code === "EADDRINUSE" || err.code === "EACCES"));
    probe.listen(port, host, () => probe.close(() => resolve(false)));
  });
}

function portTakenMessage(port: number, host: string, variable: string): string {
  return `port ${port} on ${host} is already in use; set ${variable} to another port (${variable}=0 picks a free one)`;
}

async function main(): Promise<void> {
  // Before anything writes a file: the database, the service key and the build lock are owner-only.
  process.umask(OWNER_ONLY_UMASK);
  let env: ServiceEnv;
  try {
    env = readEnv();
  } catch (err) {
    fail((err as Error).message);
  }
  try {
    const tightened = tightenedMessage(env.BROKERWATCH_DATA_DIR, await secureDataDir(env.BROKERWATCH_DATA_DIR));
    if (tightened) console.log(tightened);
  } catch (err) {
    fail(`data directory ${env.BROKERWATCH_DATA_DIR}: ${(err as Error).message}`);
  }

  if (env.PORT !== 0 && (await portInUse(env.PORT, env.HOSTNAME)))
    fail(portTakenMessage(env.PORT, env.HOSTNAME, "PORT"));
  if (env.BUNDLED_BROKER && env.MQTT_PORT !== 0 && (await portInUse(env.MQTT_PORT, env.HOSTNAME))) {
    fail(portTakenMessage(env.MQTT_PORT, env.HOSTNAME, "MQTT_PORT"));
  }

  // An invalid config file stops the start before the build, which can take a minute.
  const { ConfigError, loadConfigFile, resolveConfigPath } = await import("../lib/config");
  try {
    const configPath = resolveConfigPath(process.env);
    if (configPath) await loadConfigFile(configPath, process.env);
  } catch (err) {
    fail(err instanceof ConfigError ? err.message : (err as Error).message);
  }

  (process.env as Record<string, string>).NODE_ENV = "production";
  process.env.NEXT_TELEMETRY_DISABLED = "1";
  try {
    await ensureBuilt(ROOT);
  } catch (err) {
    fail((err as Error).message);
  }

  // The web listener first: the instance is named after its address (BROKERWATCH_INSTANCE unset).
  let handle: ((req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>) | null = null;
  const server = http.createServer((req, res) => {
    // Next answers a path it cannot decode (`%E0%A4%A`) with a plain-text 500; say what is wrong instead.
    try {
      decodeURIComponent((req.url ?? "/").split("?")[0]);
    } catch {
      res.writeHead(400, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          error: { code: "bad_request", message: "the request path is not valid percent-encoded UTF-8" },
        }),
      );
      return;
    }
    // The peer address for login rate limiting; never trust one a client sent.
    req.headers[REMOTE_ADDRESS_HEADER] = req.socket.remoteAddress ?? "unknown";
    // The requested path, so a page that needs a login can send the user back there afterwards.
    req.headers[REQUEST_PATH_HEADER] = req.url ?? "/";
    if (!handle) {
      // Listening before the service is up, so the instance can be named after its port.
      res.writeHead(503, { "content-type": "application/json", "retry-after": "1" });
      res.end(JSON.stringify({ error: { code: "unavailable", message: "brokerwatch is starting" } }));
      return;
    }
    handle(req, res).catch((err: Error) => {
      console.error("brokerwatch: request failed:", err);
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { code: "internal", message: "internal error" } }));
    });
  });
  await new Promise<void>((resolve) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      fail(err.code === "EADDRINUSE" ? portTakenMessage(env.PORT, env.HOSTNAME, "PORT") : `web server: ${err.message}`),
    );
    server.listen(env.PORT, env.HOSTNAME, () => resolve());
  });
  const webPort = (server.address() as net.AddressInfo).port;
  const hostForUrl = env.HOSTNAME.includes(":") ? `[${env.HOSTNAME}]` : env.HOSTNAME;
  const externalURL = env.BROKERWATCH_EXTERNAL_URL ?? `http://${hostForUrl}:${webPort}`;

  // Ingest (bundled broker, collectors, writer, alerts) in a worker thread on Postgres, so page
  // renders and ingest never wait on each other; inline on PGlite, which one thread owns.
  const ingestMode = env.BROKERWATCH_INGEST ?? (env.DATABASE_URL ? "worker" : "inline");
  if (ingestMode === "worker" && !env.DATABASE_URL) {
    fail("BROKERWATCH_INGEST=worker needs DATABASE_URL: the embedded database (PGlite) lives in one thread");
  }

  // Imported after the build check so a first start prints progress before loading everything.
  const { startIngest } = await import("./ingest-thread");
  const { defaultInstanceName } = await import("../lib/cluster/cluster");
  const { StartError } = await import("./start-error");

  let service: Awaited<ReturnType<typeof startIngest>>;
  try {
    service = await startIngest(
      {
        databaseUrl: env.DATABASE_URL,
        dataDir: env.BROKERWATCH_DATA_DIR,
        adminPassword: env.BROKERWATCH_ADMIN_PASSWORD,
        secret: env.BROKERWATCH_SECRET,
        // the machine's name, never the bind address (0.0.0.0 is every host's): lib/cluster/cluster.ts
        instanceName: env.BROKERWATCH_INSTANCE ?? defaultInstanceName(os.hostname(), webPort),
        externalURL,
        bundled: env.BUNDLED_BROKER
          ? {
              port: env.MQTT_PORT,
              host: env.HOSTNAME,
              sysIntervalSeconds: env.BUNDLED_SYS_INTERVAL,
              users: env.BUNDLED_BROKER_USERS,
              maxPacketBytes: env.BUNDLED_MAX_PACKET_SIZE,
              maxRetainedMessages: env.BUNDLED_MAX_RETAINED_MESSAGES,
              maxRetainedBytes: env.BUNDLED_MAX_RETAINED_BYTES,
            }
          : null,
      },
      ingestMode,
    );
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === "EADDRINUSE") fail(portTakenMessage(env.MQTT_PORT, env.HOSTNAME, "MQTT_PORT"));
    if (err instanceof ConfigError || err instanceof StartError) fail(e.message);
    fail(e.stack ?? String(e));
  }
  const { database, bundledBrokerUrl } = service;
  // PGlite's file system layer (emscripten NODEFS) sets each file's mode itself (0666), past the
  // umask: tighten what initdb and the migrations wrote. Files it adds later stay unreadable to
  // others through the 0700 data directory, and are tightened at the next start.
  if (database.kind === "pglite") await secureDataDir(env.BROKERWATCH_DATA_DIR).catch(() => undefined);
  const generatedPassword = service.generatedAdminPassword;

  const { default: next } = await import("next");
  const app = next({ dev: false, dir: ROOT, hostname: env.HOSTNAME, port: env.PORT, customServer: true });
  await app.prepare();
  handle = app.getRequestHandler();

  // Signal handlers before "ready": the line is written synchronously to a pipe, and whoever
  // reads it (a test, an orchestrator) may send SIGTERM at once; without a handler yet, the
  // default action would kill the process uncleanly.
  let stopping = false;
  async function shutdown(signal: string): Promise<void> {
    if (stopping) return;
    stopping = true;
    console.log(`brokerwatch: ${signal} received, stopping`);
    const force = setTimeout(() => {
      console.error("brokerwatch: shutdown took too long, exiting");
      process.exit(1);
    }, SHUTDOWN_BUDGET_MS);
    force.unref();
    const step = async (what: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (err) {
        console.error(`brokerwatch: stopping ${what}: ${(err as Error).message}`);
      }
    };
    await step("web server", () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    });
    await step("collectors, write queue, broker and database", () => service.stop());
    console.log("brokerwatch: stopped");
    process.exit(0);
  }
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));

  // One write, so anything reading the output sees the whole block at once.
  const lines = [
    "brokerwatch ready",
    `  UI:       http://${hostForUrl}:${webPort}`,
    `  broker:   ${bundledBrokerUrl ?? "off (BUNDLED_BROKER=off)"}`,
    `  database: ${database.kind === "postgres" ? "postgres (DATABASE_URL)" : `embedded PGlite in ${env.BROKERWATCH_DATA_DIR}`}`,
  ];
  if (generatedPassword) {
    lines.push(
      `  admin password (shown once; set BROKERWATCH_ADMIN_PASSWORD to choose your own): ${generatedPassword}`,
    );
  }
  console.log(lines.join("\n"));
}

main().catch((err) => fail((err as Error).stack ?? String(err)));
