import type net from "node:net";
import { randomUUID } from "node:crypto";
import { Duplex } from "node:stream";
import mqttPacket from "mqtt-packet";
import type {
  IConnackPacket,
  IConnectPacket,
  IPublishPacket,
  ISubscribePacket,
  IUnsubscribePacket,
  Packet,
  Parser,
} from "mqtt-packet";

/**
 * MQTT 5 in front of Aedes 1.x.
 *
 * Aedes 1.x speaks only MQTT 3.1/3.1.1: aedes/lib/handlers/connect.js `init()` answers
 * `protocolVersion > 4` with CONNACK return code 1, and aedes/lib/write.js encodes every
 * packet with `mqtt.writeToStream(packet, client.conn)`, i.e. in v4 format. Aedes does accept
 * any duplex stream through `aedes.handle(stream)`, so each connection gets a
 * {@link Mqtt5TranslatingStream} between its socket and Aedes:
 *
 * - The first packet is sniffed. Anything but a level-5 CONNECT (3.1, 3.1.1, garbage, a
 *   non-CONNECT first packet) switches the stream to *passthrough*: the exact bytes received
 *   so far, and every byte after, go to Aedes unchanged and Aedes' output goes to the socket
 *   unchanged, so Aedes keeps producing its own errors for whatever it is fed.
 * - A level-5 CONNECT switches it to *translating*: client packets are parsed as v5 and
 *   re-encoded as v4 for Aedes; Aedes' v4 output is parsed and re-encoded as v5.
 *
 * What is not translated (Aedes has no place to carry it) is listed in {@link translateMqtt5}.
 */

/** How the stream treats the connection: decided by the client's first packet. */
export type TranslationMode = "sniffing" | "passthrough" | "translating";

export interface TranslateMqtt5Options {
  /**
   * Topic Alias Maximum announced in CONNACK (MQTT 5 §3.2.2.3.8): how many client→server topic
   * aliases one connection may define. Each alias keeps a topic string in memory for the life
   * of the connection, so keep it small. Default 10 (Mosquitto's `max_topic_alias` default);
   * 0 forbids aliases.
   */
  topicAliasMaximum?: number;
  /**
   * Receive Maximum announced in CONNACK (MQTT 5 §3.2.2.3.3). Should equal Aedes'
   * `maxInflightInbound` (aedes.js defaultOptions: 1000), because Aedes drops a client that
   * exceeds it (aedes/lib/handlers/publish.js enqueuePublish) and v3.1.1 has no way to say so.
   * Default 1000; 0 (= Aedes "unlimited") announces nothing, which means 65535 to the client.
   */
  receiveMaximum?: number;
}

/** Properties of the client's v5 CONNECT, dropped on the way to Aedes but kept for the broker. */
export type Mqtt5ConnectProperties = NonNullable<IConnectPacket["properties"]>;

export interface TranslatedConnection {
  /** the stream to give to `aedes.handle()`; also exposes the socket's addresses */
  stream: Mqtt5TranslatingStream;
  /**
   * MQTT protocol level of the client's CONNECT: 3, 4 or 5; null until known, and null for
   * good if the first bytes are not a CONNECT of level 3-5. Always known by the time Aedes
   * emits `client`/`clientReady`, since Aedes sees no byte before the sniffing is done.
   */
  readonly protocolVersion: 3 | 4 | 5 | null;
}

/** Give up sniffing (and let Aedes judge the bytes) after this much without a complete first packet. */
const SNIFF_LIMIT_BYTES = 1024 * 1024;
/** Fixed header (1) + Remaining Length (≤4) + protocol name length (2) + "MQIsdp" (6) + level (1). */
const PEEK_BYTES = 14;
/** After we close a connection, how long the client gets to read our last packet and hang up. */
const CLOSE_GRACE_MS = 2000;
const DEFAULT_TOPIC_ALIAS_MAXIMUM = 10;
const DEFAULT_RECEIVE_MAXIMUM = 1000;

const V4 = { protocolVersion: 4 };
const V5 = { protocolVersion: 5 };

/**
 * v3.1.1 CONNACK return code (§3.2.2.3) → v5 CONNACK reason code (§3.2.2.2).
 * Aedes also sends 6 for `keepaliveLimit` (aedes/lib/handlers/connect.js errorMessages), which
 * has no v5 counterpart (v5 would lower the keepalive with Server Keep Alive instead): 0x80.
 */
const CONNACK_REASON: Record<number, number> = {
  0: 0x00, // Success
  1: 0x84, // Unsupported Protocol Version
  2: 0x85, // Client Identifier not valid
  3: 0x88, // Server unavailable
  4: 0x86, // Bad User Name or Password
  5: 0x87, // Not authorized
};

