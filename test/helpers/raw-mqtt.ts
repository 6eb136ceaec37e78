import net from "node:net";
import mqttPacket from "mqtt-packet";

/**
 * Raw MQTT over a bare socket, for the cases a client library hides: a client that vanishes
 * without DISCONNECT, never pings, sends garbage, or reuses a ClientID.
 */
export interface RawClient {
  socket: net.Socket;
  /** the client's own port, kept after the socket closes */
  localPort: number;
  /** packets the broker sent, parsed */
  received: mqttPacket.Packet[];
  send(packet: Record<string, unknown>): void;
  sendBytes(bytes: Buffer): void;
  /** resolves when the broker closes the socket */
  closed: Promise<void>;
  waitFor(cmd: string, timeoutMs?: number): Promise<mqttPacket.Packet>;
  destroy(): void;
}

export async function rawConnect(port: number, protocolVersion: 3 | 4 | 5 = 4): Promise<RawClient> {
  const socket = net.connect(port, "127.0.0.1");
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("error", reject);
  });
  socket.on("error", () => {});
  const parser = mqttPacket.parser({ protocolVersion });
  const received: mqttPacket.Packet[] = [];
  const waiters: { cmd: string; resolve: (p: mqttPacket.Packet) => void }[] = [];
  parser.on("packet", (packet) => {
    received.push(packet);
    for (const w of [...waiters]) {
      if (w.cmd === packet.cmd) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(packet);
      }
    }
  });
  parser.on("error", () => {});
  socket.on("data", (d) => parser.parse(d));
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  return {
    socket,
    localPort: socket.localPort!,
    received,
    closed,
    send(packet) {
      socket.write(mqttPacket.generate(packet as unknown as mqttPacket.Packet, { protocolVersion }));
    },
    sendBytes(bytes) {
      socket.write(bytes);
    },
    waitFor(cmd, timeoutMs = 5000) {
      const already = received.find((p) => p.cmd === cmd);
      if (already) return Promise.resolve(already);
      return new Promise((resolve, reject) => {
        waiters.push({ cmd, resolve });
        setTimeout(() => reject(new Error(`no ${cmd} within ${timeoutMs} ms`)), timeoutMs).unref();
      });
    },
    destroy() {
      socket.destroy();
    },
  };
}

export function connectPacket(opts: {
  clientId: string;
  clean?: boolean;
  keepalive?: number;
  username?: string;
  password?: string;
  protocolVersion?: 3 | 4 | 5;
}): Record<string, unknown> {
  const protocolVersion = opts.protocolVersion ?? 4;
  return {
    cmd: "connect",
    protocolId: protocolVersion === 3 ? "MQIsdp" : "MQTT",
    protocolVersion,
    clean: opts.clean ?? true,
    clientId: opts.clientId,
    keepalive: opts.keepalive ?? 60,
    ...(opts.username !== undefined ? { username: opts.username } : {}),
    ...(opts.password !== undefined ? { password: Buffer.from(opts.password) } : {}),
  };
}

/** Connect, wait for CONNACK, return the client. */
export async function rawSession(
  port: number,
  opts: Parameters<typeof connectPacket>[0],
): Promise<RawClient & { connack: mqttPacket.Packet }> {
  const client = await rawConnect(port, opts.protocolVersion ?? 4);
  client.send(connectPacket(opts));
  const connack = await client.waitFor("connack");
  return Object.assign(client, { connack });
}

/** One connection to a ScriptedBroker: what it sends and the socket it sends on. */
export interface ScriptedConnection {
  socket: net.Socket;
  /** a packet, encoded for the protocol level the client connected with */
  packet(p: Record<string, unknown>): Buffer;
  send(p: Record<string, unknown>): void;
}

/**
 * A broker that does only what a test scripts: it answers CONNECT with CONNACK and SUBSCRIBE with
 * SUBACK (granted QoS 0), and hands every packet to `onPacket` after that, e.g. a broker that never
 * answers PINGREQ, or one that floods. Returns its URL and a function that closes it.
 */
export async function scriptedBroker(
  onPacket: (packet: mqttPacket.Packet, connection: ScriptedConnection) => void,
  onClose: (connection: ScriptedConnection) => void = () => {},
): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    const parser = mqttPacket.parser({ protocolVersion: 5 });
    let version: 4 | 5 = 5;
    const connection: ScriptedConnection = {
      socket,
      packet: (p) => mqttPacket.generate(p as unknown as mqttPacket.Packet, { protocolVersion: version }),
      send: (p) => socket.write(connection.packet(p)),
    };
    parser.on("packet", (p) => {
      if (p.cmd === "connect") {
        version = p.protocolVersion === 5 ? 5 : 4;
        connection.send({ cmd: "connack", sessionPresent: false, reasonCode: 0, returnCode: 0 });
      } else if (p.cmd === "subscribe") {
        connection.send({ cmd: "suback", messageId: p.messageId, granted: p.subscriptions.map(() => 0) });
      }
      onPacket(p, connection);
    });
    socket.on("data", (chunk) => parser.parse(chunk));
    socket.on("close", () => {
      sockets.delete(socket);
      onClose(connection);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `mqtt://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
