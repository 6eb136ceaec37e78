import { describe, expect, it } from "vitest";
import { EMQX_SYS_LINES } from "./helpers/fixtures";
import { seededRandom } from "./helpers/random";
import { BUNDLED_STATS } from "../lib/bundled-layout";
import { DISCONNECT_REASONS, EVENT_TYPES } from "../lib/events";
import { isMetricName } from "../lib/metrics";
import { createAutoDialect } from "../lib/collector/auto";
import { createBundledDialect } from "../lib/collector/bundled";
import { EMQX_STATS, createEmqxDialect } from "../lib/collector/emqx";
import type { Dialect, DialectOutput } from "../lib/collector/types";

/**
 * Throws 5,000 mutated `$SYS/brokers` messages at each dialect of that tree: truncated JSON,
 * random bytes, invalid UTF-8, wrong field types, huge numbers, hostile ClientIDs in topics.
 * Seeded, so a failure names an input that reproduces.
 */
const RUNS = 5_000;

const BUNDLED_NODE = "brokerwatch@127.0.0.1";
const SEEDS: { topic: string; payload: string }[] = [
  ...EMQX_SYS_LINES,
  { topic: `$SYS/brokers/${BUNDLED_NODE}/version`, payload: "aedes 1.2.0 (brokerwatch bundled)" },
  { topic: `$SYS/brokers/${BUNDLED_NODE}/sysdescr`, payload: "brokerwatch bundled broker" },
  { topic: `$SYS/brokers/${BUNDLED_NODE}/uptime`, payload: "90500" },
  { topic: `$SYS/brokers/${BUNDLED_NODE}/stats/queued/count`, payload: "150000" },
  { topic: `$SYS/brokers/${BUNDLED_NODE}/stats/memory/heap_used`, payload: "73400320" },
  {
    topic: `$SYS/brokers/${BUNDLED_NODE}/clients/dash-3/messages_dropped`,
    payload: '{"clientid": "dash-3", "dropped": 1200, "ts": 1795340020000}',
  },
  {
    topic: `$SYS/brokers/${BUNDLED_NODE}/connect_failed`,
    payload:
      '{"clientid": null, "username": "x", "ipaddress": "198.51.100.66", "sockport": 1883, "peerport": 40001, "proto_ver": 4, "reason": "bad_username_or_password", "reason_detail": "mismatch", "ts": 1795340010000}',
  },
  {
    topic: `$SYS/brokers/${BUNDLED_NODE}/gateway/mqttsn/clients/s-1/disconnected`,
    payload:
      '{"clientid": "s-1", "proto_ver": "1.2", "reason": "sock_closed", "connected_at": 1, "disconnected_at": 2}',
  },
];

const HOSTILE_IDS = [
  '"quoted"',
  "温度/センサー",
  "a/b/c",
  "x".repeat(65_535),
  "",
  "+",
  "#",
  "%2F",
  "\u0000",
  "connected",
  "a/disconnected",
];
const WRONG_VALUES: unknown[] = [
  "x",
  "",
  -1,
  0,
  1.5,
  1e308,
  2 ** 53 + 1,
  null,
  true,
  [],
  {},
  { clientid: "nested" },
  "1795340000000",
];
const NUMBER_TEXTS = ["1e400", "-1e400", "9".repeat(400), "-0", "1.5e-300", "0.000001"];
const INVALID_UTF8 = [[0xff], [0xc0, 0xaf], [0x80], [0xe2, 0x82], [0xed, 0xa0, 0x80]];

function mutate(random: () => number): { topic: string; payload: Uint8Array } {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const seed = pick(SEEDS);
  let topic = seed.topic;
  let text = seed.payload;
  const bytes = (s: string) => new TextEncoder().encode(s);

  switch (Math.floor(random() * 7)) {
    case 0: // truncated payload
      return { topic, payload: bytes(text.slice(0, Math.floor(random() * text.length))) };
    case 1: // random bytes
      return {
        topic,
        payload: Uint8Array.from({ length: Math.floor(random() * 64) }, () => Math.floor(random() * 256)),
      };
    case 2: {
      // invalid UTF-8 spliced in
      const at = Math.floor(random() * (text.length + 1));
      return {
        topic,
        payload: new Uint8Array([...bytes(text.slice(0, at)), ...pick(INVALID_UTF8), ...bytes(text.slice(at))]),
      };
    }
    case 3: {
      // a field of the wrong type, e.g. "proto_ver": "x"
      try {
        const fields = JSON.parse(text) as Record<string, unknown>;
        fields[pick(Object.keys(fields))] = pick(WRONG_VALUES);
        text = JSON.stringify(fields);
      } catch {
        text = pick(WRONG_VALUES.map(String));
      }
      return { topic, payload: bytes(text) };
    }
    case 4: {
      // a number beyond double range or precision: one JSON field's value, or the whole bare count
      const values = [...text.matchAll(/(?<=:\s*)-?\d+(?:\.\d+)?(?=\s*[,}])/g)];
      if (values.length === 0) return { topic, payload: bytes(pick(NUMBER_TEXTS)) };
      const { index, 0: value } = pick(values);
      return { topic, payload: bytes(text.slice(0, index) + pick(NUMBER_TEXTS) + text.slice(index + value.length)) };
    }
    case 5: {
      // a hostile ClientID in the topic and the payload
      const id = pick(HOSTILE_IDS);
      topic = topic.replace(/\/clients\/[^/]+\//, `/clients/${id}/`);
      text = text.replace(/"clientid": "[^"]*"/, `"clientid": ${JSON.stringify(id)}`);
      return { topic, payload: bytes(text) };
    }
    default: {
      // the topic mangled: a level cut, duplicated or renamed
      const levels = topic.split("/");
      const i = Math.floor(random() * levels.length);
      const op = random();
      if (op < 0.33) levels.splice(i, 1);
      else if (op < 0.66) levels.splice(i, 0, levels[i]);
      else levels[i] = pick(["", "constructor", "__proto__", "clients", "gateway", "stats", "metrics", "x"]);
      return { topic: levels.join("/"), payload: bytes(text) };
    }
  }
}

