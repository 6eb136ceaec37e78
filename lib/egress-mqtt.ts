import net from "node:net";
import type { Duplex } from "node:stream";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { checkLiteralHost, egressLookup } from "./egress";

/**
 * mqtt.connect under the egress policy (lib/egress.ts), for the collectors and test connection.
 * mqtt.js' TCP stream builder calls net.createConnection({ port, host }) with no way to pass a
 * `lookup`, so for mqtt:// the stream is built here; mqtts:// hands its options to tls.connect and
 * ws(s):// its `wsOptions` to http.request, which take `lookup` as they are. The builder runs on
 * every (re)connect, so each attempt resolves and checks the name again.
 */
export function connectMqtt(url: string, opts: IClientOptions): MqttClient {
  const parsed = new URL(url);
  const wsOptions = { ...(opts.wsOptions as object | undefined), lookup: egressLookup };
  const client = mqtt.connect(url, { ...opts, lookup: egressLookup, wsOptions, manualConnect: true } as IClientOptions);
  // streamBuilder is private in mqtt.js' types but is what _setupStream calls on every connect
  const internals = client as unknown as { streamBuilder: (c: MqttClient) => Duplex };
  const builder = internals.streamBuilder;
  const tcp = parsed.protocol === "mqtt:" || parsed.protocol === "tcp:";
  internals.streamBuilder = (c) => {
    try {
      checkLiteralHost(parsed.hostname);
    } catch (err) {
      // mqtt.js listens for the stream's error after the builder returns
      const socket = new net.Socket();
      process.nextTick(() => socket.destroy(err as Error));
      return socket;
    }
    if (!tcp) return builder(c);
    return net.connect({
      host: parsed.hostname.replace(/^\[(.*)\]$/, "$1"),
      port: Number(parsed.port || 1883),
      lookup: egressLookup as never,
    });
  };
  client.connect();
  return client;
}
