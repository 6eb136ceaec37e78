import { describe, expect, it } from "vitest";
import { readMosquittoLogPayload, type MosquittoLogLine } from "../lib/collector/mosquitto-log";
import { MosquittoSessionJoiner } from "../lib/collector/mosquitto-sessions";
import type { ConnectionEvent } from "../lib/collector/types";

const RECEIVED = new Date("2026-01-01T00:00:00Z");
const CONNECT = "1800000000: New client connected from 10.0.0.1:1000 as car-42 (p2, c0, k30, u'fleet').";
const TAKEOVER = "1800000600: Client car-42 already connected, closing old connection.";
const RECONNECT = "1800000600: New client connected from 10.0.0.9:2000 as car-42 (p2, c0, k30, u'fleet').";

/** Reads each line with the stateless reader and feeds it to one joiner, as the dialect does. */
function join(joiner: MosquittoSessionJoiner, ...lines: string[]): ConnectionEvent[] {
  const out = { events: [] as ConnectionEvent[] };
  for (const raw of lines) {
    const record = readMosquittoLogPayload(raw, "2.0");
    joiner.read(record?.line ?? null, { ts: record?.brokerTime ?? RECEIVED, receivedAt: RECEIVED, raw }, out);
  }
  return out.events;
}

describe("the Mosquitto log reader holds no state", () => {
  it("reads the same line the same way whatever came before it", () => {
    const alone = readMosquittoLogPayload(TAKEOVER, "2.0");
    readMosquittoLogPayload(CONNECT, "2.0");
    expect(readMosquittoLogPayload(TAKEOVER, "2.0")).toEqual(alone);
    expect(alone?.line).toEqual<MosquittoLogLine>({
      kind: "disconnected",
      clientId: "car-42",
      reason: "takenover",
      address: null,
      port: null,
    });
  });
});

describe("the Mosquitto session joiner holds the state", () => {
  it("gives a 2.0 disconnect line, which names no socket, the address and identity of its session's connect", () => {
    const events = join(new MosquittoSessionJoiner(), CONNECT, "1800000060: Client car-42 disconnected.");
    expect(events[1]).toMatchObject({
      type: "disconnected",
      reason: "normal",
      address: "10.0.0.1",
      port: 1000,
      username: "fleet",
      sessionSeconds: 60,
    });
  });

  it("decides a takeover from the next connect line, and reports it anyway when something else comes", () => {
    expect(join(new MosquittoSessionJoiner(), CONNECT, TAKEOVER, RECONNECT)[1]).toMatchObject({
      type: "disconnected",
      reason: "takenover",
      port: 1000,
    });
    const joiner = new MosquittoSessionJoiner();
    expect(join(joiner, CONNECT, TAKEOVER)).toHaveLength(1);
    const out = { events: [] as ConnectionEvent[] };
    joiner.otherMessage(out);
    expect(out.events).toMatchObject([{ type: "disconnected", reason: "takenover", port: 1000 }]);
  });

  it("forgets the sessions of a restarted broker", () => {
    const joiner = new MosquittoSessionJoiner();
    join(joiner, CONNECT);
    joiner.reset();
    const [ended] = join(joiner, "1800000060: Client car-42 disconnected.");
    expect(ended).toMatchObject({ type: "disconnected", address: null, sessionSeconds: null });
  });

  it("remembers at most maxOpenSessions sessions, forgetting the oldest", () => {
    const joiner = new MosquittoSessionJoiner(1);
    join(joiner, CONNECT, "1800000001: New client connected from 10.0.0.2:1001 as bus-7 (p2, c1, k30).");
    const [ended] = join(joiner, "1800000060: Client car-42 disconnected.");
    expect(ended).toMatchObject({ clientId: "car-42", address: null, sessionSeconds: null });
  });
});