/** v5 DISCONNECT / CONNACK reason codes we send (MQTT 5 §2.4, Table 2-6). */
const RC = {
  disconnectWithWill: 0x04,
  unspecified: 0x80,
  malformed: 0x81,
  protocolError: 0x82,
  implementationSpecific: 0x83,
  badAuthMethod: 0x8c,
  topicAliasInvalid: 0x94,
  sharedSubsNotSupported: 0x9e,
  subscriptionIdsNotSupported: 0xa1,
} as const;

/** An error the translator raises; `mqttReasonCode` is what the client was told (if anything). */
export class Mqtt5TranslationError extends Error {
  constructor(
    message: string,
    readonly mqttReasonCode: number,
  ) {
    super(message);
    this.name = "Mqtt5TranslationError";
  }
}

/**
 * Reads the protocol level of a CONNECT from its first bytes, without a full parse.
 * Returns undefined if more bytes are needed, -1 if the bytes cannot start a valid CONNECT
 * (it must never answer "undefined" for bytes that already form a complete packet).
 */
function peekConnectLevel(head: Buffer): number | undefined {
  if (head.length < 1) return undefined;
  // A CONNECT's fixed header byte is exactly 0x10: type 1, reserved flags 0 (§2.1.3 in both specs).
  if (head[0] !== 0x10) return -1;
  let pos = 1;
  let remainingLength = 0;
  // Remaining Length: variable byte integer of at most 4 bytes (§2.2.3 v3.1.1, §1.5.5 v5).
  for (let i = 0; ; i++) {
    if (pos >= head.length) return undefined;
    const byte = head[pos++];
    remainingLength += (byte & 0x7f) * 128 ** i;
    if ((byte & 0x80) === 0) break;
    if (i === 3) return -1;
  }
  const packetEnd = pos + remainingLength;
  // The level byte must lie inside the packet: [0x10, 3, 0, 4, 'M'] is complete and
  // malformed, and waiting for more bytes would leave Aedes waiting for them too.
  if (packetEnd < pos + 2 + 4 + 1) return -1;
  if (head.length < pos + 2) return undefined;
  const nameLength = head.readUInt16BE(pos);
  // "MQTT" (3.1.1, 5) or "MQIsdp" (3.1); mqtt-packet rejects any other protocol name.
  if (nameLength !== 4 && nameLength !== 6) return -1;
  pos += 2 + nameLength;
  if (pos >= packetEnd) return -1;
  if (head.length <= pos) return undefined;
  // Bit 7 is the (non-standard) bridge flag that mqtt-packet and Mosquitto understand.
  return head[pos] & 0x7f;
}

/**
 * A duplex between one client socket and Aedes. Create it with {@link translateMqtt5}.
 * Aedes reads it with `read()` on `'readable'` and writes with `mqtt.writeToStream`
 * (aedes/lib/client.js); note Aedes calls `removeAllListeners('error' | 'readable' | 'drain')`
 * on it, so this class keeps no listeners of its own on those events.
 */
export class Mqtt5TranslatingStream extends Duplex {
  readonly socket: net.Socket;

  private _mode: TranslationMode = "sniffing";
  private _protocolVersion: 3 | 4 | 5 | null = null;
  private _connectProperties: Mqtt5ConnectProperties | null = null;
  private _disconnectReasonCode: number | null = null;
  private _oversizeDropped = 0;

  private readonly topicAliasMaximum: number;
  private readonly receiveMaximum: number;

  // sniffing
  private sniffChunks: Buffer[] = [];
  private sniffBytes = 0;
  private levelSeen = false;

  /** client → Aedes; after a v5 CONNECT, mqtt-packet's parser switches itself to v5 (parser.js `this.settings = packet`) */
  private readonly inParser: Parser;
  /** Aedes → client, always v3.1.1; created when translation starts */
  private outParser: Parser | null = null;

  // translation state
  private readonly topicAliases = new Map<number, string>();
  /** UNSUBSCRIBE messageId → topic count: a v5 UNSUBACK needs one reason code per topic (§3.11.3) */
  private readonly pendingUnsubscribes = new Map<number, number>();
  /** QoS 2 messages dropped for the client's Maximum Packet Size whose PUBREL we answer ourselves */
  private readonly swallowedPubrels = new Set<number>();
  private connackProperties: IConnackPacket["properties"] = undefined;
  private clientMaximumPacketSize = 0;
  private connackSent = false;

