import net from "node:net";

/**
 * A TCP proxy between the app and a broker, so a test can cut the collector's connection
 * (and refuse new ones) while the broker itself stays up and clients keep using it directly.
 */
export interface TcpProxy {
  port: number;
  url: string;
  /** drop every proxied connection and refuse new ones until `resume` */
  cut(): void;
  resume(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  let refusing = false;
  const server = net.createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = net.connect(targetPort, "127.0.0.1");
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.address() as net.AddressInfo).port;
  const cut = () => {
    refusing = true;
    for (const s of sockets) s.destroy();
    sockets.clear();
  };
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    cut,
    resume() {
      refusing = false;
    },
    async close() {
      cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
