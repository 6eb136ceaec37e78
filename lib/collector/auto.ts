import { BUNDLED_METRICS, BUNDLED_STATS } from "../bundled-layout";
import { createBundledDialect } from "./bundled";
import { createEmqxDialect, unparsedOutput } from "./emqx";
import { createMosquittoDialect } from "./mosquitto";
import { emptyOutput, type Dialect, type DialectName } from "./types";

/** Topic levels under `$SYS/brokers/{node}/` that EMQX publishes and the bundled broker never does. */
const EMQX_ONLY_FOLDERS = new Set(["gateway", "alarms", "sysmon", "datetime"]);

/**
 * Aedes' own `$SYS/<id>/…` topics (docs/brokers.md §3.1), which the bundled broker
 * publishes beside its EMQX-style tree: nothing to read there, and not worth an unparsed record each.
 */
const AEDES_CORE_TOPIC =
  /^\$SYS\/[^/]+\/(heartbeat|birth|new\/clients|disconnect\/clients|new\/subscribes|new\/unsubscribes)$/;

const utf8 = new TextDecoder("utf-8", { fatal: true });

function trimmedText(payload: Uint8Array): string {
  try {
    return utf8.decode(payload).trim();
  } catch {
    return "";
  }
}

/**
 * Which broker a message proves we are talking to, or null when it could come from either.
 * Mosquitto publishes under `$SYS/broker/` (singular). EMQX and the bundled broker share
 * `$SYS/brokers/{node}/`, so they are told apart by what they say about themselves — the bundled
 * broker's version is "aedes <v> (brokerwatch bundled)" and its sysdescr "brokerwatch bundled broker"
 * (broker/index.ts), EMQX's are "5.8.6" and "EMQX" — or by a topic outside the bundled layout.
 */
function evidence(topic: string, payload: Uint8Array): DialectName | null {
  if (topic.startsWith("$SYS/broker/")) return "mosquitto";
  const levels = topic.split("/");
  if (levels[0] !== "$SYS" || levels[1] !== "brokers" || !levels[2] || levels.length < 4) return null;
  const folder = levels[3];
  const path = levels.slice(4).join("/");
  if (levels.length === 4 && (folder === "version" || folder === "sysdescr")) {
    const said = trimmedText(payload);
    if (said === "") return null;
    const bundled = folder === "version" ? /^aedes\b/i.test(said) : /brokerwatch/i.test(said);
    return bundled ? "bundled" : "emqx";
  }
  if (folder === "stats" && levels.length > 4) return Object.hasOwn(BUNDLED_STATS, path) ? null : "emqx";
  if (folder === "metrics" && levels.length > 4) return Object.hasOwn(BUNDLED_METRICS, path) ? null : "emqx";
  return EMQX_ONLY_FOLDERS.has(folder) ? "emqx" : null;
}

/**
 * Detects the broker from what arrives on `$SYS/#`, then hands every message to that dialect.
 * Nothing is buffered: until it knows, it parses with the bundled dialect, a superset of EMQX's,
 * so `$SYS/brokers` messages seen before the (retained) version arrives are not lost. If the
 * broker turns out to be the bundled one, that same instance carries on and keeps its counters.
 */
export function createAutoDialect(): Dialect & { readonly detected: DialectName | null } {
  const undecided = createBundledDialect();
  let chosen: Dialect | null = null;

  function choose(name: DialectName): Dialect {
    if (name === "bundled") return undecided;
    return name === "emqx" ? createEmqxDialect() : createMosquittoDialect();
  }

  return {
    /** the dialect parsing messages now: the bundled superset until detection */
    get name() {
      return (chosen ?? undecided).name;
    },
    get detected() {
      return chosen?.name ?? null;
    },
    subscriptions: ["$SYS/#"],
    parse(topic, payload, receivedAt, own) {
      try {
        if (AEDES_CORE_TOPIC.test(topic)) return emptyOutput();
        if (!chosen) {
          const found = evidence(topic, payload);
          if (found) chosen = choose(found);
        }
        return (chosen ?? undecided).parse(topic, payload, receivedAt, own);
      } catch (err) {
        return unparsedOutput(topic, payload, receivedAt, `parser error: ${String(err)}`);
      }
    },
  };
}
