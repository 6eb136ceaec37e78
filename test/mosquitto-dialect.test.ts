import { describe, expect, it } from "vitest";
import { createMosquittoDialect, readMosquittoLogPayload } from "../lib/collector/mosquitto";
import type {
  ConnectionEvent,
  Dialect,
  DialectOutput,
  MetricSample,
  OwnInFlight,
  OwnMessage,
} from "../lib/collector/types";
import { DISCONNECT_REASONS, EVENT_TYPES } from "../lib/events";
import type { MetricName } from "../lib/metrics";
import { readMosquittoSubLines, type SysLine } from "./helpers/fixtures";

const utf8 = new TextEncoder();
const LOG = "$SYS/broker/log/N";
/** a fixed receive time for lines whose broker time comes from their prefix */
const RECEIVED = new Date("2026-01-01T00:00:00Z");

type Message = SysLine;
const fixture = readMosquittoSubLines;

function merge(into: DialectOutput, out: DialectOutput): DialectOutput {
  into.samples.push(...out.samples);
  into.events.push(...out.events);
  into.unparsed.push(...out.unparsed);
  if (out.heartbeat) into.heartbeat = out.heartbeat;
  if (out.version) into.version = out.version;
  return into;
}

function emptyRun(): DialectOutput {
  return { samples: [], events: [], unparsed: [] };
}

/**
 * Replays a capture as the collector would have received it: `$SYS` statistics at the broker's
 * start (an hour-aligned epoch the capture's log lines fit) plus its uptime, log lines at their own
 * timestamp.
 */
function replay(
  messages: Message[],
  dialect: Dialect = createMosquittoDialect(),
  brokerStart = 1795346726,
): DialectOutput {
  const all = emptyRun();
  let clock = brokerStart;
  for (const { topic, payload } of messages) {
    const uptime = topic === "$SYS/broker/uptime" ? /^(\d+) seconds$/.exec(payload) : null;
    if (uptime) clock = brokerStart + Number(uptime[1]);
    const stamped = topic.startsWith("$SYS/broker/log/") ? /^(\d{10}): /.exec(payload) : null;
    const receivedAt = new Date((stamped ? Number(stamped[1]) : clock) * 1000);
    merge(all, dialect.parse(topic, utf8.encode(payload), receivedAt));
  }
  return all;
}

/** Log lines to one dialect, received at RECEIVED unless they carry a timestamp. */
function logs(dialect: Dialect, ...lines: string[]): DialectOutput {
  const all = emptyRun();
  for (const line of lines) merge(all, dialect.parse(LOG, utf8.encode(line), RECEIVED));
  return all;
}

function sys(dialect: Dialect, topic: string, payload: string | Uint8Array, receivedAt: Date): DialectOutput {
  const bytes = typeof payload === "string" ? utf8.encode(payload) : payload;
  return dialect.parse(`$SYS/broker/${topic}`, bytes, receivedAt);
}

function values(samples: MetricSample[], metric: MetricName): number[] {
  return samples.filter((s) => s.metric === metric).map((s) => s.value);
}

function at(epochSeconds: number): Date {
  return new Date(epochSeconds * 1000);
}

/** The fields an operator reads off an event, without raw/receivedAt noise. */
function summary(e: ConnectionEvent) {
  return {
    type: e.type,
    clientId: e.clientId,
    reason: e.reason,
    address: e.address,
    port: e.port,
    username: e.username,
    protocolVersion: e.protocolVersion,
    cleanStart: e.cleanStart,
    keepalive: e.keepalive,
    sessionSeconds: e.sessionSeconds,
    ts: e.ts.getTime() / 1000,
  };
}

const local = { address: "127.0.0.1", username: null, protocolVersion: 4, cleanStart: true };

