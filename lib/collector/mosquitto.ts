import { normaliseReason, type DisconnectReason, type ProtocolVersion } from "../events";
import type { MetricName } from "../metrics";
import { CounterRates } from "./rates";
import { blankEvent, emptyOutput, type ConnectionEvent, type Dialect, type DialectOutput } from "./types";

/**
 * The Mosquitto dialect: reads what a monitoring client gets on `$SYS/#` — the `$SYS/broker/...`
 * statistics and, with `log_dest topic`, the broker's log lines on `$SYS/broker/log/<level>`.
 * Facts are from research/mosquitto-and-aedes.md sections 1 and 2 (Mosquitto 2.0.20–2.0.22 and
 * 2.1.2 source) unless a comment names another source.
 *
 * Two layers: `readMosquittoLogPayload` knows the shape of every log line and holds no state;
 * the dialect on top joins lines into sessions (2.0 disconnect lines carry no address, only the
 * connect line does), resolves takeovers and turns counters into rates.
 */

/** Disconnect line formats: 2.0.x, or 2.1.x where disconnect lines carry `[address:port]` and `p%d` is the real MQTT level. */
export type MosquittoLineFormat = "2.0" | "2.1";

/** What one log line says, whatever the version that wrote it. */
export type MosquittoLogLine =
  /** `New client connected from …` (or `New bridge connected from …`): a session began */
  | {
      kind: "connected";
      clientId: string;
      address: string;
      port: number;
      protocolVersion: ProtocolVersion | null;
      cleanStart: boolean;
      keepalive: number;
      username: string | null;
    }
  /** `New connection from ADDR:PORT on port N.`: a TCP socket was accepted, no CONNECT read yet */
  | { kind: "socket_opened"; address: string; port: number }
  /** a client's socket was closed; `clientId` null where Mosquitto prints `<unknown>`; address/port only in 2.1 */
  | {
      kind: "disconnected";
      clientId: string | null;
      reason: DisconnectReason;
      address: string | null;
      port: number | null;
    }
  /**
   * A connection refused before it became a session. `thenLogsDisconnect`: the broker goes on to
   * close the socket through do_disconnect, which logs a disconnect line of its own for it.
   */
  | {
      kind: "refused";
      clientId: string | null;
      reason: DisconnectReason;
      address: string | null;
      port: number | null;
      thenLogsDisconnect: boolean;
    }
  | { kind: "messages_dropped"; clientId: string }
  | { kind: "broker_version"; version: string; starting: boolean }
  /** a line we know and deliberately take nothing from */
  | { kind: "informational" };

export interface MosquittoLogRecord {
  /** from the default `<unix seconds>: ` prefix; null when the line had none or a custom strftime one */
  brokerTime: Date | null;
  line: MosquittoLogLine;
}

interface Endpoint {
  address: string;
  port: number;
}

const CLIENT = "Client ";
const UNKNOWN_CLIENT = "<unknown>";

/**
 * Reason words of 2.1's `Client %s [%s:%d] disconnected: <words>.` (research §2.4, v2.1.2
 * src/loop.c). The same words followed `Client %s disconnected, ` in 2.0 (`not authorised`) and, for
 * the MQTT 5 reasons, in the develop branch before 2.1.1 "fixed the inconsistent disconnect log
 * message format" (src/loop.c at 43e097a), so they are read in that shape too.
 */
const REASON_WORDS: Readonly<Record<string, DisconnectReason>> = {
  "connection closed by client": "tcp_closed",
  "exceeded timeout": "keepalive_timeout",
  "session taken over": "takenover",
  "not authorised": "not_authorized",
  "bad username or password": "not_authorized",
  "client banned": "not_authorized",
  "bad authentication method": "not_authorized",
  "non-matching http origin": "not_authorized",
  "protocol error": "protocol_error",
  "receive maximum exceeded": "protocol_error",
  "topic alias invalid": "protocol_error",
  "client identifier not valid": "protocol_error",
  "malformed packet": "malformed_packet",
  "oversize packet": "packet_too_large",
  "oversize payload": "packet_too_large",
  "out of memory": "out_of_memory",
  "administrative action": "kicked",
  "implementation specific error": "internal_error",
  "server unavailable": "internal_error",
  "server busy": "max_connections",
  "quota exceeded": "max_connections",
  "connection rate exceeded": "max_connections",
};

/**
 * `Client %s<suffix>` lines of 2.0 (research §2.3 table, src/loop.c do_disconnect). The ClientID is
 * everything between `Client ` and the suffix, so ids holding spaces or these very words still read
 * right: the line is anchored on its end, never split on a word.
 */
const DISCONNECT_SUFFIXES: ReadonlyArray<readonly [string, DisconnectReason]> = [
  [" disconnected.", "normal"],
  [" closed its connection.", "tcp_closed"],
  [" has exceeded timeout, disconnecting.", "keepalive_timeout"],
  [" disconnected due to protocol error.", "protocol_error"],
  [" disconnected due to malformed packet.", "malformed_packet"],
  [" disconnected due to oversize packet.", "packet_too_large"],
  [" disconnected due to oversize payload.", "packet_too_large"],
  [" disconnected due to out of memory.", "out_of_memory"],
  [
    " disconnected due to using not allowed feature (QoS too high, retain not supported, or bad AUTH method).",
    "protocol_error",
  ],
  [" disconnected due to QoS too high or retain not supported.", "protocol_error"],
  [" disconnected due to exceeding the receive maximum.", "protocol_error"],
  [" been disconnected by administrative action.", "kicked"],
  // Mosquitto 2.0 logs a takeover on log/E and nothing for the old socket (its do_disconnect reason is
  // MOSQ_ERR_SUCCESS, which logs nothing), so this line stands for the old session's end.
  [" already connected, closing old connection.", "takenover"],
  ...Object.entries(REASON_WORDS).map(([words, reason]) => [` disconnected, ${words}.`, reason] as const),
];

