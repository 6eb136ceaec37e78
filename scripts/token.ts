import { existsSync } from "node:fs";
import path from "node:path";
import { migrateDatabase, openDatabase, type Database } from "../db/client";
import { createApiToken, listApiTokens, revokeApiToken } from "../lib/auth/tokens";
import { readEnv } from "../server/env";

/**
 * `npm run token -- create <name> [--admin | --ingest] | list | revoke <id>`: API bearer tokens for
 * scripts and dashboards. Opens the same database `npm start` does (DATABASE_URL, else the
 * embedded PGlite in BROKERWATCH_DATA_DIR) and applies its migrations first.
 */
const HELP = `usage: npm run token -- <command>

  create <name> [--admin | --ingest [--brokers=a,b]]
                            create a token and print it (shown only this once; only its
                            SHA-256 is stored). Viewer tokens read; --admin also changes things;
                            --ingest may only ship log lines (POST /api/brokers/{name}/log),
                            to every broker, or with --brokers=a,b only to those (403 for
                            any other, whether it exists or not).
  list                      list tokens: id, name, role, prefix, created, last used, revoked
  revoke <id>               revoke a token; requests with it are refused from then on

Uses DATABASE_URL when set, else the embedded database in BROKERWATCH_DATA_DIR (default ./data).
The embedded database (PGlite) can be open in one process at a time: stop brokerwatch before
running this against it (it refuses while the database is in use; --force skips that check).
With DATABASE_URL it works while brokerwatch runs.

BROKERWATCH_API_TOKEN, when set, is a further admin token that is not stored and not listed here.`;

class UsageError extends Error {}

type Command =
  | { name: "create"; tokenName: string; role: "admin" | "viewer"; scope: "api" | "ingest"; brokers: string[] | null }
  | { name: "list" }
  | { name: "revoke"; id: number }
  | { name: "help" };

/** Everything is checked before the database is opened: a typo must not migrate anything. */
function parseCommand(argv: string[]): { command: Command; force: boolean } {
  const brokersFlag = argv.filter((a) => a.startsWith("--brokers="));
  const flags = new Set(argv.filter((a) => a.startsWith("--") && !a.startsWith("--brokers=")));
  const [word, ...args] = argv.filter((a) => !a.startsWith("--"));
  for (const flag of flags) {
    if (!["--admin", "--ingest", "--force", "--help"].includes(flag)) throw new UsageError(`unknown option ${flag}`);
  }
  const force = flags.has("--force");
  if (flags.has("--help") || word === "help") return { command: { name: "help" }, force };
  switch (word) {
    case "create": {
      const tokenName = args.join(" ").trim();
      if (!tokenName) throw new UsageError("create needs a name, e.g. npm run token -- create grafana");
      if (flags.has("--admin") && flags.has("--ingest")) throw new UsageError("--admin and --ingest exclude each other");
      const scope = flags.has("--ingest") ? "ingest" : "api";
      if (brokersFlag.length > 1) throw new UsageError("give --brokers once, with the names separated by commas");
      const names = brokersFlag.length ? brokersFlag[0].slice("--brokers=".length).split(",").map((n) => n.trim()).filter(Boolean) : [];
      if (brokersFlag.length && names.length === 0) throw new UsageError("--brokers= needs at least one broker name");
      if (names.length && scope !== "ingest") {
        throw new UsageError("--brokers limits an --ingest token; a viewer or admin token reads every broker");
      }
      const brokers = names.length ? [...new Set(names)] : null;
      return { command: { name: "create", tokenName, role: flags.has("--admin") ? "admin" : "viewer", scope, brokers }, force };
    }
    case "list":
      if (args.length) throw new UsageError("list takes no arguments");
      return { command: { name: "list" }, force };
    case "revoke": {
      const id = Number(args[0]);
      if (args.length !== 1 || !Number.isSafeInteger(id) || id <= 0) {
        throw new UsageError("revoke needs one token id (see npm run token -- list)");
      }
      return { command: { name: "revoke", id }, force };
    }
    default:
      throw new UsageError(word ? `unknown command "${word}"` : "no command given");
  }
}

/** PGlite keeps postmaster.pid in its directory while a process has it open (removed on close). */
function pgliteInUse(dataDir: string): string | null {
  const pid = path.join(dataDir, "pglite", "postmaster.pid");
  return existsSync(pid) ? pid : null;
}

async function run(database: Database, command: Exclude<Command, { name: "help" }>): Promise<number> {
  const db = database.db;
  switch (command.name) {
    case "create": {
      const { token, row } = await createApiToken(db, command.tokenName, command.role, command.scope, command.brokers);
      const reach = row.scope === "ingest" ? (row.brokers ? ` (log lines of ${row.brokers.join(", ")} only)` : " (log lines of every broker)") : "";
      console.error(`created ${row.scope === "ingest" ? "ingest" : row.role} token ${row.id} "${row.name}"${reach}; it is shown only this once, store it now:`);
      console.log(token);
      return 0;
    }
    case "list": {
      const rows = await listApiTokens(db);
      if (rows.length === 0) {
        console.log("no API tokens (create one with: npm run token -- create <name>)");
        return 0;
      }
      const table = [
        ["id", "name", "role", "prefix", "created", "last used", "revoked"],
        ...rows.map((r) => [
          String(r.id),
          r.name,
          r.scope === "ingest" ? (r.brokers ? `ingest: ${r.brokers.join(",")}` : "ingest") : r.role,
          `${r.prefix}…`,
          r.createdAt.toISOString(),
          r.lastUsedAt?.toISOString() ?? "never",
          r.revokedAt?.toISOString() ?? "-",
        ]),
      ];
      const widths = table[0].map((_, i) => Math.max(...table.map((line) => line[i].length)));
      for (const line of table)
        console.log(
          line
            .map((cell, i) => cell.padEnd(widths[i]))
            .join("  ")
            .trimEnd(),
        );
      return 0;
    }
    case "revoke": {
      const row = (await listApiTokens(db)).find((r) => r.id === command.id);
      if (!row || !(await revokeApiToken(db, command.id))) {
        const why = row ? `token ${command.id} is already revoked` : `no token with id ${command.id}`;
        console.error(`brokerwatch: ${why} (see npm run token -- list)`);
        return 1;
      }
      console.log(`revoked token ${row.id} "${row.name}"`);
      return 0;
    }
  }
}

async function main(): Promise<number> {
  let parsed: ReturnType<typeof parseCommand>;
  try {
    parsed = parseCommand(process.argv.slice(2));
  } catch (err) {
    console.error(`brokerwatch: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { command, force } = parsed;
  if (command.name === "help") {
    console.log(HELP);
    return 0;
  }

  const env = readEnv();
  if (!env.DATABASE_URL && !force) {
    const pid = pgliteInUse(env.BROKERWATCH_DATA_DIR);
    if (pid) {
      console.error(
        `brokerwatch: the embedded database in ${env.BROKERWATCH_DATA_DIR} is in use (${pid} exists): ` +
          "stop brokerwatch first, then run this again (--force if you are sure nothing has it open)",
      );
      return 1;
    }
  }
  const database = await openDatabase({ url: env.DATABASE_URL, dataDir: env.BROKERWATCH_DATA_DIR, max: 2 });
  try {
    await migrateDatabase(database);
    return await run(database, command);
  } finally {
    await database.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`brokerwatch: ${err.message}`);
    process.exit(1);
  },
);