describe("Mosquitto 2.0.11 capture, anonymous listener (sys-and-log-anonymous.txt)", () => {
  const run = replay(fixture("mosquitto-2.0.11/sys-and-log-anonymous.txt"));

  it("reads every line of a real broker: nothing unparsed", () => {
    expect(run.unparsed).toEqual([]);
    expect(run.version).toBe("2.0.11");
  });

  it("reports the $SYS gauges with the broker's values, never the deprecated aliases twice", () => {
    expect(values(run.samples, "mqtt_broker_uptime_seconds")).toEqual([0, 2, 4, 6, 8]);
    expect(run.heartbeat).toEqual({ node: null, uptimeSeconds: 8 });
    // clients/active repeats clients/connected: one sample per update, not two
    expect(values(run.samples, "mqtt_connections_current")).toEqual([0, 1, 2, 1]);
    expect(values(run.samples, "mqtt_sessions")).toEqual([0, 1, 2, 1]);
    expect(values(run.samples, "mqtt_subscriptions")).toEqual([0, 1, 2, 1]);
    expect(values(run.samples, "mqtt_retained_messages")).toEqual([40, 53]);
    expect(values(run.samples, "mqtt_memory_bytes")).toEqual([33272, 45736, 48672, 47224, 46528]);
    expect(values(run.samples, "mqtt_messages_dropped_total")).toEqual([0]);
    expect(run.samples.every((s) => s.node === null)).toBe(true);
  });

  it("derives queued messages from the store count minus the retained count (35 stored, 40 retained → 0)", () => {
    expect(values(run.samples, "mqtt_queued_messages")).toEqual([0, 0]);
  });

  it("turns the cumulative publish and byte counters into per-second rates", () => {
    // publish/messages/sent 0 → 88 → 141 → 182 → 221 over 2 s updates
    expect(values(run.samples, "mqtt_messages_sent_per_second")).toEqual([44, 26.5, 20.5, 19.5]);
    // received stays 0, becomes 2 in the update at uptime 4, then stays 2: Mosquitto only republishes
    // changed values, so the quiet updates must read as 0/s, not as the last rate forever
    expect(values(run.samples, "mqtt_messages_received_per_second")).toEqual([0, 1, 0]);
    expect(values(run.samples, "mqtt_bytes_received_per_second")).toEqual([17, 62.5, 22.5, 11.5]);
    expect(values(run.samples, "mqtt_bytes_sent_per_second")).toEqual([1784, 1328.5, 967.5, 909]);
  });

  it("records every connection lifecycle event of the capture, in order", () => {
    expect(run.events.map(summary)).toEqual([
      {
        ...local,
        type: "connected",
        clientId: "dev-1",
        reason: null,
        port: 57136,
        keepalive: 60,
        sessionSeconds: null,
        ts: 1795346728,
      },
      {
        ...local,
        type: "disconnected",
        clientId: "dev-1",
        reason: "normal",
        port: 57136,
        keepalive: 60,
        sessionSeconds: 0,
        ts: 1795346728,
      },
      {
        ...local,
        type: "connected",
        clientId: "dev-1",
        reason: null,
        port: 57152,
        protocolVersion: 5,
        keepalive: 60,
        sessionSeconds: null,
        ts: 1795346728,
      },
      {
        ...local,
        type: "disconnected",
        clientId: "dev-1",
        reason: "normal",
        port: 57152,
        protocolVersion: 5,
        keepalive: 60,
        sessionSeconds: 0,
        ts: 1795346728,
      },
      {
        ...local,
        type: "connected",
        clientId: "dup",
        reason: null,
        port: 57164,
        keepalive: 5,
        sessionSeconds: null,
        ts: 1795346728,
      },
      {
        ...local,
        type: "disconnected",
        clientId: "dup",
        reason: "discarded",
        port: 57164,
        keepalive: 5,
        sessionSeconds: 1,
        ts: 1795346729,
      },
      {
        ...local,
        type: "connected",
        clientId: "dup",
        reason: null,
        port: 57172,
        keepalive: 60,
        sessionSeconds: null,
        ts: 1795346729,
      },
      {
        ...local,
        type: "disconnected",
        clientId: "dup",
        reason: "discarded",
        port: 57172,
        keepalive: 60,
        sessionSeconds: 1,
        ts: 1795346730,
      },
      {
        ...local,
        type: "connected",
        clientId: "dup",
        reason: null,
        port: 57182,
        keepalive: 5,
        sessionSeconds: null,
        ts: 1795346730,
      },
      {
        ...local,
        type: "connected",
        clientId: "ka-1",
        reason: null,
        port: 57188,
        keepalive: 1,
        sessionSeconds: null,
        ts: 1795346730,
      },
      {
        ...local,
        type: "disconnected",
        clientId: "dup",
        reason: "normal",
        port: 57182,
        keepalive: 5,
        sessionSeconds: 0,
        ts: 1795346730,
      },
      {
        ...local,
        type: "disconnected",
        clientId: "ka-1",
        reason: "keepalive_timeout",
        port: 57188,
        keepalive: 1,
        sessionSeconds: 2,
        ts: 1795346732,
      },
      {
        type: "connect_failed",
        clientId: null,
        reason: "protocol_error",
        address: "127.0.0.1",
        port: 43640,
        username: null,
        protocolVersion: null,
        cleanStart: null,
        keepalive: null,
        sessionSeconds: null,
        ts: 1795346733,
      },
      {
        ...local,
        type: "connected",
        clientId: "ka-1",
        reason: null,
        port: 43642,
        keepalive: 1,
        sessionSeconds: null,
        ts: 1795346734,
      },
      {
        ...local,
        type: "disconnected",
        clientId: "ka-1",
        reason: "tcp_closed",
        port: 43642,
        keepalive: 1,
        sessionSeconds: 0,
        ts: 1795346734,
      },
    ]);
  });

  it("records the takeover of dup from the log/E line, which is the only trace of the old socket", () => {
    const takeovers = run.events.filter(
      (e) => e.clientId === "dup" && e.type === "disconnected" && e.reason !== "normal",
    );
    expect(takeovers).toHaveLength(2);
    expect(takeovers[0].raw).toBe("1795346729: Client dup already connected, closing old connection.");
    expect(takeovers[0].receivedAt).toEqual(at(1795346729));
  });

  it("counts the garbage CONNECT as one connect_failed, never as a disconnect of a session", () => {
    const failed = run.events.filter((e) => e.type === "connect_failed");
    expect(failed).toHaveLength(1);
    expect(failed[0].raw).toBe("1795346733: Client <unknown> disconnected due to protocol error.");
  });
});

describe("Mosquitto 2.0.11 capture, password listener (log-with-auth.txt)", () => {
  const run = replay(fixture("mosquitto-2.0.11/log-with-auth.txt"));

  it("records each failed login as connect_failed not_authorized with the socket of its New connection line", () => {
    expect(run.unparsed).toEqual([]);
    const failed = run.events.filter((e) => e.type === "connect_failed");
    expect(failed.map((e) => [e.clientId, e.reason, e.address, e.port])).toEqual([
      [null, "not_authorized", "127.0.0.1", 40656],
      [null, "not_authorized", "127.0.0.1", 40658],
      [null, "not_authorized", "127.0.0.1", 40668],
    ]);
  });

  it("keeps the username of the connect line on the session's disconnect, and reads an abrupt close as tcp_closed", () => {
    const rest = run.events.filter((e) => e.type !== "connect_failed").map(summary);
    const ops = {
      address: "127.0.0.1",
      username: "ops",
      protocolVersion: 5,
      cleanStart: true,
      keepalive: 60,
      ts: 1795346750,
    };
    expect(rest).toEqual([
      { ...ops, type: "connected", clientId: "good", reason: null, port: 40684, sessionSeconds: null },
      { ...ops, type: "disconnected", clientId: "good", reason: "normal", port: 40684, sessionSeconds: 0 },
      { ...ops, type: "connected", clientId: "abrupt-1", reason: null, port: 40690, sessionSeconds: null },
      { ...ops, type: "disconnected", clientId: "abrupt-1", reason: "tcp_closed", port: 40690, sessionSeconds: 0 },
    ]);
  });
});