/** `p%d` of the connect line: 2.0 prints its internal enum (1 = 3.1, 2 = 3.1.1, 5 = 5), 2.1 the real level. */
const PROTOCOL_LEVELS: Readonly<Record<MosquittoLineFormat, Readonly<Record<string, ProtocolVersion>>>> = {
  "2.0": { "1": 3, "2": 4, "5": 5 },
  "2.1": { "3": 3, "4": 4, "5": 5 },
};

/** Informational lines, by their fixed start: known, and deliberately turned into nothing. */
const INFORMATIONAL_STARTS = [
  "Config loaded from ",
  "Opening ipv4 listen socket on port ",
  "Opening ipv6 listen socket on port ",
  "Opening websockets listen socket on port ",
  "Saving in-memory database to ",
  "Reloading config.",
];

/**
 * Mosquitto's default prefix is `"%" PRIu64 ": "` of the wall clock in Unix seconds (research §2.2):
 * ten digits from 2001 to 2286. Requiring ten keeps a custom all-digit strftime prefix such as
 * `%Y%m%d` from being read as a 1970 epoch.
 */
const EPOCH_PREFIX = /^(\d{10}): /;

/**
 * Reads one payload of `$SYS/broker/log/<level>`; null when no known line is in it.
 * `format` null (the version is not known yet) accepts the lines of both 2.0 and 2.1.
 */
export function readMosquittoLogPayload(text: string, format: MosquittoLineFormat | null): MosquittoLogRecord | null {
  const epoch = EPOCH_PREFIX.exec(text);
  if (epoch) {
    const line = readLogLine(text.slice(epoch[0].length), format);
    return line && { brokerTime: new Date(Number(epoch[1]) * 1000), line };
  }
  // No prefix (`log_timestamp false`), or a custom `log_timestamp_format`, which may itself contain
  // ": " and so cannot be split generically: take the text after the first ": " only when what
  // remains is a line we know; the time is then when we received it.
  const whole = readLogLine(text, format);
  if (whole) return { brokerTime: null, line: whole };
  const separator = text.indexOf(": ");
  if (separator < 0) return null;
  const rest = readLogLine(text.slice(separator + 2), format);
  return rest && { brokerTime: null, line: rest };
}

function readLogLine(body: string, format: MosquittoLineFormat | null): MosquittoLogLine | null {
  return (
    readConnected(body, format) ??
    readSocketOpened(body) ??
    readDisconnected(body, format) ??
    readRefused(body, format) ??
    readMessagesDropped(body) ??
    readBrokerVersion(body) ??
    readInformational(body)
  );
}

// Every reader below is linear in the line: fixed starts and ends are compared, the variable parts
// (ClientIDs of up to 65,535 bytes, usernames) are sliced out between them, and the few regular
// expressions run on short tails or have no nested or adjacent unbounded quantifiers.

/** `ADDR:PORT`, split on the last colon because an IPv6 address is printed without brackets (`::1:40656`). */
function readEndpoint(text: string): Endpoint | null {
  const colon = text.lastIndexOf(":");
  if (colon <= 0) return null;
  const port = readPort(text.slice(colon + 1));
  const address = text.slice(0, colon);
  return port === null || /\s/.test(address) ? null : { address, port };
}

function readPort(text: string): number | null {
  if (!/^\d{1,5}$/.test(text)) return null;
  const port = Number(text);
  return port <= 65_535 ? port : null;
}

function readAddress(text: string): string | null {
  return text !== "" && !/\s/.test(text) ? text : null;
}

