import type net from "node:net";

/**
 * The largest MQTT packet the bundled broker accepts, enforced on the raw bytes before anything
 * buffers a packet: Aedes' parser (mqtt-packet) and the MQTT 5 translator both collect a whole
 * packet in memory before handing it on, so a client announcing a 250 MB PUBLISH would cost that
 * much memory while it trickles in. The guard follows packet boundaries from each fixed header
 * (MQTT 3.1.1 §2.2: one type byte, then a Remaining Length of 1-4 bytes, 7 bits each) and skips
 * the body without keeping it; a header announcing more than the limit closes the connection at
 * once, as does a Remaining Length longer than 4 bytes (malformed).
 */
export const DEFAULT_MAX_PACKET_BYTES = 1024 * 1024;

export function guardPacketSize(socket: net.Socket, maxPacketBytes: number, onOversize: (announced: number) => void) {
  let state: "type" | "length" | "body" = "type";
  let headerBytes = 0;
  let remaining = 0;
  let multiplier = 1;
  let lengthBytes = 0;

  const refuse = (announced: number) => {
    socket.off("data", onData);
    onOversize(announced);
    socket.destroy();
  };

  const onData = (chunk: Buffer) => {
    let i = 0;
    while (i < chunk.length) {
      if (state === "body") {
        const skip = Math.min(remaining, chunk.length - i);
        remaining -= skip;
        i += skip;
        if (remaining === 0) state = "type";
        continue;
      }
      const byte = chunk[i++];
      if (state === "type") {
        state = "length";
        headerBytes = 1;
        remaining = 0;
        multiplier = 1;
        lengthBytes = 0;
        continue;
      }
      // Remaining Length
      remaining += (byte & 0x7f) * multiplier;
      multiplier *= 128;
      lengthBytes += 1;
      headerBytes += 1;
      if (headerBytes + remaining > maxPacketBytes) return refuse(headerBytes + remaining);
      if (byte & 0x80) {
        if (lengthBytes === 4) return refuse(Number.POSITIVE_INFINITY);
        continue;
      }
      state = remaining === 0 ? "type" : "body";
    }
  };
  // registered before the translator's listener, so an oversized header never reaches a parser
  socket.prependListener("data", onData);
}