describe("sessions: joining a 2.0 disconnect (which names no socket) to its connect", () => {
  it("gives a disconnect the address, username, protocol, flags and length of the session's connect", () => {
    const run = logs(
      createMosquittoDialect(),
      "1800000000: New connection from ::ffff:10.1.2.3:61000 on port 1883.",
      "1800000000: New client connected from ::ffff:10.1.2.3:61000 as meter-7 (p1, c0, k120, u'field').",
      "1800003725: Client meter-7 disconnected: Connection timed out.",
    );
    expect(run.events.map(summary)).toEqual([
      {
        type: "connected",
        clientId: "meter-7",
        reason: null,
        address: "::ffff:10.1.2.3",
        port: 61000,
        username: "field",
        protocolVersion: 3,
        cleanStart: false,
        keepalive: 120,
        sessionSeconds: null,
        ts: 1800000000,
      },
      {
        type: "disconnected",
        clientId: "meter-7",
        reason: "socket_error",
        address: "::ffff:10.1.2.3",
        port: 61000,
        username: "field",
        protocolVersion: 3,
        cleanStart: false,
        keepalive: 120,
        sessionSeconds: 3725,
        ts: 1800003725,
      },
    ]);
  });

  it("still records the disconnect of a session that began before we subscribed, without inventing its fields", () => {
    const [event] = logs(createMosquittoDialect(), "1800000000: Client old-timer closed its connection.").events;
    expect(summary(event)).toMatchObject({
      type: "disconnected",
      clientId: "old-timer",
      reason: "tcp_closed",
      address: null,
      sessionSeconds: null,
    });
  });

  it("forgets the oldest open session beyond the bound instead of growing without limit", () => {
    const dialect = createMosquittoDialect({ maxOpenSessions: 2 });
    const connect = (id: string, port: number) =>
      `1800000000: New client connected from 10.0.0.1:${port} as ${id} (p2, c1, k60).`;
    const run = logs(
      dialect,
      connect("a", 1),
      connect("b", 2),
      connect("c", 3),
      "1800000009: Client a disconnected.",
      "1800000009: Client c disconnected.",
    );
    const [a, c] = run.events.filter((e) => e.type === "disconnected");
    expect([a.port, a.sessionSeconds]).toEqual([null, null]);
    expect([c.port, c.sessionSeconds]).toEqual([3, 9]);
  });

  it("forgets every open session when the broker says it is starting again", () => {
    const run = logs(
      createMosquittoDialect(),
      "1800000000: New client connected from 10.0.0.1:1000 as plc (p2, c0, k60).",
      "1800000100: mosquitto version 2.0.18 starting",
      "1800000200: Client plc disconnected.",
    );
    expect(run.version).toBe("2.0.18");
    expect(run.events[1]).toMatchObject({ type: "disconnected", clientId: "plc", address: null, sessionSeconds: null });
  });

  it("keeps the live session open when a clone with the same ClientID fails to authenticate", () => {
    const run = logs(
      createMosquittoDialect(),
      "1800000000: New connection from 10.0.0.1:1000 on port 1883.",
      "1800000000: New client connected from 10.0.0.1:1000 as pump-3 (p2, c1, k60, u'pump').",
      "1800000500: New connection from 10.0.0.2:2000 on port 1883.",
      "1800000500: Client pump-3 disconnected, not authorised.",
      "1800000900: Client pump-3 disconnected.",
    );
    expect(run.events.map((e) => [e.type, e.reason, e.address, e.port, e.sessionSeconds])).toEqual([
      ["connected", null, "10.0.0.1", 1000, null],
      ["connect_failed", "not_authorized", "10.0.0.2", 2000, null],
      ["disconnected", "normal", "10.0.0.1", 1000, 900],
    ]);
  });

  it("records messages dropped for a client's full queue against that client", () => {
    const run = logs(
      createMosquittoDialect(),
      "1800000000: New client connected from 10.0.0.1:1000 as slow-consumer (p5, c0, k60).",
      "1800000042: Outgoing messages are being dropped for client slow-consumer.",
    );
    expect(summary(run.events[1])).toMatchObject({
      type: "messages_dropped",
      clientId: "slow-consumer",
      reason: null,
      address: "10.0.0.1",
      ts: 1800000042,
    });
  });
});

describe("takeovers: the same ClientID connecting again", () => {
  const first = "1800000000: New client connected from 10.0.0.1:1000 as car-42 (p5, c0, k30, u'fleet').";
  const takeover = "1800000600: Client car-42 already connected, closing old connection.";

  it("records a takeover when the same ClientID reconnects with clean start 0", () => {
    const run = logs(
      createMosquittoDialect(),
      first,
      takeover,
      "1800000600: New client connected from 10.0.0.9:2000 as car-42 (p5, c0, k30, u'fleet').",
    );
    expect(run.events.map(summary)).toEqual([
      expect.objectContaining({ type: "connected", port: 1000 }),
      {
        type: "disconnected",
        clientId: "car-42",
        reason: "takenover",
        address: "10.0.0.1",
        port: 1000,
        username: "fleet",
        protocolVersion: 5,
        cleanStart: false,
        keepalive: 30,
        sessionSeconds: 600,
        ts: 1800000600,
      },
      expect.objectContaining({ type: "connected", port: 2000, address: "10.0.0.9" }),
    ]);
    expect(run.events[1].raw).toBe(takeover);
  });

  it("records a discarded session when the same ClientID reconnects with clean start 1", () => {
    const run = logs(
      createMosquittoDialect(),
      first,
      takeover,
      "1800000600: New client connected from 10.0.0.9:2000 as car-42 (p5, c1, k30, u'fleet').",
    );
    expect(run.events[1]).toMatchObject({ type: "disconnected", reason: "discarded", port: 1000, sessionSeconds: 600 });
  });

  it("does not lose a takeover whose new connect line never comes", () => {
    const dialect = createMosquittoDialect();
    logs(dialect, first, takeover);
    // the next message, whatever it is, settles it
    const next = sys(dialect, "uptime", "700 seconds", at(1800000700));
    expect(next.events.map((e) => [e.type, e.clientId, e.reason, e.sessionSeconds])).toEqual([
      ["disconnected", "car-42", "takenover", 600],
    ]);
    expect(
      logs(dialect, "1800000701: New client connected from 10.0.0.9:2000 as car-42 (p5, c1, k30).").events,
    ).toHaveLength(1);
  });

  it("settles a pending takeover before an unrelated line, and reports both", () => {
    const run = logs(createMosquittoDialect(), first, takeover, "1800000601: Client someone-else disconnected.");
    expect(run.events.map((e) => [e.type, e.clientId, e.reason])).toEqual([
      ["connected", "car-42", null],
      ["disconnected", "car-42", "takenover"],
      ["disconnected", "someone-else", "normal"],
    ]);
  });
});