const CONNECTED_STARTS = ["New client connected from ", "New bridge connected from "];
/** the whole parameter block when there is no username; at most 22 characters, so it is matched on the line's tail */
const PARAMETERS_WITHOUT_USERNAME = / \(p(\d{1,3}), c([01]), k(\d{1,5})\)\.$/;
/** the opening of the parameter block before a username, tried at one position at a time */
const PARAMETERS_BEFORE_USERNAME = / \(p(\d{1,3}), c([01]), k(\d{1,5}), u'/y;

/** `New client connected from %s:%d as %s (p%d, c%d, k%d[, u'%s']).` (src/handle_connect.c) */
function readConnected(body: string, format: MosquittoLineFormat | null): MosquittoLogLine | null {
  const start = CONNECTED_STARTS.find((s) => body.startsWith(s));
  if (!start) return null;
  // An address never holds a space, so the first " as " ends it; the ClientID may hold " as ".
  const as = body.indexOf(" as ", start.length);
  if (as < 0) return null;
  const endpoint = readEndpoint(body.slice(start.length, as));
  const idStart = as + 4;
  if (!endpoint) return null;

  let blockStart: number;
  let parameters: RegExpExecArray;
  let username: string | null = null;
  if (body.endsWith("').")) {
    // The username runs to the closing "')." and may hold quotes, parentheses or "', u'"; the block
    // that opens it is the last one in the line, so a ClientID that mimics the block stays whole.
    blockStart = body.lastIndexOf(" (p", body.length - 3);
    for (;;) {
      if (blockStart < idStart) return null;
      PARAMETERS_BEFORE_USERNAME.lastIndex = blockStart;
      const opening = PARAMETERS_BEFORE_USERNAME.exec(body);
      if (opening && blockStart + opening[0].length <= body.length - 3) {
        parameters = opening;
        username = body.slice(blockStart + opening[0].length, body.length - 3);
        break;
      }
      blockStart = body.lastIndexOf(" (p", blockStart - 1);
    }
  } else {
    const tailStart = Math.max(idStart, body.length - 32);
    const tail = PARAMETERS_WITHOUT_USERNAME.exec(body.slice(tailStart));
    if (!tail) return null;
    blockStart = tailStart + tail.index;
    parameters = tail;
  }
  const clientId = body.slice(idStart, blockStart);
  if (clientId === "") return null;
  return {
    kind: "connected",
    clientId,
    ...endpoint,
    protocolVersion: protocolVersion(parameters[1], format),
    cleanStart: parameters[2] === "1",
    keepalive: Number(parameters[3]),
    username,
  };
}

function protocolVersion(level: string, format: MosquittoLineFormat | null): ProtocolVersion | null {
  if (format) return PROTOCOL_LEVELS[format][level] ?? null;
  return PROTOCOL_LEVELS["2.0"][level] ?? PROTOCOL_LEVELS["2.1"][level] ?? null;
}

const SOCKET_OPENED_START = "New connection from ";

/** `New connection from %s:%d on port %d.` (src/net.c; TCP listeners only, websockets log none) */
function readSocketOpened(body: string): MosquittoLogLine | null {
  if (!body.startsWith(SOCKET_OPENED_START) || !body.endsWith(".")) return null;
  const onPort = body.lastIndexOf(" on port ");
  if (onPort < 0 || readPort(body.slice(onPort + 9, -1)) === null) return null;
  const endpoint = readEndpoint(body.slice(SOCKET_OPENED_START.length, onPort));
  return endpoint && { kind: "socket_opened", ...endpoint };
}

const BAD_SOCKET_START = "Bad socket read/write on client ";

function readDisconnected(body: string, format: MosquittoLineFormat | null): MosquittoLogLine | null {
  if (body.startsWith(BAD_SOCKET_START)) {
    // 2.0.0–2.0.5: `Bad socket read/write on client %s, disconnecting.`
    if (body.endsWith(", disconnecting.")) {
      return disconnectedLine(body.slice(BAD_SOCKET_START.length, -16), "socket_error", null);
    }
    // 2.0.6+: `Bad socket read/write on client %s: %s`, the second %s from mosquitto_strerror()
    const colon = body.lastIndexOf(": ");
    if (colon <= BAD_SOCKET_START.length) return null;
    return disconnectedLine(body.slice(BAD_SOCKET_START.length, colon), "socket_error", null);
  }
  if (!body.startsWith(CLIENT)) return null;
  // 2.1's `[ADDR:PORT] disconnected` is tried first where 2.1 is possible: read as 2.0, its clean
  // disconnect would pass for a ClientID ending in "[ADDR:PORT]".
  if (format !== "2.0") {
    const bracketed = readBracketedDisconnect(body);
    if (bracketed) return bracketed;
  }
  for (const [suffix, reason] of DISCONNECT_SUFFIXES) {
    if (body.endsWith(suffix)) return disconnectedLine(body.slice(CLIENT.length, -suffix.length), reason, null);
  }
  // 2.0.6+: `Client %s disconnected: %s.` with strerror(errno), e.g. "Connection timed out"
  const said = body.lastIndexOf(" disconnected: ");
  if (said < 0 || !body.endsWith(".") || said + 15 >= body.length - 1) return null;
  return disconnectedLine(body.slice(CLIENT.length, said), "socket_error", null);
}

/** 2.1.1+: `Client %s [%s:%d] disconnected.` and `Client %s [%s:%d] disconnected: <reason>.` */
function readBracketedDisconnect(body: string): MosquittoLogLine | null {
  const close = body.lastIndexOf("] disconnected");
  if (close < 0) return null;
  const after = body.slice(close + "] disconnected".length);
  let reason: DisconnectReason;
  if (after === ".") reason = "normal";
  else if (after.startsWith(": ") && after.endsWith(".") && after.length > 3)
    reason = reasonOfWords(after.slice(2, -1));
  else return null;
  const open = body.lastIndexOf(" [", close);
  if (open <= CLIENT.length) return null;
  const endpoint = readEndpoint(body.slice(open + 2, close));
  return endpoint && disconnectedLine(body.slice(CLIENT.length, open), reason, endpoint);
}

function reasonOfWords(words: string): DisconnectReason {
  if (Object.hasOwn(REASON_WORDS, words)) return REASON_WORDS[words];
  if (words.startsWith("used disallowed feature")) return "protocol_error";
  if (words.startsWith("bad socket read/write")) return "socket_error";
  // Mosquitto's own words are lower case; strerror(errno) text starts with a capital ("Connection reset by peer").
  if (/^[A-Z]/.test(words)) return "socket_error";
  return normaliseReason(words.replace(/[\s-]+/g, "_"));
}

function disconnectedLine(id: string, reason: DisconnectReason, endpoint: Endpoint | null): MosquittoLogLine | null {
  if (id === "") return null;
  return {
    kind: "disconnected",
    clientId: id === UNKNOWN_CLIENT ? null : id,
    reason,
    address: endpoint?.address ?? null,
    port: endpoint?.port ?? null,
  };
}

const CONNECTION_FROM_START = "Client connection from ";
const PROTOCOL_ERROR_START = "Protocol error from ";
const BAD_CLIENT_START = "Bad client ";
const BAD_CLIENT_END = " sending multiple CONNECT messages.";
const IN_CONNECT_FROM = " in CONNECT from ";

/** Connections refused before a session began (research §2.3, "Protocol errors", "Socket and TLS problems"). */
function readRefused(body: string, format: MosquittoLineFormat | null): MosquittoLogLine | null {
  const refused = (
    reason: DisconnectReason,
    address: string | null,
    thenLogsDisconnect: boolean,
    fields: { clientId?: string; port?: number } = {},
  ): MosquittoLogLine => ({
    kind: "refused",
    reason,
    address,
    thenLogsDisconnect,
    clientId: fields.clientId ?? null,
    port: fields.port ?? null,
  });

  // Both are logged while accepting the socket, before `New connection from`, and the socket is then
  // freed without do_disconnect, so no disconnect line follows (src/net.c net__socket_accept).
  if (body.startsWith(CONNECTION_FROM_START)) {
    const deniedEnd = " denied: max_connections exceeded.";
    if (body.endsWith(deniedEnd)) {
      const address = readAddress(body.slice(CONNECTION_FROM_START.length, -deniedEnd.length));
      return address === null ? null : refused("max_connections", address, false);
    }
    // `Client connection from %s failed: %s.`: a TLS handshake error, one line per OpenSSL error
    const failed = body.indexOf(" failed: ", CONNECTION_FROM_START.length);
    if (failed < 0 || !body.endsWith(".")) return null;
    const address = readAddress(body.slice(CONNECTION_FROM_START.length, failed));
    return address === null ? null : refused("socket_error", address, false);
  }
  if (body.startsWith("Unable to accept new connection, system socket count has been exceeded.")) {
    return refused("max_connections", null, false);
  }
  // The CONNECT was read and rejected; the handler returns MOSQ_ERR_PROTOCOL and do_disconnect then
  // logs `Client <unknown> disconnected due to protocol error.` for the same socket.
  if (body.startsWith(PROTOCOL_ERROR_START)) {
    // 2.0: `Protocol error from %s: …` with the address; 2.1: `Protocol error from %s:%d: …`
    const colon = body.indexOf(": ", PROTOCOL_ERROR_START.length);
    if (colon < 0) return null;
    const from = body.slice(PROTOCOL_ERROR_START.length, colon);
    const endpoint = format === "2.1" ? readEndpoint(from) : null;
    if (endpoint) return refused("protocol_error", endpoint.address, true, { port: endpoint.port });
    const address = readAddress(from);
    return address === null ? null : refused("protocol_error", address, true);
  }
  // `Invalid protocol version %d in CONNECT from %s.`, `Invalid protocol "%s" in CONNECT from %s.`,
  // `Invalid Will QoS in CONNECT from %s.`: the protocol name is the client's and may hold anything,
  // so the address is what follows the last " in CONNECT from ".
  if (body.startsWith("Invalid ") && body.endsWith(".")) {
    const from = body.lastIndexOf(IN_CONNECT_FROM);
    if (from < 0) return null;
    const address = readAddress(body.slice(from + IN_CONNECT_FROM.length, -1));
    return address === null ? null : refused("protocol_error", address, true);
  }
  // A second CONNECT on a socket that already has a session; %s is that session's ClientID.
  if (body.startsWith(BAD_CLIENT_START) && body.endsWith(BAD_CLIENT_END)) {
    const clientId = body.slice(BAD_CLIENT_START.length, -BAD_CLIENT_END.length);
    return clientId === "" ? null : refused("protocol_error", null, true, { clientId });
  }
  return null;
}

const DROPPING_START = "Outgoing messages are being dropped for client ";

/** Logged once per episode, when a client's queue is full (src/database.c). */
function readMessagesDropped(body: string): MosquittoLogLine | null {
  if (!body.startsWith(DROPPING_START) || !body.endsWith(".")) return null;
  const clientId = body.slice(DROPPING_START.length, -1);
  return clientId === "" ? null : { kind: "messages_dropped", clientId };
}

function readBrokerVersion(body: string): MosquittoLogLine | null {
  const said = /^mosquitto version (\S+) (starting|running|terminating)$/.exec(body);
  return said && { kind: "broker_version", version: said[1], starting: said[2] === "starting" };
}

function readInformational(body: string): MosquittoLogLine | null {
  const informational: MosquittoLogLine = { kind: "informational" };
  if (INFORMATIONAL_STARTS.some((start) => body.startsWith(start))) return informational;
  // session expiry of a disconnected persistent client; its disconnect was logged when it happened
  if (body.startsWith("Expiring client ") && body.endsWith(" due to timeout.")) return informational;
  // 2.1: `Client %s negotiated %s cipher %s` after a TLS connect
  if (body.startsWith(CLIENT)) {
    const negotiated = body.lastIndexOf(" negotiated ");
    if (negotiated > CLIENT.length && /^ negotiated \S+ cipher \S+$/.test(body.slice(negotiated))) return informational;
  }
  return null;
}

/** Line format for a version string: 2.1 and later print `[ADDR:PORT]` in disconnect lines. */
function lineFormatOf(version: string): MosquittoLineFormat | null {
  const number = /^(\d+)\.(\d+)/.exec(version);
  if (!number) return null;
  const [major, minor] = [Number(number[1]), Number(number[2])];
  return major > 2 || (major === 2 && minor >= 1) ? "2.1" : "2.0";
}

// ---------------------------------------------------------------------------------------------
// The dialect
// ---------------------------------------------------------------------------------------------

export interface MosquittoDialectOptions {
  /** sessions remembered for joining a disconnect to its connect; the oldest are forgotten beyond it */
  maxOpenSessions?: number;
}

/** A few hundred bytes per session: tens of MB at the bound, which only a broker with that many live clients reaches. */
const DEFAULT_MAX_OPEN_SESSIONS = 200_000;
/**
 * Sockets between `New connection from` and their CONNECT's outcome, normally milliseconds. One
 * lingers only when its next line was lost (log messages expire after 20 s), so a small bound is plenty.
 */
const MAX_SOCKETS_AWAITING_CONNECT = 1_000;

const SYS_BROKER = "$SYS/broker/";
const LOG_TOPICS = "$SYS/broker/log/";
/** `log_type subscribe|unsubscribe` lines: `%s %d %s` of a client's subscription, nothing we export */
const SUBSCRIPTION_LOG_TOPICS = "$SYS/broker/log/M/";

/**
 * `%d` gauges (sys_tree.c), read signed and clamped at 0: `clients/connected` counts every open
 * socket, and the broker's own bookkeeping can go below zero (`clients/disconnected` = total −
 * connected is seen at -8726, issue #2466), so a negative count is a quirk, never a value.
 */
const COUNT_GAUGES: Readonly<Record<string, MetricName>> = {
  "clients/connected": "mqtt_connections_current",
  "clients/total": "mqtt_sessions",
  "subscriptions/count": "mqtt_subscriptions",
};

/** `%lu` / `%llu` running totals that become per-second rates. */
const RATE_COUNTERS: Readonly<Record<string, MetricName>> = {
  "publish/messages/received": "mqtt_messages_received_per_second",
  "publish/messages/sent": "mqtt_messages_sent_per_second",
  "bytes/received": "mqtt_bytes_received_per_second",
  "bytes/sent": "mqtt_bytes_sent_per_second",
};

/** `%lu` values exported as they are. */
const UNSIGNED_GAUGES: Readonly<Record<string, MetricName>> = {
  "publish/messages/dropped": "mqtt_messages_dropped_total",
  // only published by builds with memory tracking on glibc/macOS/FreeBSD: absent, not zero, elsewhere
  "heap/current": "mqtt_memory_bytes",
};

const RETAINED_COUNT = "retained messages/count";
/** `db.msg_store_count`: retained messages plus messages queued for durable clients. `messages/stored` is its deprecated alias, published alongside, so it is ignored. */
const STORE_COUNT = "store/messages/count";

/** A value of a topic we use that is not what its printf format writes. */
class Unreadable extends Error {}

/** Reasons that, without a session for the ClientID, mean the connection never got one (CONTRACT §4). */
const REFUSAL_REASONS: ReadonlySet<DisconnectReason> = new Set<DisconnectReason>([
  "not_authorized",
  "protocol_error",
  "malformed_packet",
  "max_connections",
]);

interface OpenSession {
  connectedAt: Date;
  address: string;
  port: number;
  username: string | null;
  protocolVersion: ProtocolVersion | null;
  cleanStart: boolean;
  keepalive: number;
}

/** Where and when a disconnect happened, as the line that told us says. */
interface Ending {
  ts: Date;
  receivedAt: Date;
  raw: string;
  address: string | null;
  port: number | null;
}

interface PendingTakeover extends Ending {
  clientId: string;
}

interface RateCounter {
  value: number;
  /** seen since the last `uptime`, i.e. in the update now being published */
  republished: boolean;
}

const lossyUtf8 = new TextDecoder("utf-8");

export function createMosquittoDialect(options: MosquittoDialectOptions = {}): Dialect {
  return new MosquittoDialect(options.maxOpenSessions ?? DEFAULT_MAX_OPEN_SESSIONS);
}

class MosquittoDialect implements Dialect {
  readonly name = "mosquitto";
  readonly subscriptions = ["$SYS/#"];

  /** null until `$SYS/broker/version` (retained, so it comes first on subscribe) says which */
  private format: MosquittoLineFormat | null = null;
  private readonly openSessions = new Map<string, OpenSession>();
  /** keyed `address:port`, oldest first */
  private readonly socketsAwaitingConnect = new Map<string, Endpoint>();
  /** a takeover whose kind (takenover / discarded) the new session's clean-start flag decides */
  private pendingTakeover: PendingTakeover | null = null;
  /** the last log line read: the next may be about the same socket (a refusal's own disconnect, a clone's failed login) */
  private previousLine: MosquittoLogLine | null = null;

  private readonly rates = new CounterRates();
  private readonly rateCounters = new Map<MetricName, RateCounter>();
  private lastUptime: number | null = null;
  private lastUptimeAt: Date | null = null;
  private storeCount: number | null = null;
  private retainedCount: number | null = null;
  /** when a store count arrived whose queued value is not yet emitted */
  private storeCountChangedAt: Date | null = null;

  constructor(private readonly maxOpenSessions: number) {}

  parse(topic: string, payload: Uint8Array, receivedAt: Date): DialectOutput {
    let raw = "";
    const out = emptyOutput();
    try {
      raw = lossyUtf8.decode(payload);
      if (topic.startsWith(LOG_TOPICS) && !topic.startsWith(SUBSCRIPTION_LOG_TOPICS)) {
        this.readLog(topic, raw, receivedAt, out);
      } else {
        this.resolveTakeover(out);
        if (topic.startsWith(SYS_BROKER)) this.readStatistic(topic.slice(SYS_BROKER.length), raw, receivedAt, out);
      }
      return out;
    } catch (err) {
      const error = err instanceof Unreadable ? err.message : `parser error: ${String(err)}`;
      // keep what was already produced, e.g. a takeover resolved before the unreadable value
      return { ...out, unparsed: [...out.unparsed, { receivedAt, topic, raw, error }] };
    }
  }

  // ----- $SYS statistics -------------------------------------------------------------------

  private readStatistic(name: string, text: string, receivedAt: Date, out: DialectOutput): void {
    const sample = (metric: MetricName, value: number, ts = receivedAt) => {
      out.samples.push({ metric, node: null, value, ts });
    };
    if (name === "version") {
      const said = /^mosquitto version (\S+)$/.exec(text);
      if (!said) throw new Unreadable('expected "mosquitto version <version>"');
      out.version = said[1];
      this.format = lineFormatOf(said[1]) ?? this.format;
    } else if (name === "uptime") {
      const said = /^(\d{1,20}) seconds$/.exec(text);
      if (!said) throw new Unreadable('expected "<n> seconds"');
      const uptimeSeconds = Number(said[1]);
      this.startUpdate(uptimeSeconds, receivedAt, sample);
      sample("mqtt_broker_uptime_seconds", uptimeSeconds);
      out.heartbeat = { node: null, uptimeSeconds };
    } else if (Object.hasOwn(COUNT_GAUGES, name)) {
      sample(COUNT_GAUGES[name], Math.max(0, readInteger(text, true)));
    } else if (Object.hasOwn(UNSIGNED_GAUGES, name)) {
      sample(UNSIGNED_GAUGES[name], readInteger(text, false));
    } else if (Object.hasOwn(RATE_COUNTERS, name)) {
      const metric = RATE_COUNTERS[name];
      const value = readInteger(text, false);
      this.rateCounters.set(metric, { value, republished: true });
      const rate = this.rates.observe(metric, value, receivedAt);
      if (rate !== null) sample(metric, rate);
    } else if (name === STORE_COUNT) {
      this.storeCount = Math.max(0, readInteger(text, true));
      this.storeCountChangedAt = receivedAt;
    } else if (name === RETAINED_COUNT) {
      this.retainedCount = Math.max(0, readInteger(text, true));
      sample("mqtt_retained_messages", this.retainedCount);
      // sys_tree.c publishes the store count before the retained count in the same update, so both are current here
      if (this.storeCount !== null) {
        sample("mqtt_queued_messages", this.queuedMessages());
        this.storeCountChangedAt = null;
      }
    }
    // anything else (load averages, clients/maximum, clients/disconnected, heap/maximum, …) carries nothing we export
  }

  /**
   * `uptime` opens every update and is the only topic published whether or not it changed; every
   * other topic is republished only when its value changed (sys_tree.c). So at each `uptime`:
   * a counter absent from the previous update had not moved (its rate was 0, which a gauge that
   * kept its last rate would hide), and a store count not followed by a retained count can now be
   * turned into a queued count.
   */
  private startUpdate(
    uptimeSeconds: number,
    receivedAt: Date,
    sample: (metric: MetricName, value: number, ts?: Date) => void,
  ): void {
    if (this.lastUptime !== null && uptimeSeconds < this.lastUptime) this.brokerRestarted();
    const previousUpdateAt = this.lastUptimeAt;
    if (previousUpdateAt) {
      for (const [metric, counter] of this.rateCounters) {
        if (counter.republished) continue;
        const rate = this.rates.observe(metric, counter.value, previousUpdateAt);
        if (rate !== null) sample(metric, rate, previousUpdateAt);
      }
    }
    for (const counter of this.rateCounters.values()) counter.republished = false;
    if (this.storeCountChangedAt) {
      sample("mqtt_queued_messages", this.queuedMessages(), this.storeCountChangedAt);
      this.storeCountChangedAt = null;
    }
    this.lastUptime = uptimeSeconds;
    this.lastUptimeAt = receivedAt;
  }

  private queuedMessages(): number {
    return Math.max(0, (this.storeCount ?? 0) - (this.retainedCount ?? 0));
  }

  /** Uptime went back, or the log said `starting`: sockets and counters of the old process are gone. */
  private brokerRestarted(): void {
    this.openSessions.clear();
    this.socketsAwaitingConnect.clear();
    this.previousLine = null;
    this.rates.reset();
    this.rateCounters.clear();
    this.lastUptimeAt = null;
  }

  // ----- log lines ---------------------------------------------------------------------------

  private readLog(topic: string, raw: string, receivedAt: Date, out: DialectOutput): void {
    const record = readMosquittoLogPayload(raw, this.format);
    const previous = this.previousLine;
    this.previousLine = record?.line ?? null;
    const line = record?.line;
    if (!(line?.kind === "connected" && line.clientId === this.pendingTakeover?.clientId)) this.resolveTakeover(out);
    if (!record || !line) {
      out.unparsed.push({ receivedAt, topic, raw, error: "unrecognised log line" });
      return;
    }
    const at = { ts: record.brokerTime ?? receivedAt, receivedAt, raw };
    switch (line.kind) {
      case "connected":
        return this.sessionBegan(line, at, out);
      case "socket_opened":
        return this.rememberSocket(line);
      case "disconnected":
        return this.socketClosed(line, previous, at, out);
      case "refused":
        return this.connectionRefused(line, previous, at, out);
      case "messages_dropped": {
        const session = this.openSessions.get(line.clientId);
        out.events.push(
          blankEvent({ ...at, type: "messages_dropped", clientId: line.clientId, ...(session && identityOf(session)) }),
        );
        return;
      }
      case "broker_version":
        out.version = line.version;
        this.format = lineFormatOf(line.version) ?? this.format;
        if (line.starting) this.brokerRestarted();
        return;
      case "informational":
        return;
    }
  }

  private sessionBegan(
    line: Extract<MosquittoLogLine, { kind: "connected" }>,
    at: { ts: Date; receivedAt: Date; raw: string },
    out: DialectOutput,
  ): void {
    const takeover = this.pendingTakeover;
    if (takeover) {
      // the same ClientID connected again: clean start 1 throws the old session away, 0 takes it over
      this.pendingTakeover = null;
      out.events.push(this.sessionEnded(takeover.clientId, line.cleanStart ? "discarded" : "takenover", takeover));
    }
    this.socketsAwaitingConnect.delete(endpointKey(line));
    const session: OpenSession = {
      connectedAt: at.ts,
      address: line.address,
      port: line.port,
      username: line.username,
      protocolVersion: line.protocolVersion,
      cleanStart: line.cleanStart,
      keepalive: line.keepalive,
    };
    this.openSessions.delete(line.clientId);
    if (this.openSessions.size >= this.maxOpenSessions) this.forgetOldest(this.openSessions);
    this.openSessions.set(line.clientId, session);
    out.events.push(sessionEvent(at, "connected", line.clientId, null, session, null, null));
  }

  private rememberSocket(endpoint: Endpoint): void {
    const key = endpointKey(endpoint);
    this.socketsAwaitingConnect.delete(key);
    if (this.socketsAwaitingConnect.size >= MAX_SOCKETS_AWAITING_CONNECT)
      this.forgetOldest(this.socketsAwaitingConnect);
    this.socketsAwaitingConnect.set(key, { address: endpoint.address, port: endpoint.port });
  }

  private socketClosed(
    line: Extract<MosquittoLogLine, { kind: "disconnected" }>,
    previous: MosquittoLogLine | null,
    at: { ts: Date; receivedAt: Date; raw: string },
    out: DialectOutput,
  ): void {
    const ending: Ending = { ts: at.ts, receivedAt: at.receivedAt, raw: at.raw, address: line.address, port: line.port };
    if (line.reason === "takenover" && line.clientId !== null) {
      // decided by the clean-start flag of the connect line that follows (resolveTakeover if none does)
      this.pendingTakeover = { ...ending, clientId: line.clientId };
      return;
    }
    // the refusal line just before already counted this socket; this is do_disconnect closing it
    if (
      previous?.kind === "refused" &&
      previous.thenLogsDisconnect &&
      (line.reason === "protocol_error" || line.reason === "malformed_packet")
    ) {
      return;
    }
    const session = line.clientId === null ? undefined : this.openSessions.get(line.clientId);
    if (line.clientId !== null && session && this.isAboutSession(line, session, previous)) {
      out.events.push(this.sessionEnded(line.clientId, line.reason, ending));
      return;
    }
    if (line.clientId === null || REFUSAL_REASONS.has(line.reason)) {
      const socket = line.address !== null ? this.takeSocket(ending) : this.takeLatestSocket();
      out.events.push(
        blankEvent({ ...at, type: "connect_failed", clientId: line.clientId, reason: line.reason, ...socket }),
      );
      return;
    }
    // a session whose connect we did not see (it began before we subscribed, or its line expired)
    out.events.push(blankEvent({ ...ending, type: "disconnected", clientId: line.clientId, reason: line.reason }));
  }

  /**
   * Whether a disconnect line with the ClientID of an open session is about that session. 2.1 says
   * which socket; 2.0 does not, and a clone of a live client (same ClientID, wrong password) logs
   * `Client <id> disconnected, not authorised.` for its own socket: when that line directly follows
   * the clone's `New connection from`, the live session is left open.
   */
  private isAboutSession(
    line: Extract<MosquittoLogLine, { kind: "disconnected" }>,
    session: OpenSession,
    previous: MosquittoLogLine | null,
  ): boolean {
    if (line.address !== null) return line.address === session.address && line.port === session.port;
    return !(line.reason === "not_authorized" && previous?.kind === "socket_opened");
  }

  private connectionRefused(
    line: Extract<MosquittoLogLine, { kind: "refused" }>,
    previous: MosquittoLogLine | null,
    at: { ts: Date; receivedAt: Date; raw: string },
    out: DialectOutput,
  ): void {
    // one line per OpenSSL error for a single failed handshake
    if (
      !line.thenLogsDisconnect &&
      previous?.kind === "refused" &&
      !previous.thenLogsDisconnect &&
      previous.reason === line.reason &&
      previous.address === line.address
    ) {
      return;
    }
    if (line.clientId !== null && this.openSessions.has(line.clientId)) {
      // `Bad client X sending multiple CONNECT messages.` about a live session: that session did
      // begin, so its end is the disconnect line that follows, not a failed connect (and that line
      // must not be taken for the refusal's own, already counted, disconnect).
      this.previousLine = null;
      return;
    }
    let socket = this.takeSocket(line);
    if (line.address !== null && line.port === null && line.thenLogsDisconnect) {
      // the CONNECT was read, so `New connection from` came first: it knows the port
      socket = { address: line.address, port: this.takeLatestSocket(line.address).port };
    }
    out.events.push(
      blankEvent({ ...at, type: "connect_failed", clientId: line.clientId, reason: line.reason, ...socket }),
    );
  }

  /** The end of a session: it inherits what its connect said and gets its length. */
  private sessionEnded(clientId: string, reason: DisconnectReason, ending: Ending): ConnectionEvent {
    const session = this.openSessions.get(clientId);
    this.openSessions.delete(clientId);
    const sessionSeconds = session ? Math.max(0, (ending.ts.getTime() - session.connectedAt.getTime()) / 1000) : null;
    return sessionEvent(ending, "disconnected", clientId, reason, session, ending, sessionSeconds);
  }

  /**
   * A takeover line waits for the new session's connect line, which Mosquitto logs right after it
   * (handle_connect.c). If something else comes first (the CONNECT failed further on), the old
   * session still ended: it is reported as taken over rather than lost.
   */
  private resolveTakeover(out: DialectOutput): void {
    const takeover = this.pendingTakeover;
    if (!takeover) return;
    this.pendingTakeover = null;
    out.events.push(this.sessionEnded(takeover.clientId, "takenover", takeover));
  }

  /** The socket a line names, no longer awaiting its CONNECT. */
  private takeSocket(endpoint: { address: string | null; port: number | null }) {
    if (endpoint.address !== null && endpoint.port !== null) {
      this.socketsAwaitingConnect.delete(endpointKey({ address: endpoint.address, port: endpoint.port }));
    }
    return { address: endpoint.address, port: endpoint.port };
  }

  /**
   * 2.0 names no socket in `Client <unknown> …` lines. A socket's lines come in order, so the
   * failure belongs to the most recent `New connection from` (from `address`, when the line gave
   * one) that has not become a session.
   */
  private takeLatestSocket(address?: string): { address: string | null; port: number | null } {
    const keys = [...this.socketsAwaitingConnect.keys()];
    for (let i = keys.length - 1; i >= 0; i--) {
      const socket = this.socketsAwaitingConnect.get(keys[i]);
      if (socket && (address === undefined || socket.address === address)) {
        this.socketsAwaitingConnect.delete(keys[i]);
        return { address: socket.address, port: socket.port };
      }
    }
    return { address: null, port: null };
  }

  private forgetOldest(map: Map<string, unknown>): void {
    const oldest = map.keys().next();
    if (!oldest.done) map.delete(oldest.value);
  }
}

/**
 * A connect or disconnect event of a session, built as one literal of fixed shape: this runs once
 * per log line, and the spread-based `blankEvent({...at, ...identityOf(session)})` cost 40% of the
 * parse time (V8 rebuilds the object shape for every spread). `where`'s address and port, when
 * known, win over the session's (a 2.1 disconnect line names its socket).
 */
function sessionEvent(
  at: { ts: Date; receivedAt: Date; raw: string },
  type: "connected" | "disconnected",
  clientId: string,
  reason: DisconnectReason | null,
  session: OpenSession | undefined,
  where: { address: string | null; port: number | null } | null,
  sessionSeconds: number | null,
): ConnectionEvent {
  return {
    ts: at.ts,
    receivedAt: at.receivedAt,
    raw: at.raw,
    node: null,
    clientId,
    type,
    reason,
    address: where?.address ?? session?.address ?? null,
    port: where?.port ?? session?.port ?? null,
    username: session?.username ?? null,
    protocolVersion: session?.protocolVersion ?? null,
    cleanStart: session?.cleanStart ?? null,
    keepalive: session?.keepalive ?? null,
    sessionSeconds,
  };
}

function identityOf(session: OpenSession) {
  return {
    address: session.address,
    port: session.port,
    username: session.username,
    protocolVersion: session.protocolVersion,
    cleanStart: session.cleanStart,
    keepalive: session.keepalive,
  };
}

function endpointKey(endpoint: Endpoint): string {
  return `${endpoint.address}:${endpoint.port}`;
}

/** `%d` (signed) or `%lu`/`%llu` (unsigned) as sys_tree.c prints them; anything else is unreadable, never NaN. */
function readInteger(text: string, signed: boolean): number {
  if (!(signed ? /^-?\d{1,20}$/ : /^\d{1,20}$/).test(text)) {
    throw new Unreadable(signed ? "expected an integer" : "expected a non-negative integer");
  }
  return Number(text);
}
