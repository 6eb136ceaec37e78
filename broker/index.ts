import { readFileSync } from "node:fs";
import net from "node:net";
import { Transform, type Readable } from "node:stream";
import path from "node:path";
import os from "node:os";
import { randomBytes, timingSafeEqual } from "node:crypto";
import { createRequire } from "node:module";
import { Aedes, type Client } from "aedes";
import {
  BUNDLED_METRICS,
  BUNDLED_STATS,
  bundledTopic,
  clientIdTopicLevel,
  type BundledClientPayload,
  type BundledConnectFailedPayload,
  type BundledDroppedPayload,
} from "@/lib/bundled-layout";
import type { DisconnectReason } from "@/lib/events";
import { translateMqtt5 } from "./mqtt5";
import { DEFAULT_MAX_PACKET_BYTES, guardPacketSize } from "./packet-size";
import { reasonForAedesError } from "./reasons";

/**
 * The bundled broker: Aedes 1.x on TCP, instrumented so that it publishes its own stats and
 * every client's lifecycle in the EMQX 5 `$SYS` layout (lib/bundled-layout.ts). MQTT 5
 * clients are translated to 3.1.1 in front of Aedes (broker/mqtt5.ts), since Aedes 1.x
 * refuses protocol level 5.
 */
export interface BundledBrokerOptions {
  port: number;
  host?: string;
  /** node name in `$SYS/brokers/{node}`; default `bundled@<hostname>` */
  node?: string;
  /** seconds between `$SYS` stats publications (BUNDLED_SYS_INTERVAL) */
  sysIntervalSeconds?: number;
  /**
   * username → password; when given, anonymous clients are refused. These users (and the
   * monitor) may subscribe to `$SYS`; anonymous clients may not, since `$SYS/brokers/+/clients/#`
   * tells every client's id, user name and address.
   */
  users?: Map<string, string>;
  /** the largest packet accepted, fixed header included (BUNDLED_MAX_PACKET_SIZE; default 1 MiB) */
  maxPacketBytes?: number;
  /** a subscriber whose socket has more than this many bytes unsent gets QoS 0 messages dropped */
  maxPendingBytesPerClient?: number;
  /** most retained messages kept (BUNDLED_MAX_RETAINED_MESSAGES; default 10,000) */
  maxRetainedMessages?: number;
  /** most bytes of retained topics + payloads kept (BUNDLED_MAX_RETAINED_BYTES; default 64 MiB) */
  maxRetainedBytes?: number;
}

export const DEFAULT_MAX_RETAINED_MESSAGES = 10_000;
export const DEFAULT_MAX_RETAINED_BYTES = 64 * 1024 * 1024;

export interface BundledBroker {
  port: number;
  node: string;
  url: string;
  /** credentials the in-process collector uses; always accepted */
  monitorCredentials: { username: string; password: string };
  aedes: Aedes;
  /** clients' retained messages held now (the broker's own `$SYS` values aside), and how many were refused */
  retained(): { count: number; bytes: number; refused: number };
  close(): Promise<void>;
}

interface ConnectionInfo {
  socket: net.Socket;
  protocolVersion: () => 3 | 4 | 5 | null;
}

interface SessionInfo {
  username: string | null;
  keepalive: number;
  cleanStart: boolean;
  connectedAt: number;
}

// aedes' package.json is not in its "exports", so read it from beside its entry point
const require = createRequire(import.meta.url);
const AEDES_VERSION: string = JSON.parse(
  readFileSync(path.join(path.dirname(require.resolve("aedes")), "package.json"), "utf8"),
).version;