describe("connections that never became a session (connect_failed)", () => {
  it("counts a bad CONNECT once although Mosquitto logs the refusal and then the socket's disconnect", () => {
    const run = logs(
      createMosquittoDialect(),
      "1800000000: New connection from 10.0.0.3:4000 on port 1883.",
      "1800000000: Protocol error from 10.0.0.3: password without username, closing connection.",
      "1800000000: Client <unknown> disconnected due to protocol error.",
      "1800000001: New connection from 10.0.0.4:4001 on port 1883.",
      '1800000001: Invalid protocol "MQTTv9 in CONNECT from x" in CONNECT from 10.0.0.4.',
      "1800000001: Client <unknown> disconnected due to protocol error.",
      "1800000002: New connection from 10.0.0.5:4002 on port 1883.",
      "1800000002: Invalid protocol version 9 in CONNECT from 10.0.0.5.",
      "1800000002: Client <unknown> disconnected due to protocol error.",
      "1800000003: New connection from 10.0.0.6:4003 on port 1883.",
      "1800000003: Invalid Will QoS in CONNECT from 10.0.0.6.",
      "1800000003: Client <unknown> disconnected due to protocol error.",
    );
    expect(run.unparsed).toEqual([]);
    expect(run.events.map((e) => [e.type, e.clientId, e.reason, e.address, e.port])).toEqual([
      ["connect_failed", null, "protocol_error", "10.0.0.3", 4000],
      ["connect_failed", null, "protocol_error", "10.0.0.4", 4001],
      ["connect_failed", null, "protocol_error", "10.0.0.5", 4002],
      ["connect_failed", null, "protocol_error", "10.0.0.6", 4003],
    ]);
  });

  it("records max_connections denials and a full socket table as connect_failed max_connections", () => {
    const run = logs(
      createMosquittoDialect(),
      "1800000000: Client connection from 10.0.0.7 denied: max_connections exceeded.",
      '1800000001: Unable to accept new connection, system socket count has been exceeded. Try increasing "ulimit -n" or equivalent.',
    );
    expect(run.events.map((e) => [e.type, e.reason, e.address, e.port])).toEqual([
      ["connect_failed", "max_connections", "10.0.0.7", null],
      ["connect_failed", "max_connections", null, null],
    ]);
  });

  it("counts a failed TLS handshake once although OpenSSL reports several errors for it", () => {
    const run = logs(
      createMosquittoDialect(),
      "1800000000: Client connection from 192.168.1.20 failed: error:1408F10B:SSL routines:ssl3_get_record:wrong version number.",
      "1800000000: Client connection from 192.168.1.20 failed: error:140940E5:SSL routines:ssl3_read_bytes:ssl handshake failure.",
      "1800000001: Client connection from 192.168.1.21 failed: error:1417A0C1:SSL routines:tls_post_process_client_hello:no shared cipher.",
    );
    expect(run.events.map((e) => [e.type, e.reason, e.address])).toEqual([
      ["connect_failed", "socket_error", "192.168.1.20"],
      ["connect_failed", "socket_error", "192.168.1.21"],
    ]);
  });

  it("reads a second CONNECT on a live session as the end of that session, not as a failed connect", () => {
    const run = logs(
      createMosquittoDialect(),
      "1800000000: New client connected from 10.0.0.1:1000 as chatty (p2, c1, k60).",
      "1800000010: Bad client chatty sending multiple CONNECT messages.",
      "1800000010: Client chatty disconnected due to protocol error.",
      "1800000020: Bad client ghost sending multiple CONNECT messages.",
      "1800000020: Client ghost disconnected due to protocol error.",
    );
    expect(run.events.map((e) => [e.type, e.clientId, e.reason, e.sessionSeconds])).toEqual([
      ["connected", "chatty", null, null],
      ["disconnected", "chatty", "protocol_error", 10],
      ["connect_failed", "ghost", "protocol_error", null],
    ]);
  });

  it("reads an authentication failure with a real ClientID and no session as connect_failed", () => {
    const run = logs(
      createMosquittoDialect(),
      "1800000000: New connection from 10.0.0.8:5000 on port 1883.",
      "1800000000: Client stolen-id disconnected, not authorised.",
    );
    expect(summary(run.events[0])).toMatchObject({
      type: "connect_failed",
      clientId: "stolen-id",
      reason: "not_authorized",
      address: "10.0.0.8",
      port: 5000,
    });
  });
});

describe("every 2.0 disconnect line of the docs/brokers.md §2.3 table", () => {
  const cases: Array<[string, string, string]> = [
    ["Client c disconnected.", "disconnected", "normal"],
    ["Client c closed its connection.", "disconnected", "tcp_closed"],
    ["Client c has exceeded timeout, disconnecting.", "disconnected", "keepalive_timeout"],
    ["Client c disconnected, not authorised.", "disconnected", "not_authorized"],
    ["Client c disconnected due to protocol error.", "disconnected", "protocol_error"],
    ["Client c disconnected due to malformed packet.", "disconnected", "malformed_packet"],
    ["Client c disconnected due to oversize packet.", "disconnected", "packet_too_large"],
    ["Client c disconnected due to oversize payload.", "disconnected", "packet_too_large"],
    ["Client c disconnected due to out of memory.", "disconnected", "out_of_memory"],
    [
      "Client c disconnected due to using not allowed feature (QoS too high, retain not supported, or bad AUTH method).",
      "disconnected",
      "protocol_error",
    ],
    ["Client c disconnected due to QoS too high or retain not supported.", "disconnected", "protocol_error"],
    ["Client c been disconnected by administrative action.", "disconnected", "kicked"],
    ["Client c disconnected: No route to host.", "disconnected", "socket_error"],
    ["Bad socket read/write on client c: The connection was lost.", "disconnected", "socket_error"],
    ["Bad socket read/write on client c, disconnecting.", "disconnected", "socket_error"],
    ["Client <unknown> closed its connection.", "connect_failed", "tcp_closed"],
    ["Client <unknown> disconnected due to malformed packet.", "connect_failed", "malformed_packet"],
  ];
  it.each(cases)("%s → %s %s", (line, type, reason) => {
    const dialect = createMosquittoDialect();
    logs(dialect, "1800000000: New client connected from 10.0.0.1:1000 as c (p2, c1, k60).");
    const { events, unparsed } = logs(dialect, `1800000030: ${line}`);
    expect(unparsed).toEqual([]);
    expect(events.map((e) => [e.type, e.reason])).toEqual([[type, reason]]);
    if (type === "disconnected")
      expect(events[0]).toMatchObject({ clientId: "c", address: "10.0.0.1", sessionSeconds: 30 });
    else expect(events[0].clientId).toBeNull();
  });
});