/**
 * Topics on which a dialect may say nothing: ones it knows and ignores, and rate counters, whose
 * first value gives no rate. Everything else must come back as something or as unparsed.
 */
function mayBeSilent(topic: string, stats: Readonly<Record<string, unknown>>): boolean {
  const levels = topic.split("/");
  if (levels[0] !== "$SYS" || levels[1] !== "brokers" || !levels[2] || levels.length < 4) return false;
  const [folder, ...rest] = levels.slice(3);
  if (rest.length === 0) return folder === "sysdescr" || folder === "datetime";
  if (folder === "stats") return !Object.hasOwn(stats, rest.join("/"));
  if (folder === "metrics") return rest.join("/") !== "messages/dropped";
  if (folder === "alarms" || folder === "sysmon") return true;
  const clientEvent =
    (folder === "clients" && levels.length >= 6) ||
    (folder === "gateway" && levels[5] === "clients" && levels.length >= 8);
  return clientEvent && ["subscribed", "unsubscribed"].includes(levels[levels.length - 1]);
}

const finiteOrNull = (v: number | null) => v === null || Number.isFinite(v);
const validDate = (d: Date) => d instanceof Date && Number.isFinite(d.getTime());

function checkOutput(out: DialectOutput, topic: string, stats: Readonly<Record<string, unknown>>): string {
  for (const s of out.samples) {
    expect(isMetricName(s.metric)).toBe(true);
    expect(Number.isFinite(s.value), `${s.metric} = ${s.value}`).toBe(true);
    expect(validDate(s.ts)).toBe(true);
  }
  for (const e of out.events) {
    expect(EVENT_TYPES).toContain(e.type);
    expect(validDate(e.ts) && validDate(e.receivedAt)).toBe(true);
    expect([e.port, e.keepalive, e.sessionSeconds].every(finiteOrNull)).toBe(true);
    expect([3, 4, 5, null]).toContain(e.protocolVersion);
    if (e.reason !== null) expect(DISCONNECT_REASONS).toContain(e.reason);
    // the ClientID always comes from the payload, never from the (encoded, truncated, /-split) topic
    const { clientid } = JSON.parse(e.raw) as { clientid?: unknown };
    expect(e.clientId).toBe(typeof clientid === "string" ? clientid : null);
  }
  for (const u of out.unparsed) {
    expect(u.topic).toBe(topic);
    expect(typeof u.raw).toBe("string");
    expect(u.error.length).toBeGreaterThan(0);
  }
  if (out.heartbeat) expect(Number.isFinite(out.heartbeat.uptimeSeconds)).toBe(true);

  if (out.events.length > 0) return "event";
  if (out.samples.length > 0) return "sample";
  if (out.unparsed.length > 0) return "unparsed";
  if (out.version !== undefined || out.nodes !== undefined) return "info";
  expect(mayBeSilent(topic, stats), `nothing came back for ${topic}`).toBe(true);
  return "silent";
}

describe.each([
  ["emqx", createEmqxDialect, EMQX_STATS],
  ["bundled", createBundledDialect, BUNDLED_STATS],
  // auto only ever sees $SYS/brokers here, so it parses as bundled or, once convinced, as EMQX
  ["auto", createAutoDialect, EMQX_STATS],
] as const)("fuzzing the %s dialect", (name, create, stats) => {
  it(`accounts for ${RUNS} mutated messages without throwing or producing NaN`, () => {
    const random = seededRandom(0xb40cce2 + name.length);
    const dialect: Dialect = create();
    const tally: Record<string, number> = {};
    for (let i = 0; i < RUNS; i++) {
      const { topic, payload } = mutate(random);
      const receivedAt = new Date(Date.UTC(2026, 10, 23) + i * 1000);
      const out = dialect.parse(topic, payload, receivedAt);
      // auto switches from the bundled superset to EMQX mid-run; judge silence by what it knows now
      const knownStats = name === "auto" && dialect.name === "bundled" ? BUNDLED_STATS : stats;
      try {
        const kind = checkOutput(out, topic, knownStats);
        tally[kind] = (tally[kind] ?? 0) + 1;
      } catch (err) {
        const shown = new TextDecoder().decode(payload).slice(0, 300);
        throw new Error(`input #${i} on ${topic.slice(0, 200)} with ${JSON.stringify(shown)}: ${String(err)}`);
      }
    }
    expect(Object.values(tally).reduce((a, b) => a + b, 0)).toBe(RUNS);
    for (const kind of ["event", "sample", "unparsed", "info", "silent"]) expect(tally[kind]).toBeGreaterThan(50);
  });
});
