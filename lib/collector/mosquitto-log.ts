import { normaliseReason, type DisconnectReason, type ProtocolVersion } from "../events";

/**
 * Mosquitto's log lines, read one at a time: `readMosquittoLogPayload(text, format)` turns the
 * payload of a `$SYS/broker/log/<level>` message into what the line says (a `MosquittoLogLine`),
 * or null when it is not a line we know.
 *
 * STATELESS. Nothing here remembers anything between calls: the same text and format always give
 * the same record. The only context a line needs, the broker's line format (2.0 or 2.1), is passed
 * in by the caller, which learns it from `$SYS/broker/version`. Joining lines into sessions is
 * mosquitto-sessions.ts; the `$SYS/broker/...` statistics are mosquitto.ts.
 *
 * Facts are from docs/brokers.md §1 and §2 (Mosquitto 2.0.20–2.0.22 and 2.1.2 source) unless a
 * comment names another source.
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

export interface Endpoint {
  address: string;
  port: number;
}

const CLIENT = "Client ";
const UNKNOWN_CLIENT = "<unknown>";

/**
 * Reason words of 2.1's `Client %s [%s:%d] disconnected: <words>.` (docs/brokers.md §2.4, v2.1.2
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
 * `Client %s<suffix>` lines of 2.0 (docs/brokers.md §2.3 table, src/loop.c do_disconnect). The ClientID is
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
 * Mosquitto's default prefix is `"%" PRIu64 ": "` of the wall clock in Unix seconds (docs/brokers.md §2.2):
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

/** Connections refused before a session began (docs/brokers.md §2.3, "Protocol errors", "Socket and TLS problems"). */
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
export function lineFormatOf(version: string): MosquittoLineFormat | null {
  const number = /^(\d+)\.(\d+)/.exec(version);
  if (!number) return null;
  const [major, minor] = [Number(number[1]), Number(number[2])];
  return major > 2 || (major === 2 && minor >= 1) ? "2.1" : "2.0";
}