describe("Mosquitto 2.1.x formats (synthetic lines, docs/brokers.md §2.4)", () => {
  it("reads the 2.1.2 synthetic log: real protocol levels, [address:port] disconnects and reason words", () => {
    const run = replay(fixture("mosquitto-synthetic/synthetic-2.1.2-log.txt"));
    expect(run.unparsed).toEqual([]);
    expect(run.version).toBe("2.1.2");
    expect(run.events.map(summary)).toEqual([
      {
        type: "connected",
        clientId: "sensor-1",
        reason: null,
        address: "10.0.0.5",
        port: 50001,
        username: "plant",
        protocolVersion: 4,
        cleanStart: false,
        keepalive: 30,
        sessionSeconds: null,
        ts: 1800000000,
      },
      {
        type: "disconnected",
        clientId: "sensor-1",
        reason: "normal",
        address: "10.0.0.5",
        port: 50001,
        username: "plant",
        protocolVersion: 4,
        cleanStart: false,
        keepalive: 30,
        sessionSeconds: 60,
        ts: 1800000060,
      },
      expect.objectContaining({ type: "connected", clientId: "legacy", protocolVersion: 3, port: 50002 }),
      expect.objectContaining({
        type: "disconnected",
        clientId: "legacy",
        reason: "keepalive_timeout",
        protocolVersion: 3,
        sessionSeconds: 15,
      }),
      expect.objectContaining({
        type: "connected",
        clientId: "phone",
        address: "2001:db8::7",
        port: 50003,
        protocolVersion: 5,
      }),
      expect.objectContaining({
        type: "disconnected",
        clientId: "phone",
        reason: "takenover",
        address: "2001:db8::7",
        port: 50003,
        sessionSeconds: 60,
      }),
      expect.objectContaining({ type: "connected", clientId: "phone", address: "2001:db8::8", port: 50004 }),
      expect.objectContaining({
        type: "connect_failed",
        clientId: null,
        reason: "not_authorized",
        address: "10.0.0.9",
        port: 50005,
      }),
      expect.objectContaining({
        type: "connect_failed",
        clientId: "intruder",
        reason: "not_authorized",
        address: "10.0.0.9",
        port: 50006,
      }),
      expect.objectContaining({
        type: "disconnected",
        clientId: "phone",
        reason: "socket_error",
        address: "2001:db8::8",
        port: 50004,
        sessionSeconds: 140,
      }),
    ]);
  });

  const words: Array<[string, string]> = [
    ["connection closed by client", "tcp_closed"],
    ["exceeded timeout", "keepalive_timeout"],
    ["not authorised", "not_authorized"],
    ["bad username or password", "not_authorized"],
    ["client banned", "not_authorized"],
    ["bad authentication method", "not_authorized"],
    ["non-matching http origin", "not_authorized"],
    ["malformed packet", "malformed_packet"],
    ["protocol error", "protocol_error"],
    ["receive maximum exceeded", "protocol_error"],
    ["topic alias invalid", "protocol_error"],
    ["client identifier not valid", "protocol_error"],
    ["used disallowed feature (QoS too high, retain not supported, or bad AUTH method)", "protocol_error"],
    ["oversize packet", "packet_too_large"],
    ["oversize payload", "packet_too_large"],
    ["out of memory", "out_of_memory"],
    ["administrative action", "kicked"],
    ["implementation specific error", "internal_error"],
    ["server unavailable", "internal_error"],
    ["server busy", "max_connections"],
    ["quota exceeded", "max_connections"],
    ["connection rate exceeded", "max_connections"],
    ["Broken pipe", "socket_error"],
    ["bad socket read/write: The connection was lost.", "socket_error"],
    ["a reason from a future release", "unknown"],
  ];
  it.each(words)("maps the 2.1 reason words %j to %s, still as an event", (said, reason) => {
    const dialect = createMosquittoDialect();
    sys(dialect, "version", "mosquitto version 2.1.2", RECEIVED);
    logs(dialect, "1800000000: New client connected from 10.0.0.1:1000 as c (p5, c1, k60).");
    const { events, unparsed } = logs(dialect, `1800000005: Client c [10.0.0.1:1000] disconnected: ${said}.`);
    expect(unparsed).toEqual([]);
    expect(events.map((e) => [e.type, e.reason, e.sessionSeconds])).toEqual([["disconnected", reason, 5]]);
  });

  it("records a discarded session when a 2.1 takeover is followed by a clean-start connect", () => {
    const dialect = createMosquittoDialect();
    sys(dialect, "version", "mosquitto version 2.1.2", RECEIVED);
    const run = logs(
      dialect,
      "1800000000: New client connected from 10.0.0.1:1000 as twin (p4, c0, k60).",
      "1800000010: Client twin [10.0.0.1:1000] disconnected: session taken over.",
      "1800000010: New client connected from 10.0.0.2:2000 as twin (p4, c1, k60).",
    );
    expect(run.events.map((e) => [e.type, e.reason, e.port])).toEqual([
      ["connected", null, 1000],
      ["disconnected", "discarded", 1000],
      ["connected", null, 2000],
    ]);
  });

  it("does not end a live session for a disconnect line about another socket with its ClientID", () => {
    const dialect = createMosquittoDialect();
    sys(dialect, "version", "mosquitto version 2.1.2", RECEIVED);
    const run = logs(
      dialect,
      "1800000000: New client connected from 10.0.0.1:1000 as pump-3 (p4, c1, k60).",
      "1800000005: Client pump-3 [10.0.0.2:2000] disconnected: bad username or password.",
      "1800000009: Client pump-3 [10.0.0.1:1000] disconnected.",
    );
    expect(run.events.map((e) => [e.type, e.reason, e.port, e.sessionSeconds])).toEqual([
      ["connected", null, 1000, null],
      ["connect_failed", "not_authorized", 2000, null],
      ["disconnected", "normal", 1000, 9],
    ]);
  });

  it("reads p%d by the version: p2 is MQTT 3.1.1 in 2.0, p4 in 2.1, both before the version is known", () => {
    const level = (version: string | null, p: number) => {
      const dialect = createMosquittoDialect();
      if (version) sys(dialect, "version", `mosquitto version ${version}`, RECEIVED);
      return logs(dialect, `New client connected from 10.0.0.1:1000 as c (p${p}, c1, k60).`).events[0].protocolVersion;
    };
    expect([level("2.0.22", 1), level("2.0.22", 2), level("2.0.22", 4), level("2.0.22", 5)]).toEqual([3, 4, null, 5]);
    expect([level("2.1.2", 3), level("2.1.2", 4), level("2.1.2", 2), level("2.1.2", 5)]).toEqual([3, 4, null, 5]);
    expect([level(null, 1), level(null, 2), level(null, 3), level(null, 4), level(null, 5)]).toEqual([3, 4, 3, 4, 5]);
  });

  it("reads a 2.0 ClientID that merely ends in [address:port] literally once the broker says it is 2.0", () => {
    const dialect = createMosquittoDialect();
    sys(dialect, "version", "mosquitto version 2.0.22", RECEIVED);
    const { events } = logs(dialect, "Client gw [10.0.0.1:1] disconnected.");
    expect(events[0]).toMatchObject({ clientId: "gw [10.0.0.1:1]", address: null, reason: "normal" });
  });
});