  // lifecycle
  /** no more client packets are translated (DISCONNECT seen, protocol error, closing) */
  private closing = false;
  /** push(null) done */
  private inputEnded = false;
  private socketPausedByUs = false;
  private socketErrored = false;
  private closeTimer: NodeJS.Timeout | null = null;
  /** write() returned false because of the socket: Aedes is waiting for our 'drain' */
  private drainOwed = false;

  constructor(socket: net.Socket, options: TranslateMqtt5Options = {}) {
    super();
    this.socket = socket;
    this.topicAliasMaximum = clampInt(options.topicAliasMaximum ?? DEFAULT_TOPIC_ALIAS_MAXIMUM, 0, 0xffff);
    this.receiveMaximum = clampInt(options.receiveMaximum ?? DEFAULT_RECEIVE_MAXIMUM, 0, 0xffff);

    this.inParser = mqttPacket.parser();
    this.inParser.on("packet", (packet) => this.onClientPacket(packet));
    this.inParser.on("error", (err: Error) => this.onClientParseError(err));

    socket.on("data", (chunk: Buffer) => this.onSocketData(chunk));
    socket.on("end", () => this.onSocketEnd());
    socket.on("error", (err) => this.onSocketError(err));
    socket.on("close", () => this.onSocketClose());
    socket.on("drain", () => this.onSocketDrain());
    if (socket.destroyed) process.nextTick(() => this.destroy());
  }

  // ---- what the broker may read --------------------------------------------------------

