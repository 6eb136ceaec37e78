import type { DisconnectReason, ProtocolVersion } from "../events";
import type { Endpoint, MosquittoLogLine } from "./mosquitto-log";
import { blankEvent, type ConnectionEvent, type DialectOutput } from "./types";

/**
 * Joins Mosquitto's log lines into connection events: a disconnect line to the connect line of its
 * session, a `Client <unknown>` refusal to the `New connection from` socket it came from, and a
 * `session taken over` line to the new session's clean-start flag (takenover or discarded).
 *
 * STATEFUL, one instance per monitored broker connection. It holds, and only it holds:
 * - `openSessions`: ClientID → what its connect line said (address, port, username, protocol,
 *   clean start, keepalive, connect time), bounded by `maxOpenSessions`, oldest forgotten first;
 * - `socketsAwaitingConnect`: `address:port` of sockets accepted but not yet a session or a
 *   refusal, bounded by MAX_SOCKETS_AWAITING_CONNECT;
 * - `pendingTakeover`: a takeover line waiting for the connect line that says which kind it was;
 * - `previousLine`: the last line read, because Mosquitto sometimes logs two lines about one socket.
 * Each line is read by the stateless mosquitto-log.ts first; this class never sees raw text except
 * to copy it into events. `reset()` forgets the sockets and sessions of a broker process that restarted.
 *
 * Why the state is needed: 2.0 disconnect lines carry no address, only the connect line does, and
 * a disconnect inherits the session's identity (docs/contract.md §4).
 */

/** Where the joiner puts the events it produces: the dialect's output. */
type EventSink = Pick<DialectOutput, "events">;

/** When and from what a line came. */
export interface LineContext {
  ts: Date;
  receivedAt: Date;
  raw: string;
}

/** A few hundred bytes per session: tens of MB at the bound, which only a broker with that many live clients reaches. */
const DEFAULT_MAX_OPEN_SESSIONS = 200_000;
/**
 * Sockets between `New connection from` and their CONNECT's outcome, normally milliseconds. One
 * lingers only when its next line was lost (log messages expire after 20 s), so a small bound is plenty.
 */
const MAX_SOCKETS_AWAITING_CONNECT = 1_000;

/** Reasons that, without a session for the ClientID, mean the connection never got one (docs/contract.md §4). */
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

export class MosquittoSessionJoiner {
  private readonly openSessions = new Map<string, OpenSession>();
  /** keyed `address:port`, oldest first */
  private readonly socketsAwaitingConnect = new Map<string, Endpoint>();
  /** a takeover whose kind (takenover / discarded) the new session's clean-start flag decides */
  private pendingTakeover: PendingTakeover | null = null;
  /** the last log line read: the next may be about the same socket (a refusal's own disconnect, a clone's failed login) */
  private previousLine: MosquittoLogLine | null = null;

  constructor(private readonly maxOpenSessions: number = DEFAULT_MAX_OPEN_SESSIONS) {}

  /** One log line, already read (null when it was not recognised), in the order the broker logged it. */
  read(line: MosquittoLogLine | null, at: LineContext, out: EventSink): void {
    const previous = this.previousLine;
    this.previousLine = line;
    if (!(line?.kind === "connected" && line.clientId === this.pendingTakeover?.clientId)) this.resolveTakeover(out);
    if (!line) return;
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
      case "informational":
        return;
    }
  }

  /**
   * Something other than a log line arrived: a takeover still waiting for its connect line will not
   * get one, so it is reported as taken over now.
   */
  otherMessage(out: EventSink): void {
    this.resolveTakeover(out);
  }

  /** The broker process restarted: its sockets and sessions are gone. */
  reset(): void {
    this.openSessions.clear();
    this.socketsAwaitingConnect.clear();
    this.previousLine = null;
  }

  private sessionBegan(
    line: Extract<MosquittoLogLine, { kind: "connected" }>,
    at: { ts: Date; receivedAt: Date; raw: string },
    out: EventSink,
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
    out: EventSink,
  ): void {
    const ending: Ending = {
      ts: at.ts,
      receivedAt: at.receivedAt,
      raw: at.raw,
      address: line.address,
      port: line.port,
    };
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
    out: EventSink,
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
  private resolveTakeover(out: EventSink): void {
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