describe("hostile ClientIDs and usernames", () => {
  const ids = [
    "client with spaces",
    `it's "quoted"`,
    "sensor (v2)",
    "weird) (",
    "a as b",
    " as ",
    "x (p2, c1, k60)",
    "x (p2, c1, k60, u'y",
    "x disconnected, not authorised",
    "gw: eu-1",
    "Ünïcødé-日本語-ключ",
    "🛰️-sat-👩‍🚀",
    "<unknown>-ish",
    "x".repeat(65_535),
    "a b ".repeat(16_383) + "end",
  ];
  const usernames = [null, "ops", "o'neil", "ops) (", "a', u'b", "", "δοκιμή 🙂"];

  it.each(ids.map((id) => [id.length > 40 ? `${id.slice(0, 12)}… (${id.length} chars)` : id, id]))(
    "keeps the ClientID %j whole through connect and disconnect",
    (_name, id) => {
      for (const username of usernames) {
        for (const [ending, reason] of [
          ["disconnected.", "normal"],
          ["closed its connection.", "tcp_closed"],
          ["disconnected: Connection reset by peer.", "socket_error"],
          ["disconnected due to protocol error.", "protocol_error"],
        ]) {
          const dialect = createMosquittoDialect();
          const user = username === null ? "" : `, u'${username}'`;
          const run = logs(
            dialect,
            `1800000000: New client connected from fe80::1:1883 as ${id} (p2, c0, k60${user}).`,
            `1800000007: Client ${id} ${ending}`,
          );
          expect(run.unparsed).toEqual([]);
          expect(
            run.events.map((e) => [e.type, e.clientId, e.username, e.reason, e.address, e.port, e.sessionSeconds]),
          ).toEqual([
            ["connected", id, username, null, "fe80::1", 1883, null],
            ["disconnected", id, username, reason, "fe80::1", 1883, 7],
          ]);
        }
      }
    },
  );

  it("keeps hostile ClientIDs whole in 2.1 lines, takeovers and dropped-message lines", () => {
    for (const id of ids) {
      const dialect = createMosquittoDialect();
      sys(dialect, "version", "mosquitto version 2.1.2", RECEIVED);
      const run = logs(
        dialect,
        `1800000000: New client connected from 10.0.0.1:1000 as ${id} (p5, c0, k60).`,
        `1800000001: Outgoing messages are being dropped for client ${id}.`,
        `1800000002: Client ${id} [10.0.0.1:1000] disconnected: session taken over.`,
        `1800000002: New client connected from 10.0.0.1:1001 as ${id} (p5, c0, k60).`,
        `1800000003: Client ${id} [10.0.0.1:1001] disconnected: connection closed by client.`,
      );
      expect(run.unparsed).toEqual([]);
      expect(run.events.map((e) => [e.type, e.clientId, e.reason, e.port])).toEqual([
        ["connected", id, null, 1000],
        ["messages_dropped", id, null, 1000],
        ["disconnected", id, "takenover", 1000],
        ["connected", id, null, 1001],
        ["disconnected", id, "tcp_closed", 1001],
      ]);
    }
  });

  it("answers quickly for a 65,535-byte ClientID and for 100,000-character lines built to make regexes backtrack", () => {
    const long = "x".repeat(65_535);
    const lines = [
      `1800000000: New client connected from 10.0.0.1:1000 as ${long} (p2, c1, k60, u'${long}').`,
      `1800000000: New client connected from 10.0.0.1:1000 as ${" (p2, c1, k6, u'".repeat(6_500)}').`,
      `1800000000: New client connected from 10.0.0.1:1000 as ${" (p2, c1, k6".repeat(8_500)}).`,
      `1800000000: New client connected from ${":1 as ".repeat(16_000)}`,
      `1800000000: Client ${"] disconnected".repeat(7_000)}`,
      `1800000000: Client ${" [1.2.3.4:5] disconnected: x".repeat(3_500)}`,
      `1800000000: Client ${" disconnected: ".repeat(6_500)}`,
      `1800000000: Bad socket read/write on client ${": ".repeat(50_000)}`,
      `1800000000: Invalid protocol "${" in CONNECT from ".repeat(6_000)}`,
      `1800000000: Client ${" negotiated ".repeat(8_000)}x cipher`,
      `${"1".repeat(100_000)}: Client x disconnected.`,
      `${": ".repeat(50_000)}`,
      `mosquitto version ${"1".repeat(100_000)} `,
      "\u{1F680}".repeat(50_000),
    ];
    for (const line of lines) {
      const dialect = createMosquittoDialect();
      const started = performance.now();
      const out = dialect.parse(LOG, utf8.encode(line), RECEIVED);
      expect(performance.now() - started).toBeLessThan(250);
      expect(out.events.length + out.unparsed.length).toBeGreaterThan(0);
    }
  });
});