  get mode(): TranslationMode {
    return this._mode;
  }
  /** see {@link TranslatedConnection.protocolVersion} */
  get protocolVersion(): 3 | 4 | 5 | null {
    return this._protocolVersion;
  }
  /** the v5 CONNECT properties (session expiry, receive maximum, user properties …); null unless translating */
  get connectProperties(): Mqtt5ConnectProperties | null {
    return this._connectProperties;
  }
  /** reason code of the v5 client's DISCONNECT (0x04 = "with will"), null if none was sent */
  get disconnectReasonCode(): number | null {
    return this._disconnectReasonCode;
  }
  /** PUBLISHes not sent because they exceeded the client's Maximum Packet Size */
  get oversizePublishesDropped(): number {
    return this._oversizeDropped;
  }
  // The socket's addresses, for the broker and for anything reading `client.conn.remoteAddress`.
  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }
  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }
  get remoteFamily(): string | undefined {
    return this.socket.remoteFamily;
  }
  get localAddress(): string | undefined {
    return this.socket.localAddress;
  }
  get localPort(): number | undefined {
    return this.socket.localPort;
  }

  /**
   * Bytes written by Aedes and not yet handed to the kernel. Nearly all of them wait in the
   * socket's own buffer (see {@link write}), so `socket.writableLength` alone stays meaningful.
   */
  get pendingWriteBytes(): number {
    return this.writableLength + this.socket.writableLength;
  }

  // ---- Duplex implementation ---------------------------------------------------------

  /**
   * Backpressure is the socket's, not ours: _write hands every byte to the socket at once, and
   * write() returns false whenever the socket is over its high-water mark, with a 'drain'
   * re-emitted when the socket drains. Aedes (lib/write.js → client.waitForDrain/drainTimeout)
   * so sees exactly what it sees with a raw socket, and the backlog of a slow client sits in
   * `socket.writableLength` where the broker looks for it, not hidden in this stream.
   */
  override write(
    chunk: unknown,
    encoding?: BufferEncoding | ((error: Error | null | undefined) => void),
    callback?: (error: Error | null | undefined) => void,
  ): boolean {
    const ok = super.write(chunk, encoding as BufferEncoding, callback);
    if (ok && this.socket.writableNeedDrain && !this.socket.destroyed) {
      this.drainOwed = true;
      return false;
    }
    return ok;
  }

  override _read(): void {
    if (this.socketPausedByUs) {
      this.socketPausedByUs = false;
      this.socket.resume();
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.writeOut([chunk], callback);
  }

  // mqtt-packet's writeToStream corks the stream for one tick per packet, so Aedes' writes
  // usually arrive here as one batch of header/length/body pieces.
  override _writev(chunks: { chunk: Buffer }[], callback: (err?: Error | null) => void): void {
    this.writeOut(
      chunks.map((c) => c.chunk),
      callback,
    );
  }

  override _final(callback: (err?: Error | null) => void): void {
    // Aedes never ends its side (it destroys), but honour end() for other users.
    this.endSocket();
    callback();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    // Aedes calls conn.destroy() after a DISCONNECT and on every error (aedes/lib/client.js
    // close() and _onError()): the socket goes too, after flushing what Aedes wrote last
    // (a refusing CONNACK, say), which a plain socket.destroy() could drop.
    this.closing = true;
    this.endSocket();
    callback(err);
  }

  // ---- socket events -------------------------------------------------------------------

  private onSocketData(chunk: Buffer): void {
    if (this.closing || this.destroyed) return;
    try {
      switch (this._mode) {
        case "passthrough":
          this.pushToAedes(chunk);
          break;
        case "sniffing":
          this.sniff(chunk);
          break;
        case "translating":
          this.inParser.parse(chunk);
          break;
      }
    } catch (err) {
      // Never throw out of a socket event handler: a throw from parse() or generate() ends the connection.
      this.fail(err, RC.implementationSpecific);
    }
  }

  private onSocketEnd(): void {
    // A partial first packet followed by FIN: let Aedes see exactly that.
    if (this._mode === "sniffing") this.startPassthrough();
    this.endInput();
  }

  private onSocketError(err: Error): void {
    this.socketErrored = true;
    // Aedes listens for 'error' on its conn (aedes/lib/client.js) and reports ECONNRESET & co
    // as clientError/connectionError, exactly as it would with the raw socket.
    this.destroy(this.listenerCount("error") > 0 ? err : undefined);
  }

  private onSocketDrain(): void {
    if (!this.drainOwed) return;
    this.drainOwed = false;
    this.emit("drain");
  }

  private onSocketClose(): void {
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.closeTimer = null;
    if (this.destroyed) return;
    if (this.inputEnded && !this.socketErrored && !this.readableEnded) {
      // The client hung up cleanly. Aedes may not have read everything yet (it stops reading
      // while authenticate() runs: aedes/lib/handlers/connect.js client.pause()); a raw socket
      // would still deliver those bytes and then 'end', so wait for Aedes to read up to the
      // EOF. Aedes destroys us itself on 'end' (aedes/lib/client.js conn.on('end', close)).
      this.once("end", () => this.destroy());
      return;
    }
    this.destroy();
  }

  // ---- sniffing ----------------------------------------------------------------------------

  private sniff(chunk: Buffer): void {
    this.sniffChunks.push(chunk);
    this.sniffBytes += chunk.length;
    if (!this.levelSeen) {
      const head =
        this.sniffChunks.length === 1 ? chunk : Buffer.concat(this.sniffChunks, Math.min(this.sniffBytes, PEEK_BYTES));
      const level = peekConnectLevel(head);
      if (level === undefined) return;
      if (level !== 5) {
        // Not a v5 CONNECT, whatever else it is: no need to buffer it to the end.
        this._protocolVersion = level === 3 || level === 4 ? level : null;
        this.startPassthrough();
        return;
      }
      this._protocolVersion = 5;
      this.levelSeen = true;
      // Feed the copy: parse() emits synchronously, and the CONNECT may end mid-chunk with more
      // packets behind it, which the (now v5) parser must translate too.
      for (const c of this.sniffChunks) {
        this.inParser.parse(c);
        if (this._mode === "passthrough" || this.closing) return;
      }
    } else {
      this.inParser.parse(chunk);
    }
    if (this._mode === "sniffing" && this.sniffBytes > SNIFF_LIMIT_BYTES) this.startPassthrough();
  }

  private startPassthrough(): void {
    if (this._mode !== "sniffing") return;
    this._mode = "passthrough";
    this.inParser.removeAllListeners("packet");
    this.inParser.removeAllListeners("error");
    this.inParser.on("error", noop); // parse() may still be running on the current chunk
    const chunks = this.sniffChunks;
    this.sniffChunks = [];
    this.sniffBytes = 0;
    for (const c of chunks) this.pushToAedes(c);
  }

  // ---- client → Aedes ----------------------------------------------------------------------

  private onClientPacket(packet: Packet): void {
    if (this.closing) return;
    try {
      if (this._mode === "sniffing") {
        if (packet.cmd === "connect" && packet.protocolVersion === 5) {
          this._mode = "translating";
          this.sniffChunks = [];
          this.sniffBytes = 0;
          this.outParser = mqttPacket.parser(V4);
          this.outParser.on("packet", (p) => this.onAedesPacket(p));
          this.outParser.on("error", (err: Error) =>
            this.fail(new Error(`Cannot parse Aedes output: ${err.message}`), RC.implementationSpecific),
          );
          this.translateConnect(packet);
        } else {
          this.startPassthrough();
        }
        return;
      }
      if (this._mode === "translating") this.translateClientPacket(packet);
    } catch (err) {
      this.fail(err, RC.implementationSpecific);
    }
  }

  private onClientParseError(err: Error): void {
    if (this._mode === "sniffing") {
      // Aedes parses the same bytes with the same mqtt-packet and produces its native error.
      this.startPassthrough();
    } else if (this._mode === "translating") {
      // v5 §4.13.1: a Malformed Packet ends the connection, DISCONNECT 0x81 where possible. Keep
      // mqtt-packet's message: it's what Aedes would report for a v3.1.1 client.
      this.protocolError(RC.malformed, err.message);
    }
  }

  private translateConnect(packet: IConnectPacket): void {
    const props = packet.properties;
    this._connectProperties = props ?? {};
    if (props?.authenticationMethod !== undefined) {
      // v5 §4.12 enhanced authentication needs AUTH exchanges Aedes cannot do; §3.1.2.11.9
      // lets the server refuse an unsupported method with CONNACK 0x8C.
      this.connackSent = true;
      this.writeToClient({ cmd: "connack", sessionPresent: false, reasonCode: RC.badAuthMethod });
      this.protocolError(
        RC.badAuthMethod,
        `Not supported: MQTT 5 enhanced authentication (method ${JSON.stringify(props.authenticationMethod)})`,
        false,
      );
      return;
    }
    this.clientMaximumPacketSize = props?.maximumPacketSize ?? 0;

    let clientId = packet.clientId;
    let assignedClientIdentifier: string | undefined;
    if (clientId === "") {
      // v5 [MQTT-3.2.2-16]: a server that assigns the id must return it in CONNACK. Aedes
      // would assign one we can't see, so assign it here, in Aedes' own format
      // (aedes/lib/handlers/connect.js: 'aedes_' + randomUUID()). Also keeps v4 encoding legal
      // for cleanStart=0, which v3.1.1 forbids with an empty id (§3.1.3.1).
      clientId = assignedClientIdentifier = `aedes_${randomUUID()}`;
    }
    const clean = packet.clean ?? true;

    const connack: NonNullable<IConnackPacket["properties"]> = {
      // Aedes has neither (grep finds no $share handling; subscription ids can't survive the v4
      // hop), and announcing 0 makes their use a protocol error we can name (§3.2.2.3.12-13).
      sharedSubscriptionAvailable: false,
      subscriptionIdentifiersAvailable: false,
    };
    if (this.topicAliasMaximum > 0) connack.topicAliasMaximum = this.topicAliasMaximum;
    if (this.receiveMaximum > 0) connack.receiveMaximum = this.receiveMaximum;
    if (assignedClientIdentifier) connack.assignedClientIdentifier = assignedClientIdentifier;
    // Aedes keeps a clean=false session forever and drops a clean one at disconnect; v5
    // v5 §3.2.2.3.2: the server announces the interval it actually uses when that differs.
    const requestedExpiry = props?.sessionExpiryInterval ?? 0;
    const effectiveExpiry = clean ? 0 : 0xffffffff;
    if (requestedExpiry !== effectiveExpiry) connack.sessionExpiryInterval = effectiveExpiry;
    this.connackProperties = connack;

    const v4: IConnectPacket = {
      cmd: "connect",
      protocolId: "MQTT",
      protocolVersion: 4,
      clean,
      keepalive: packet.keepalive ?? 0,
      clientId,
    };
    // v5 allows a password without a user name (§3.1.2.9); v3.1.1 does not (§3.1.2.9,
    // [MQTT-3.1.2-22]) and mqtt-packet refuses to encode it, so Aedes' authenticate() sees "".
    if (packet.username !== undefined || packet.password !== undefined) v4.username = packet.username ?? "";
    if (packet.password !== undefined) v4.password = packet.password;
    if (packet.will) {
      const { topic, payload, qos, retain } = packet.will;
      v4.will = { topic, payload, qos, retain };
    }
    this.pushPacketToAedes(v4);
  }

  private translateClientPacket(packet: Packet): void {
    switch (packet.cmd) {
      case "publish":
        this.translatePublish(packet);
        return;
      case "subscribe":
        this.translateSubscribe(packet);
        return;
      case "unsubscribe":
        this.translateUnsubscribe(packet);
        return;
      case "puback":
      case "pubrel":
      case "pubcomp":
        this.pushPacketToAedes({ cmd: packet.cmd, messageId: packet.messageId });
        return;
      case "pubrec":
        // A PUBREC with reason ≥ 0x80 ends the QoS 2 flow (v5 §4.3.3): no PUBREL follows. For
        // Aedes that is the same as PUBCOMP: aedes/lib/handlers/puback.js drops the message.
        this.pushPacketToAedes({
          cmd: (packet.reasonCode ?? 0) >= 0x80 ? "pubcomp" : "pubrec",
          messageId: packet.messageId,
        });
        return;
      case "pingreq":
        this.pushPacketToAedes({ cmd: "pingreq" });
        return;
      case "connect":
        // A second CONNECT: Aedes closes the connection itself (aedes/lib/handlers/index.js, [MQTT-3.1.0-2]).
        this.pushPacketToAedes({
          cmd: "connect",
          protocolId: "MQTT",
          protocolVersion: 4,
          clientId: packet.clientId || "x",
        });
        return;
      case "disconnect":
        this.translateDisconnect(packet.reasonCode ?? 0);
        return;
      case "auth":
        // We refuse every CONNECT with an Authentication Method (translateConnect), and without
        // one an AUTH packet is a Protocol Error (v5 §4.12). 0x8C would be the friendlier code,
        // but it is not a DISCONNECT reason code (§3.14.2.1): mqtt-packet, hence mqtt.js, fails
        // to parse a DISCONNECT carrying it ("Invalid disconnect reason code").
        this.protocolError(RC.protocolError, "Not supported: MQTT 5 AUTH packet (enhanced authentication)");
        return;
      default:
        // CONNACK, SUBACK, UNSUBACK, PINGRESP: server-to-client types. Aedes would just destroy the
        // connection (aedes/lib/handlers/index.js default); v5 §4.13 calls it a Protocol Error.
        this.protocolError(RC.protocolError, `Invalid packet type from client: ${packet.cmd}`);
    }
  }

  private translatePublish(packet: IPublishPacket): void {
    let topic = packet.topic;
    const alias = packet.properties?.topicAlias;
    if (alias !== undefined) {
      // v5 §3.3.2.3.4: 0 and values above our Topic Alias Maximum are protocol errors (0x94).
      if (alias === 0 || alias > this.topicAliasMaximum) {
        this.protocolError(RC.topicAliasInvalid, `Invalid topic alias ${alias} (maximum ${this.topicAliasMaximum})`);
        return;
      }
      if (topic.length > 0) {
        this.topicAliases.set(alias, topic);
      } else {
        const known = this.topicAliases.get(alias);
        if (known === undefined) {
          this.protocolError(RC.topicAliasInvalid, `Invalid topic alias ${alias}: not defined on this connection`);
          return;
        }
        topic = known;
      }
    }
    // An empty topic without alias goes through as is: Aedes refuses it natively
    // ("empty topic not allowed in PUBLISH", aedes/lib/handlers/publish.js).
    this.pushPacketToAedes({
      cmd: "publish",
      topic,
      payload: packet.payload,
      qos: packet.qos,
      retain: packet.retain,
      dup: packet.dup,
      messageId: packet.messageId,
    });
  }

  private translateSubscribe(packet: ISubscribePacket): void {
    if (packet.properties?.subscriptionIdentifier !== undefined) {
      this.protocolError(RC.subscriptionIdsNotSupported, "Not supported: MQTT 5 subscription identifiers");
      return;
    }
    if (packet.subscriptions.some((s) => s.topic.startsWith("$share/"))) {
      this.protocolError(RC.sharedSubsNotSupported, "Not supported: MQTT 5 shared subscriptions ($share/…)");
      return;
    }
    // No Local / Retain As Published / Retain Handling are dropped: Aedes does hold nl/rap/rh
    // on its subscriptions (aedes/lib/handlers/subscribe.js) but only fills them from its own
    // parser, which decodes v3.1.1 subscription options as QoS bits only, and mqtt-packet's v4
    // encoder writes only the QoS bits anyway (writeToStream.js subscribe()).
    this.pushPacketToAedes({
      cmd: "subscribe",
      messageId: packet.messageId,
      subscriptions: packet.subscriptions.map(({ topic, qos }) => ({ topic, qos })),
    });
  }

  private translateUnsubscribe(packet: IUnsubscribePacket): void {
    if (packet.messageId !== undefined) this.pendingUnsubscribes.set(packet.messageId, packet.unsubscriptions.length);
    this.pushPacketToAedes({
      cmd: "unsubscribe",
      messageId: packet.messageId,
      unsubscriptions: packet.unsubscriptions,
    });
  }

  private translateDisconnect(reasonCode: number): void {
    this._disconnectReasonCode = reasonCode;
    // [MQTT-3.14.4-1]: nothing may follow a DISCONNECT.
    this.closing = true;
    if (reasonCode === RC.disconnectWithWill) {
      // "Disconnect with Will Message" (v5 §3.14.2.1): v3.1.1 can only say it by closing the
      // connection without DISCONNECT, which makes Aedes publish the will (aedes/lib/client.js
      // close(): `!that._disconnected && will`).
      this.endInput();
      this.endSocket();
      return;
    }
    // Aedes sets client._disconnected, deletes the will and destroys us (aedes/lib/handlers/index.js).
    this.pushPacketToAedes({ cmd: "disconnect" });
  }

  // ---- Aedes → client ----------------------------------------------------------------------

  private writeOut(chunks: Buffer[], callback: (err?: Error | null) => void): void {
    const socket = this.socket;
    if (socket.destroyed || !socket.writable) {
      // The client is gone. A raw socket would fail these writes with EPIPE/write-after-end;
      // dropping them leaves Aedes to close on the 'end'/'close' it sees anyway.
      callback();
      return;
    }
    socket.cork();
    try {
      if (this._mode === "translating" && this.outParser) {
        for (const chunk of chunks) this.outParser.parse(chunk);
      } else {
        for (const chunk of chunks) socket.write(chunk);
      }
    } catch (err) {
      this.fail(err, RC.implementationSpecific);
    } finally {
      socket.uncork();
    }
    // Never held: see write() for where backpressure comes from.
    callback();
  }

  private onAedesPacket(packet: Packet): void {
    switch (packet.cmd) {
      case "connack": {
        this.connackSent = true;
        const ok = packet.returnCode === 0;
        this.writeToClient({
          cmd: "connack",
          sessionPresent: packet.sessionPresent,
          reasonCode: ok ? 0 : (CONNACK_REASON[packet.returnCode ?? -1] ?? RC.unspecified),
          properties: ok ? this.connackProperties : undefined,
        });
        return;
      }
      case "publish": {
        const out: IPublishPacket = {
          cmd: "publish",
          topic: packet.topic,
          payload: packet.payload,
          qos: packet.qos,
          retain: packet.retain,
          dup: packet.dup,
          messageId: packet.messageId,
        };
        const buf = mqttPacket.generate(out, V5);
        if (this.clientMaximumPacketSize > 0 && buf.length > this.clientMaximumPacketSize) {
          this.dropOversizePublish(out);
          return;
        }
        this.socket.write(buf);
        return;
      }
      case "suback":
        // v3.1.1 granted QoS 0/1/2 and failure 0x80 are also valid v5 reason codes (§3.9.3).
        this.writeToClient({ cmd: "suback", messageId: packet.messageId, granted: packet.granted });
        return;
      case "unsuback": {
        const id = packet.messageId ?? 0;
        const count = this.pendingUnsubscribes.get(id) ?? 1;
        this.pendingUnsubscribes.delete(id);
        // 0x00 for every topic: Aedes doesn't say whether a subscription existed (0x11).
        this.writeToClient({ cmd: "unsuback", messageId: id, granted: new Array<number>(count).fill(0) });
        return;
      }
      case "pubrel":
        if (packet.messageId !== undefined && this.swallowedPubrels.delete(packet.messageId)) {
          this.pushPacketToAedes({ cmd: "pubcomp", messageId: packet.messageId });
          return;
        }
        this.writeToClient({ cmd: "pubrel", messageId: packet.messageId, reasonCode: 0 });
        return;
      case "puback":
      case "pubrec":
      case "pubcomp":
        // reasonCode 0 with no properties lets mqtt-packet use the 2-byte short form (§3.4.2.1).
        this.writeToClient({ cmd: packet.cmd, messageId: packet.messageId, reasonCode: 0 });
        return;
      case "pingresp":
        this.writeToClient({ cmd: "pingresp" });
        return;
      default:
        // Aedes 1.x writes nothing else (aedes/lib/handlers/*).
        throw new Error(`Aedes wrote an unexpected ${packet.cmd} packet`);
    }
  }

  /**
   * v5 [MQTT-3.1.2-25]: a PUBLISH larger than the client's Maximum Packet Size is discarded
   * "as if it had completed sending". Aedes still waits for the acknowledgement, so give it one.
   */
  private dropOversizePublish(packet: IPublishPacket): void {
    this._oversizeDropped++;
    if (packet.qos === 1) {
      this.pushPacketToAedes({ cmd: "puback", messageId: packet.messageId });
    } else if (packet.qos === 2 && packet.messageId !== undefined) {
      this.swallowedPubrels.add(packet.messageId);
      this.pushPacketToAedes({ cmd: "pubrec", messageId: packet.messageId });
    }
  }

  // ---- plumbing ----------------------------------------------------------------------------

  private pushToAedes(buf: Buffer): void {
    if (this.inputEnded || this.destroyed) return;
    if (!this.push(buf)) this.pauseSocket();
  }

  private pushPacketToAedes(packet: Packet): void {
    this.pushToAedes(mqttPacket.generate(packet, V4));
  }

  private writeToClient(packet: Packet): void {
    if (this.socket.destroyed || !this.socket.writable) return;
    this.socket.write(mqttPacket.generate(packet, V5));
  }

  private pauseSocket(): void {
    if (this.socketPausedByUs) return;
    this.socketPausedByUs = true;
    this.socket.pause();
  }

  private endInput(): void {
    if (this.inputEnded) return;
    this.inputEnded = true;
    if (!this.destroyed) this.push(null);
  }

  /**
   * Close the socket gracefully: FIN after what's queued, then wait for the client to hang up.
   * Destroying at once could reset the connection (unread input → RST) and lose our last
   * CONNACK/DISCONNECT; the timer bounds how long a client that never hangs up is kept.
   */
  private endSocket(): void {
    const socket = this.socket;
    if (socket.destroyed) return;
    if (!socket.writableEnded) socket.end();
    if (this.socketPausedByUs) {
      // keep reading (and ignoring) so the client's FIN is seen
      this.socketPausedByUs = false;
      socket.resume();
    }
    if (!this.closeTimer) {
      this.closeTimer = setTimeout(() => socket.destroy(), CLOSE_GRACE_MS);
      this.closeTimer.unref();
    }
  }

  /**
   * End a translated connection for a v5 protocol violation (v5 §4.13): DISCONNECT with the
   * reason (only once CONNACK went out, [MQTT-3.2.0-1] / §4.13.2), close the socket, and
   * destroy this stream with an error, so Aedes reports it as clientError/connectionError
   * (aedes/lib/client.js _onError) and publishes the will, as v5 §3.1.2.5 wants.
   * Messages start "Invalid …"/"Not supported …" like mqtt-packet's protocol errors.
   */
  private protocolError(reasonCode: number, message: string, sendDisconnect = true): void {
    if (this.closing && this.destroyed) return;
    this.closing = true;
    if (sendDisconnect && this.connackSent) {
      try {
        this.writeToClient({ cmd: "disconnect", reasonCode });
      } catch {
        // nothing more to tell the client
      }
    }
    this.endSocket();
    const err = new Mqtt5TranslationError(message, reasonCode);
    // Only hand the error over if somebody (Aedes) listens: an unhandled 'error' would crash.
    this.destroy(this.listenerCount("error") > 0 ? err : undefined);
  }

  private fail(err: unknown, reasonCode: number): void {
    const message = err instanceof Error ? err.message : String(err);
    this.protocolError(reasonCode, message);
  }
}