export async function startBundledBroker(opts: BundledBrokerOptions): Promise<BundledBroker> {
  const node = opts.node ?? `bundled@${os.hostname()}`;
  const host = opts.host ?? "127.0.0.1";
  const intervalMs = Math.max(0.1, opts.sysIntervalSeconds ?? 1) * 1000;
  const maxPendingBytes = opts.maxPendingBytesPerClient ?? 8 * 1024 * 1024;
  const monitorCredentials = { username: "$brokerwatch", password: randomBytes(24).toString("base64url") };
  const maxPacketBytes = opts.maxPacketBytes ?? DEFAULT_MAX_PACKET_BYTES;
  /** clients that authenticated with the monitor's or a configured credential: they may read `$SYS` */
  const sysReaders = new WeakSet<Client>();

  const connections = new WeakMap<object, ConnectionInfo>();
  const sessions = new WeakMap<Client, SessionInfo>();
  const registered = new WeakSet<Client>();
  /** reasons learned before Aedes' reason-less clientDisconnect fires */
  const pendingReason = new WeakMap<Client, { reason: DisconnectReason; detail: string | null }>();
  /** a client whose CONNECT was refused or failed: published once as connect_failed */
  const failedReported = new WeakSet<object>();
  const dropping = new WeakMap<Client, number>();

  // Counters and gauges Aedes doesn't keep (see BUNDLED_STATS / BUNDLED_METRICS for meanings).
  const counters = {
    messagesReceived: 0,
    messagesSent: 0,
    messagesDropped: 0,
    bytesReadClosed: 0,
    bytesWrittenClosed: 0,
    retainedRefused: 0,
  };
  const liveSockets = new Set<net.Socket>();
  const subscriptionsByClient = new Map<string, Set<string>>();
  const persistentSessions = new Set<string>();
  const queuedByClient = new Map<string, number>();

  const aedes = await Aedes.createBroker({
    id: node,
    // A collector watching many brokers reconnects often; let CONNECT arrive within 10 s.
    connectTimeout: 10_000,
    preConnect(client, packet, done) {
      sessions.set(client, {
        username: packet.username ?? null,
        keepalive: packet.keepalive ?? 0,
        cleanStart: packet.clean !== false,
        connectedAt: Date.now(),
      });
      done(null, true);
    },
    authenticate(client, username, password, done) {
      const given = password ? Buffer.from(password) : Buffer.alloc(0);
      if (username === monitorCredentials.username) {
        const ok = safeEqual(given, Buffer.from(monitorCredentials.password));
        if (ok) sysReaders.add(client);
        return done(null, ok);
      }
      const expected = username !== undefined ? opts.users?.get(username) : undefined;
      if (expected !== undefined && safeEqual(given, Buffer.from(expected))) {
        sysReaders.add(client);
        return done(null, true);
      }
      // without BUNDLED_BROKER_USERS anyone may connect, but only as an anonymous client
      if (!opts.users) return done(null, true);
      const err = Object.assign(new Error("bad user name or password"), { returnCode: 4 as const });
      done(err, false);
    },
    // `$SYS` names every client, its user and its address: only for the monitor and configured users.
    authorizeSubscribe(client, subscription, done) {
      if (isSysFilter(subscription.topic) && !(client && sysReaders.has(client))) {
        // null refuses this one filter: SUBACK 0x80 (MQTT 3.1.1 §3.9.3), the others still granted
        return done(null, null as never);
      }
      done(null, subscription);
    },
  });

  // Takeover: Aedes closes the old client inside registerClient (aedes.js, [MQTT-3.1.4-2]) without
  // saying why. Record the reason on the old client first: clean start 1 discards its session,
  // clean start 0 takes it over (EMQX's words).
  const internals = aedes as unknown as { registerClient: (client: Client) => void };
  const registerClient = internals.registerClient.bind(aedes);
  internals.registerClient = (client: Client) => {
    const existing = (aedes as unknown as { clients: Record<string, Client> }).clients[client.id];
    if (existing && existing !== client) {
      pendingReason.set(existing, { reason: client.clean ? "discarded" : "takenover", detail: null });
    }
    registerClient(client);
  };

  // Queued messages: wrap the persistence's outgoing queue so its length per client is known.
  const persistence = (aedes as unknown as { persistence: Record<string, (...args: never[]) => Promise<unknown>> })
    .persistence;
  wrapPersistence(persistence, queuedByClient);
  const retainedStore = capRetained(persistence, {
    maxMessages: opts.maxRetainedMessages ?? DEFAULT_MAX_RETAINED_MESSAGES,
    maxBytes: opts.maxRetainedBytes ?? DEFAULT_MAX_RETAINED_BYTES,
    onRefused(topic, bytes, reason) {
      counters.retainedRefused++;
      // once per episode: a device flooding retained messages must not flood the log too
      if (!retainedStore.refusing) {
        retainedStore.refusing = true;
        console.warn(
          `brokerwatch: bundled broker: not retaining "${topic.slice(0, 200)}" (${bytes} bytes): ${reason}; ` +
            "it is still delivered to current subscribers. Delete retained messages (empty payload) or raise the limit.",
        );
      }
    },
  });
  dollarTopicsNeverMatchWildcards(persistence);

  function connectionOf(client: Client): ConnectionInfo | undefined {
    return connections.get(client.conn as object);
  }

  function clientPayload(client: Client, extra: Partial<BundledClientPayload> = {}): BundledClientPayload {
    const conn = connectionOf(client);
    const session = sessions.get(client);
    return {
      clientid: client.id,
      username: session?.username ?? null,
      ipaddress: conn?.socket.remoteAddress ?? null,
      sockport: conn?.socket.localPort ?? null,
      peerport: conn?.socket.remotePort ?? null,
      proto_name: "MQTT",
      proto_ver: conn?.protocolVersion() ?? ((client.version as 3 | 4) || 4),
      keepalive: session?.keepalive ?? 0,
      clean_start: session?.cleanStart ?? true,
      connected_at: session?.connectedAt ?? Date.now(),
      ts: Date.now(),
      ...extra,
    };
  }

  function publishSys(suffix: string, payload: string, retain: boolean, qos: 0 | 1 = 0): void {
    if (aedes.closed) return;
    aedes.publish(
      { cmd: "publish", topic: bundledTopic(node, suffix), payload: Buffer.from(payload), qos, retain, dup: false },
      () => {},
    );
  }

  function publishConnectFailed(client: Client | null, conn: object, err: Error): void {
    if (failedReported.has(conn)) return;
    failedReported.add(conn);
    const info = connections.get(conn);
    const session = client ? sessions.get(client) : undefined;
    const payload: BundledConnectFailedPayload = {
      clientid: client?.id || null,
      username: session?.username ?? null,
      ipaddress: info?.socket.remoteAddress ?? null,
      sockport: info?.socket.localPort ?? null,
      peerport: info?.socket.remotePort ?? null,
      proto_ver: info?.protocolVersion() ?? null,
      reason: reasonForAedesError(err),
      reason_detail: err.message || null,
      ts: Date.now(),
    };
    publishSys("connect_failed", JSON.stringify(payload), false, 1);
  }

  aedes.on("client", (client) => {
    registered.add(client);
    const session = sessions.get(client);
    if (session) session.connectedAt = Date.now();
    if (client.clean) {
      persistentSessions.delete(client.id);
      subscriptionsByClient.delete(client.id);
    } else {
      persistentSessions.add(client.id);
    }
    instrumentDelivery(client);
    publishSys(`clients/${clientIdTopicLevel(client.id)}/connected`, JSON.stringify(clientPayload(client)), false, 1);
  });

  aedes.on("keepaliveTimeout", (client) => {
    pendingReason.set(client, { reason: "keepalive_timeout", detail: null });
  });

  aedes.on("clientError", (client, err) => {
    if (!registered.has(client)) {
      // The CONNECT was refused (bad credentials, bad protocol level) before a session began.
      publishConnectFailed(client, client.conn as object, err);
      return;
    }
    if (!pendingReason.has(client)) {
      pendingReason.set(client, { reason: reasonForAedesError(err), detail: err.message || null });
    }
  });

  aedes.on("connectionError", (client, err) => {
    publishConnectFailed(client, client.conn as object, err);
  });

  aedes.on("clientDisconnect", (client) => {
    const known = pendingReason.get(client);
    // Aedes sets _disconnected only on a valid DISCONNECT packet (aedes/lib/handlers/index.js).
    const clean = (client as unknown as { _disconnected?: boolean })._disconnected === true;
    const reason: DisconnectReason = known?.reason ?? (clean ? "normal" : "tcp_closed");
    const now = Date.now();
    if (client.clean) subscriptionsByClient.delete(client.id);
    publishSys(
      `clients/${clientIdTopicLevel(client.id)}/disconnected`,
      JSON.stringify(
        clientPayload(client, { disconnected_at: now, ts: now, reason, reason_detail: known?.detail ?? null }),
      ),
      false,
      1,
    );
  });

  aedes.on("publish", (_packet, client) => {
    if (client) counters.messagesReceived++;
  });

  aedes.on("subscribe", (subscriptions, client) => {
    let topics = subscriptionsByClient.get(client.id);
    if (!topics) subscriptionsByClient.set(client.id, (topics = new Set()));
    for (const sub of subscriptions) topics.add(sub.topic);
  });

  aedes.on("unsubscribe", (unsubscriptions, client) => {
    const topics = subscriptionsByClient.get(client.id);
    if (!topics) return;
    for (const topic of unsubscriptions) topics.delete(topic);
  });

  /**
   * Count deliveries, and drop QoS 0 messages for a subscriber whose socket is backed up past
   * the limit (Mosquitto does the same with max_queued_messages and logs it once per episode).
   * deliver0/deliverQoS are per-client closures set in aedes/lib/client.js, so they are wrapped
   * per client.
   */
  function instrumentDelivery(client: Client): void {
    const c = client as unknown as {
      deliver0: (packet: { qos: number }, cb: () => void) => void;
      deliverQoS: (packet: { qos: number }, cb: () => void) => void;
    };
    const deliver0 = c.deliver0;
    const deliverQoS = c.deliverQoS;
    c.deliver0 = (packet, cb) => {
      const socket = connectionOf(client)?.socket;
      if (socket && socket.writableLength > maxPendingBytes) {
        counters.messagesDropped++;
        const episode = dropping.get(client);
        dropping.set(client, (episode ?? 0) + 1);
        if (episode === undefined) {
          const dropped: BundledDroppedPayload = { clientid: client.id, dropped: 1, ts: Date.now() };
          publishSys(`clients/${clientIdTopicLevel(client.id)}/messages_dropped`, JSON.stringify(dropped), false, 1);
          socket.once("drain", () => dropping.delete(client));
        }
        setImmediate(cb);
        return;
      }
      counters.messagesSent++;
      deliver0(packet, cb);
    };
    c.deliverQoS = (packet, cb) => {
      if (packet.qos > 0) counters.messagesSent++;
      deliverQoS(packet, cb);
    };
  }

  const startedAt = Date.now();
  function publishStats(): void {
    let bytesRead = counters.bytesReadClosed;
    let bytesWritten = counters.bytesWrittenClosed;
    for (const socket of liveSockets) {
      bytesRead += socket.bytesRead;
      bytesWritten += socket.bytesWritten;
    }
    const clients = (aedes as unknown as { clients: Record<string, Client> }).clients;
    const sessionIds = new Set<string>(persistentSessions);
    for (const id of Object.keys(clients)) sessionIds.add(id);
    let subscriptions = 0;
    for (const topics of subscriptionsByClient.values()) subscriptions += topics.size;
    let queued = 0;
    for (const n of queuedByClient.values()) queued += n;

    const stats: Record<keyof typeof BUNDLED_STATS, number> = {
      "connections/count": aedes.connectedClients,
      "sessions/count": sessionIds.size,
      "subscriptions/count": subscriptions,
      "retained/count": retainedStore.count + retainedStore.sysTopics.size,
      "retained/bytes": retainedStore.bytes,
      "queued/count": queued,
      "memory/heap_used": process.memoryUsage().heapUsed,
    };
    const metrics: Record<keyof typeof BUNDLED_METRICS, number> = {
      "messages/received": counters.messagesReceived,
      "messages/sent": counters.messagesSent,
      "messages/dropped": counters.messagesDropped,
      "bytes/received": bytesRead,
      "bytes/sent": bytesWritten,
      "messages/retained_refused": counters.retainedRefused,
    };
    publishSys("uptime", String(Date.now() - startedAt), true);
    for (const [name, value] of Object.entries(stats)) publishSys(`stats/${name}`, String(value), true);
    for (const [name, value] of Object.entries(metrics)) publishSys(`metrics/${name}`, String(value), true);
  }

  const server = net.createServer((socket) => {
    liveSockets.add(socket);
    socket.on("close", () => {
      liveSockets.delete(socket);
      counters.bytesReadClosed += socket.bytesRead;
      counters.bytesWrittenClosed += socket.bytesWritten;
    });
    socket.on("error", () => {});
    guardPacketSize(socket, maxPacketBytes, () => {});
    const translated = translateMqtt5(socket);
    connections.set(translated.stream, { socket, protocolVersion: () => translated.protocolVersion });
    aedes.handle(translated.stream as never);
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;

  // Retained descriptors first, so a new subscriber sees what it is talking to at once.
  aedes.publish(
    { cmd: "publish", topic: "$SYS/brokers", payload: Buffer.from(node), qos: 0, retain: true, dup: false },
    () => {},
  );
  publishSys("version", `aedes ${AEDES_VERSION} (brokerwatch bundled)`, true);
  publishSys("sysdescr", "brokerwatch bundled broker", true);
  publishStats();
  const timer = setInterval(publishStats, intervalMs);
  timer.unref();

  return {
    port,
    node,
    url: `mqtt://${host.includes(":") ? `[${host}]` : host}:${port}`,
    monitorCredentials,
    aedes,
    retained: () => ({ count: retainedStore.count, bytes: retainedStore.bytes, refused: counters.retainedRefused }),
    async close() {
      clearInterval(timer);
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      for (const socket of liveSockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Keep a per-client count of the outgoing (QoS 1/2) queue held by aedes-persistence: its
 * fields are private, so count at the methods that add to and remove from it.
 */
function wrapPersistence(
  persistence: Record<string, (...args: never[]) => Promise<unknown>>,
  queuedByClient: Map<string, number>,
): void {
  const add = (clientId: string, n: number) => {
    const next = (queuedByClient.get(clientId) ?? 0) + n;
    if (next <= 0) queuedByClient.delete(clientId);
    else queuedByClient.set(clientId, next);
  };
  const p = persistence as unknown as {
    outgoingEnqueue: (sub: { clientId: string }, packet: unknown) => Promise<void>;
    outgoingEnqueueCombi: (subs: { clientId: string }[], packet: unknown) => Promise<void>;
    outgoingClearMessageId: (client: { id: string }, packet: unknown) => Promise<unknown>;
  };
  const enqueue = p.outgoingEnqueue.bind(p);
  const enqueueCombi = p.outgoingEnqueueCombi.bind(p);
  const clear = p.outgoingClearMessageId.bind(p);
  p.outgoingEnqueue = async (sub, packet) => {
    await enqueue(sub, packet);
    add(sub.clientId, 1);
  };
  p.outgoingEnqueueCombi = async (subs, packet) => {
    await enqueueCombi(subs, packet);
    for (const sub of subs) add(sub.clientId, 1);
  };
  p.outgoingClearMessageId = async (client, packet) => {
    const removed = await clear(client, packet);
    if (removed) add(client.id, -1);
    return removed;
  };
}

/**
 * A subscription that can match a `$SYS` topic: `#` and `+/…` never do (MQTT 3.1.1 §4.7.2). That
 * holds for retained messages only because dollarTopicsNeverMatchWildcards fixes Aedes' lookup.
 */
function isSysFilter(filter: string): boolean {
  return filter.startsWith("$SYS");
}

interface RetainedPacket {
  topic: string;
  payload: Buffer;
}

interface RetainedStore {
  /** retained messages of clients, and their topics' and payloads' bytes */
  count: number;
  bytes: number;
  /** the broker's own retained `$SYS` topics, outside the caps */
  sysTopics: Set<string>;
  /** a refusal was logged and nothing was deleted since */
  refusing: boolean;
}

/**
 * Cap what aedes-persistence's in-memory retained store holds (docs/contract.md, "Bundled broker"):
 * it keeps every retained message forever, so one device publishing retained 1 MB messages to new
 * topics grows the process without bound. Over the cap a new retained message is not retained (it
 * is still delivered live: refusing the PUBLISH would disconnect an MQTT 3.1.1 client, and other
 * subscribers did nothing wrong). Replacing a topic's message counts only the difference; an empty
 * payload (deleting) always works. The broker's own `$SYS/…` values (only it may publish there) are
 * neither counted nor refused.
 */
function capRetained(
  persistence: Record<string, (...args: never[]) => unknown>,
  limits: { maxMessages: number; maxBytes: number; onRefused(topic: string, bytes: number, reason: string): void },
): RetainedStore {
  const sizes = new Map<string, number>();
  const store: RetainedStore = { count: 0, bytes: 0, refusing: false, sysTopics: new Set() };
  const p = persistence as unknown as { storeRetained: (packet: RetainedPacket) => Promise<void> };
  const storeRetained = p.storeRetained.bind(p);
  p.storeRetained = async (packet) => {
    // the broker's own `$SYS` values: a fixed set of small topics only it may publish
    if (packet.topic.startsWith("$SYS/")) {
      if (packet.payload.length === 0) store.sysTopics.delete(packet.topic);
      else store.sysTopics.add(packet.topic);
      return storeRetained(packet);
    }
    const previous = sizes.get(packet.topic);
    if (packet.payload.length === 0) {
      await storeRetained(packet);
      if (previous !== undefined) {
        sizes.delete(packet.topic);
        store.count--;
        store.bytes -= previous;
        store.refusing = false;
      }
      return;
    }
    const size = Buffer.byteLength(packet.topic) + packet.payload.length;
    const count = store.count + (previous === undefined ? 1 : 0);
    const bytes = store.bytes - (previous ?? 0) + size;
    if (count > limits.maxMessages) {
      return limits.onRefused(packet.topic, size, `${limits.maxMessages} retained messages held (BUNDLED_MAX_RETAINED_MESSAGES)`);
    }
    if (bytes > limits.maxBytes) {
      return limits.onRefused(
        packet.topic,
        size,
        `retained messages would take ${bytes} bytes, over ${limits.maxBytes} (BUNDLED_MAX_RETAINED_BYTES)`,
      );
    }
    await storeRetained(packet);
    store.count = count;
    store.bytes = bytes;
    sizes.set(packet.topic, size);
  };
  return store;
}

/**
 * MQTT 3.1.1 §4.7.2 [MQTT-4.7.2-1]: a filter starting with `#` or `+` does not match a topic
 * starting with `$`. Aedes applies that to live messages (blockDollarSignTopics in
 * aedes/lib/handlers/subscribe.js) but not to retained ones: on SUBSCRIBE it streams
 * `persistence.createRetainedStreamCombi(filters)` straight to the client, and the persistence
 * matches with Qlobber, for which `#` matches `$SYS/…`. So `subscribe('#')` received every retained
 * `$SYS` value. The lookup itself is fixed here, for every client and every filter.
 */
function dollarTopicsNeverMatchWildcards(persistence: Record<string, (...args: never[]) => unknown>): void {
  const p = persistence as unknown as {
    createRetainedStreamCombi: (patterns: string[]) => Readable;
    createRetainedStream: (pattern: string) => Readable;
  };
  const combi = p.createRetainedStreamCombi.bind(p);
  const single = p.createRetainedStream.bind(p);
  const filtered = (stream: Readable, patterns: string[]) => {
    // a `$` topic is delivered only when a filter that names its first level matches it
    const dollarFilters = patterns.filter((f) => f.startsWith("$"));
    return stream.pipe(
      new Transform({
        objectMode: true,
        transform(packet: RetainedPacket, _enc, done) {
          if (!packet.topic.startsWith("$") || dollarFilters.some((f) => topicMatches(f, packet.topic))) {
            done(null, packet);
          } else done();
        },
      }),
    );
  };
  p.createRetainedStreamCombi = (patterns) => filtered(combi(patterns), patterns);
  p.createRetainedStream = (pattern) => filtered(single(pattern), [pattern]);
}

/** MQTT topic matching (§4.7.1) for one filter and one topic name. */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split("/");
  const t = topic.split("/");
  for (let i = 0; i < f.length; i++) {
    if (f[i] === "#") return true;
    if (i >= t.length) return false;
    if (f[i] !== "+" && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}