describe("$SYS statistics quirks", () => {
  it("never reports a negative connection count when clients/disconnected goes negative (#2466)", () => {
    const dialect = createMosquittoDialect();
    const t = at(1800000000);
    const out = [
      sys(dialect, "clients/disconnected", "-8726", t),
      sys(dialect, "clients/inactive", "-8726", t),
      sys(dialect, "clients/connected", "-1", t),
      sys(dialect, "clients/total", "-3", t),
    ];
    const samples = out.flatMap((o) => o.samples);
    expect(samples.map((s) => [s.metric, s.value])).toEqual([
      ["mqtt_connections_current", 0],
      ["mqtt_sessions", 0],
    ]);
    expect(out.flatMap((o) => o.unparsed)).toEqual([]);
  });

  it("does not report a negative rate when the broker restarts and its counters start again from zero", () => {
    const dialect = createMosquittoDialect();
    const rates: number[] = [];
    const feed = (second: number, uptime: number, received: number) => {
      const t = at(1800000000 + second);
      for (const o of [
        sys(dialect, "uptime", `${uptime} seconds`, t),
        sys(dialect, "publish/messages/received", String(received), t),
      ]) {
        rates.push(...values(o.samples, "mqtt_messages_received_per_second"));
      }
    };
    feed(0, 1000, 50_000);
    feed(10, 1010, 50_500);
    feed(20, 3, 40); // restarted: uptime went back, the counter too
    feed(30, 13, 140);
    // without the uptime going back (a missed restart), CounterRates reads the drop as a reset
    feed(40, 23, 10);
    expect(rates).toEqual([50, 10, 1]);
    expect(rates.every((r) => r >= 0)).toBe(true);
  });

  it("reads a quiet counter as 0/s: Mosquitto only republishes values that changed", () => {
    const dialect = createMosquittoDialect();
    const rates: Array<[number, number]> = [];
    const collect = (o: DialectOutput) =>
      rates.push(
        ...o.samples
          .filter((s) => s.metric === "mqtt_bytes_sent_per_second")
          .map((s): [number, number] => [s.ts.getTime() / 1000 - 1800000000, s.value]),
      );
    collect(sys(dialect, "uptime", "100 seconds", at(1800000000)));
    collect(sys(dialect, "bytes/sent", "1000", at(1800000000)));
    collect(sys(dialect, "uptime", "110 seconds", at(1800000010)));
    collect(sys(dialect, "bytes/sent", "2000", at(1800000010)));
    collect(sys(dialect, "uptime", "120 seconds", at(1800000020))); // republished in the update at 10: its rate is already out
    collect(sys(dialect, "uptime", "130 seconds", at(1800000030))); // absent from the update at 20: unchanged since 10
    collect(sys(dialect, "uptime", "140 seconds", at(1800000040)));
    collect(sys(dialect, "bytes/sent", "2500", at(1800000040)));
    expect(rates).toEqual([
      [10, 100],
      [20, 0],
      [30, 0],
      [40, 50],
    ]);
  });

  it("counts queued messages as the store count minus retained, and falls back to the store count while retained is unknown", () => {
    const dialect = createMosquittoDialect();
    const queued: number[] = [];
    const collect = (o: DialectOutput) => queued.push(...values(o.samples, "mqtt_queued_messages"));
    collect(sys(dialect, "uptime", "1 seconds", at(1800000000)));
    collect(sys(dialect, "store/messages/count", "5000", at(1800000000)));
    collect(sys(dialect, "messages/stored", "5000", at(1800000000))); // deprecated alias: ignored
    collect(sys(dialect, "uptime", "11 seconds", at(1800000010))); // no retained count yet
    collect(sys(dialect, "store/messages/count", "5400", at(1800000010)));
    collect(sys(dialect, "retained messages/count", "400", at(1800000010)));
    collect(sys(dialect, "retained messages/count", "9000", at(1800000020)));
    expect(queued).toEqual([5000, 5000, 0]);
  });

  it("records beside each queued count the least and the most of it that were messages in flight to brokerwatch itself", () => {
    const dialect = createMosquittoDialect();
    const seen = (o: DialectOutput) => o.samples.map((s) => [s.metric, s.value, s.ts.getTime() / 1000 - 1800000000]);
    const count = (second: number, stored: string, own?: OwnInFlight) => {
      const t = at(1800000000 + second);
      dialect.parse("$SYS/broker/store/messages/count", utf8.encode(stored), t, own && (() => own));
      return seen(sys(dialect, "retained messages/count", "40", t));
    };
    const times = (n: number, message: OwnMessage) => Array.from({ length: n }, () => message);
    const logLine = { topic: "$SYS/broker/log/N", superseded: false };
    const current = { topic: "$SYS/broker/clients/connected", superseded: false };
    const replaced = { topic: "$SYS/broker/clients/connected", superseded: true };
    sys(dialect, "uptime", "1 seconds", at(1800000000));
    // hundreds of log lines received and not yet committed, and this update's $SYS values (still
    // the retained ones: counted as retained, not queued) and one the update replaced (queued now)
    const inFlight: OwnInFlight = {
      unacknowledged: [...times(300, logLine), ...times(30, current), replaced],
      // acknowledged just before: the broker may have counted before it read those PUBACKs
      acknowledgedRecently: [...times(120, logLine), ...times(25, current)],
    };
    expect(count(0, "1000", inFlight)).toEqual([
      ["mqtt_retained_messages", 40, 0],
      ["mqtt_queued_messages", 960, 0],
      ["mqtt_queued_own_messages", 301, 0],
      ["mqtt_queued_own_max_messages", 421, 0],
    ]);
    // only current $SYS values in flight: none of the queued count is ours
    expect(count(1, "45", { unacknowledged: times(38, current), acknowledgedRecently: [] }).slice(1)).toEqual([
      ["mqtt_queued_messages", 5, 1],
      ["mqtt_queued_own_messages", 0, 1],
      ["mqtt_queued_own_max_messages", 0, 1],
    ]);
    // never more of it ours than the count
    expect(count(2, "50", inFlight).slice(2)).toEqual([
      ["mqtt_queued_own_messages", 10, 2],
      ["mqtt_queued_own_max_messages", 10, 2],
    ]);
    // a count read without a live connection (a replay) says nothing about our own
    expect(count(3, "1000").map(([m]) => m)).toEqual(["mqtt_retained_messages", "mqtt_queued_messages"]);
  });

  it("emits an unchanged store count again at the next update, with what brokerwatch had in flight as that update began", () => {
    const dialect = createMosquittoDialect();
    const logLines = (n: number): OwnInFlight => ({
      unacknowledged: Array.from({ length: n }, () => ({ topic: "$SYS/broker/log/N", superseded: false })),
      acknowledgedRecently: [],
    });
    const queued: Array<[string, number, number]> = [];
    const feed = (second: number, topic: string, payload: string, inFlight: number) => {
      const t = at(1800000000 + second);
      const out = dialect.parse(`$SYS/broker/${topic}`, utf8.encode(payload), t, () => logLines(inFlight));
      for (const s of out.samples)
        if (s.metric.startsWith("mqtt_queued")) queued.push([s.metric, s.value, s.ts.getTime() / 1000 - 1800000000]);
    };
    feed(0, "uptime", "100 seconds", 0);
    // a client published 5 messages for offline devices: its log lines are still in flight to us
    feed(0, "store/messages/count", "52", 7);
    feed(0, "retained messages/count", "40", 7);
    feed(10, "uptime", "110 seconds", 0); // quiet: nothing in flight; the count did not change
    feed(20, "uptime", "120 seconds", 0);
    expect(queued).toEqual([
      ["mqtt_queued_messages", 12, 0],
      ["mqtt_queued_own_messages", 7, 0],
      ["mqtt_queued_own_max_messages", 7, 0],
      ["mqtt_queued_messages", 12, 10],
      ["mqtt_queued_own_messages", 0, 10],
      ["mqtt_queued_own_max_messages", 0, 10],
    ]);
  });

  it("keeps a malformed value of a metric topic as unparsed and never emits NaN", () => {
    const dialect = createMosquittoDialect();
    for (const [topic, payload] of [
      ["uptime", "ten seconds"],
      ["clients/connected", "NaN"],
      ["heap/current", "-5"],
      ["bytes/sent", "1e999"],
      ["subscriptions/count", ""],
      ["version", "emqx 5.8"],
    ]) {
      const out = sys(dialect, topic, payload, RECEIVED);
      expect(out.samples).toEqual([]);
      expect(out.unparsed).toEqual([
        { receivedAt: RECEIVED, topic: `$SYS/broker/${topic}`, raw: payload, error: expect.any(String) },
      ]);
    }
  });

  it("ignores known topics it has no metric for, without calling them unparsed", () => {
    const dialect = createMosquittoDialect();
    for (const [topic, payload] of [
      ["$SYS/broker/load/messages/received/1min", "1.97"],
      ["$SYS/broker/clients/expired", "3"],
      ["$SYS/broker/clients/maximum", "12"],
      ["$SYS/broker/heap/maximum", "50088"],
      ["$SYS/broker/connection/bridge-01/state", "1"],
      ["$SYS/broker/log/M/subscribe", "1795346727: capture 0 $SYS/#"],
      ["$SYS/broker/log/M/unsubscribe", "1795346727: capture $SYS/#"],
    ]) {
      expect(dialect.parse(topic, utf8.encode(payload), RECEIVED)).toEqual({ samples: [], events: [], unparsed: [] });
    }
  });
});

describe("log line prefixes and unknown lines", () => {
  it("takes the time from the default epoch prefix, else from when the line was received", () => {
    const dialect = createMosquittoDialect();
    const times = [
      "1800000000: Client a disconnected.",
      "Client b disconnected.", // log_timestamp false
      "2026-03-01T10:15:00: Client c disconnected.", // log_timestamp_format %Y-%m-%dT%H:%M:%S
      "Time error: Client d disconnected.", // strftime failed
      "20260301: Client e disconnected.", // an all-digit custom prefix is not an epoch
    ].map((line) => logs(dialect, line).events[0]);
    expect(times.map((e) => [e.clientId, e.ts.toISOString()])).toEqual([
      ["a", at(1800000000).toISOString()],
      ["b", RECEIVED.toISOString()],
      ["c", RECEIVED.toISOString()],
      ["d", RECEIVED.toISOString()],
      ["e", RECEIVED.toISOString()],
    ]);
  });

  it("keeps an unrecognised log line as unparsed with its raw text, and known informational lines as nothing", () => {
    const dialect = createMosquittoDialect();
    const unknown = logs(
      dialect,
      "1800000000: Warning: Unable to set TCP_NODELAY.",
      "1800000000: Client x disconnected",
    );
    expect(unknown.unparsed.map((u) => [u.topic, u.raw, u.error])).toEqual([
      [LOG, "1800000000: Warning: Unable to set TCP_NODELAY.", "unrecognised log line"],
      [LOG, "1800000000: Client x disconnected", "unrecognised log line"],
    ]);
    const quiet = logs(
      dialect,
      "1800000000: mosquitto version 2.0.22 running",
      "1800000000: mosquitto version 2.0.22 terminating",
      "1800000000: Config loaded from /etc/mosquitto/mosquitto.conf.",
      "1800000000: Opening ipv4 listen socket on port 1883.",
      "1800000000: Opening ipv6 listen socket on port 1883.",
      "1800000000: Saving in-memory database to /var/lib/mosquitto/mosquitto.db.",
      "1800000000: Reloading config.",
      "1800000000: Expiring client old-durable due to timeout.",
      "1800000000: Client tls-1 negotiated TLSv1.3 cipher TLS_AES_256_GCM_SHA384",
      "1800000000: New connection from 10.0.0.1:5000 on port 1883.",
    );
    expect(quiet).toMatchObject({ events: [], unparsed: [], samples: [] });
  });
});