/**
 * Wraps a client socket for `aedes.handle()`: MQTT 3.1/3.1.1 pass through byte for byte,
 * MQTT 5 is translated to and from 3.1.1.
 *
 * Not translated (Aedes cannot carry them; v3.1.1 behaviour applies to v5 clients):
 * - all PUBLISH properties (user properties, content type, response topic, correlation data,
 *   payload format, message expiry): subscribers never see them;
 * - subscription options No Local, Retain As Published, Retain Handling (retained messages are
 *   always sent on subscribe, retain is cleared on live forwards, own messages are echoed);
 * - Session Expiry Interval: cleanStart=0 means "never expires", cleanStart=1 "ends with the
 *   connection" (announced in CONNACK when the request differs), DISCONNECT's value is ignored;
 * - Will Delay Interval and will properties (the will is published at once);
 * - the client's Receive Maximum and Topic Alias Maximum (full topics are always sent);
 * - reason codes and reason strings from Aedes beyond the CONNACK mapping (SUBACK 0x80 stays
 *   "unspecified", UNSUBACK always 0x00); reason codes ≥ 0x80 the client puts in PUBACK/PUBREC;
 * - enhanced authentication (CONNACK 0x8C; an AUTH packet gets DISCONNECT 0x82), shared subscriptions (0x9E) and
 *   subscription identifiers (0xA1): refused, and announced as unavailable in CONNACK.
 */
export function translateMqtt5(socket: net.Socket, options?: TranslateMqtt5Options): TranslatedConnection {
  const stream = new Mqtt5TranslatingStream(socket, options);
  return {
    stream,
    get protocolVersion() {
      return stream.protocolVersion;
    },
  };
}

function clampInt(value: number, min: number, max: number): number {
  return Number.isFinite(value) ? Math.min(Math.max(Math.trunc(value), min), max) : min;
}

function noop(): void {}