/** mulberry32: a seeded generator, so a failing fuzz case can be replayed */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

describe("fuzz", () => {
  it("never throws, accounts for every input, and never emits NaN, Infinity or a negative value", () => {
    const random = seeded(0x5eed_2026);
    const int = (n: number) => Math.floor(random() * n);
    const pick = <T>(items: readonly T[]): T => items[int(items.length)];
    const real = [
      ...fixture("mosquitto-2.0.11/sys-and-log-anonymous.txt"),
      ...fixture("mosquitto-2.0.11/log-with-auth.txt"),
      ...fixture("mosquitto-synthetic/synthetic-2.1.2-log.txt"),
    ];
    const realLogs = real.filter((m) => m.topic.startsWith("$SYS/broker/log/"));
    const inserts = [
      "\u0000",
      "\uFFFD",
      "é",
      "日本",
      "👩‍🚀",
      "'",
      ")",
      "(",
      " as ",
      ": ",
      "] disconnected",
      " (p2, c1, k60)",
      ", u'",
      "<unknown>",
      "\n",
      " ",
      ".",
    ];
    const metricTopics = [
      "uptime",
      "version",
      "clients/connected",
      "clients/total",
      "clients/disconnected",
      "subscriptions/count",
      "retained messages/count",
      "store/messages/count",
      "publish/messages/received",
      "publish/messages/sent",
      "publish/messages/dropped",
      "bytes/received",
      "bytes/sent",
      "heap/current",
      "load/bytes/sent/1min",
      "toString",
      "__proto__",
    ].map((t) => `$SYS/broker/${t}`);
    const numbers = [
      "0",
      "7",
      "-1",
      "-8726",
      "18446744073709551615",
      "1.5",
      "NaN",
      "Infinity",
      "1e999",
      "",
      " 5",
      "5 ",
      "-0",
      "12 seconds",
      "0x10",
      "９",
    ];

    const mutate = (text: string): string => {
      const at = int(text.length + 1);
      switch (int(6)) {
        case 0:
          return text.slice(0, at);
        case 1:
          return text.slice(0, at) + pick(inserts) + text.slice(at);
        case 2: {
          const other = int(text.length);
          const chars = [...text];
          [chars[at], chars[other]] = [chars[other], chars[at]];
          return chars.join("");
        }
        case 3:
          return text.slice(0, at) + text.slice(at + 1 + int(10));
        case 4:
          return (
            text.slice(0, at) + String.fromCodePoint(int(0x110000)).replace(/[\uD800-\uDFFF]/g, "") + text.slice(at)
          );
        default:
          return text.slice(0, at) + text.slice(int(text.length));
      }
    };
    const randomBytes = () => Uint8Array.from({ length: int(64) }, () => int(256));

    const dialect = createMosquittoDialect();
    const tally = {
      "log line read": 0,
      "log line unparsed": 0,
      "log topic ignored": 0,
      "metric read": 0,
      "metric unparsed": 0,
      "topic ignored": 0,
    };
    const inputs = 5_000;
    const decoder = new TextDecoder();
    for (let i = 0; i < inputs; i++) {
      let topic: string;
      let payload: Uint8Array;
      const kind = int(10);
      if (kind < 6) {
        const source = pick(realLogs);
        topic = random() < 0.05 ? "$SYS/broker/log/M/subscribe" : source.topic;
        let text = source.payload;
        for (let n = 1 + int(3); n > 0; n--) text = mutate(text);
        payload = random() < 0.1 ? randomBytes() : utf8.encode(text);
      } else if (kind < 9) {
        topic = pick(metricTopics);
        const roll = int(4);
        payload = roll === 0 ? randomBytes() : utf8.encode(roll === 1 ? mutate(pick(numbers)) : pick(numbers));
      } else {
        topic = pick([...real.map((m) => m.topic), "$SYS/broker", "$SYS/brokers/x/uptime", "plain/topic", ""]);
        payload = utf8.encode(mutate(pick(real).payload));
      }
      const receivedAt = new Date(1_800_000_000_000 + i * 250);

      const out = dialect.parse(topic, payload, receivedAt);

      for (const s of out.samples) {
        expect(Number.isFinite(s.value), `${s.metric} = ${s.value}`).toBe(true);
        expect(s.value).toBeGreaterThanOrEqual(0);
        expect(Number.isNaN(s.ts.getTime())).toBe(false);
      }
      for (const e of out.events) {
        expect(EVENT_TYPES).toContain(e.type);
        if (e.reason !== null) expect(DISCONNECT_REASONS).toContain(e.reason);
        expect(Number.isNaN(e.ts.getTime())).toBe(false);
        if (e.sessionSeconds !== null) expect(e.sessionSeconds).toBeGreaterThanOrEqual(0);
      }

      const text = decoder.decode(payload);
      const mine = out.unparsed.filter((u) => u.topic === topic && u.raw === text);
      if (topic.startsWith("$SYS/broker/log/M/")) {
        tally["log topic ignored"]++;
        expect(out.unparsed).toEqual([]);
      } else if (topic.startsWith("$SYS/broker/log/")) {
        // every log line is either one the grammar knows, or kept verbatim as unparsed: never dropped
        const known = readMosquittoLogPayload(text, null) !== null;
        expect(mine, JSON.stringify(text)).toHaveLength(known ? 0 : 1);
        tally[known ? "log line read" : "log line unparsed"]++;
      } else if (metricTopics.includes(topic) && !/load|disconnected|toString|__proto__/.test(topic)) {
        tally[mine.length ? "metric unparsed" : "metric read"]++;
      } else {
        expect(out.unparsed).toEqual([]);
        expect(out.samples).toEqual([]);
        tally["topic ignored"]++;
      }
    }
    expect(Object.values(tally).reduce((a, b) => a + b, 0)).toBe(inputs);
    // the generator really exercised each path
    for (const [path, count] of Object.entries(tally)) expect(count, path).toBeGreaterThan(20);
  });
});
