import type { DiagnosisEvent } from "@/lib/diagnosis";
import type { DisconnectReason } from "@/lib/events";
import { seededRandom } from "./random";

/**
 * A long, messy history of one ClientID, generated from a seed: the input the trace page gets for
 * a busy client (up to db/clients.ts CLIENT_HISTORY_LIMIT events), with everything the pairing and
 * the diagnosis have to untangle at once — reconnect loops, two devices taking the session from
 * each other (the two lines of a takeover in the same second, in either order), takeovers from the
 * same address, disconnect and connect lines lost, connections closed on a timer, keepalive
 * timeouts, refused logins and dropped messages, on three brokers.
 */
export interface GeneratedHistory {
  /** newest first, as db/clients.ts returns them; some `ts` as ISO strings, as the JSON API gives them */
  events: DiagnosisEvent[];
  /** the time just after the newest event */
  now: Date;
}

const T0 = Date.parse("2026-11-01T00:00:00Z");
const BROKERS = ["plant-a", "plant-b", "plant-c"];
const DEVICES = ["10.0.0.5", "10.0.0.9"];
const ENDS: DisconnectReason[] = ["normal", "tcp_closed", "keepalive_timeout", "protocol_error", "not_authorized"];

/**
 * `timer`: the share of sessions an idle timer ends (tcp_closed at ~350 s); the rest end after a
 * few seconds (a reconnect loop) or at any length, for any reason.
 */
export function generatedHistory(seed: number, { count = 2000, timer = 0.3 } = {}): GeneratedHistory {
  const next = seededRandom(seed);
  const pick = <T>(values: readonly T[]): T => values[Math.floor(next() * values.length)];
  const events: DiagnosisEvent[] = [];
  let t = T0;
  const open = new Map<string, { address: string; port: number; keepalive: number; at: number }>();
  const add = (e: Omit<DiagnosisEvent, "id" | "ts" | "username" | "protocolVersion">) =>
    events.push({ id: 0, ts: new Date(t), username: next() < 0.9 ? "device" : null, protocolVersion: 4, ...e });
  while (events.length < count) {
    // mostly seconds to minutes apart, now and then an hour's silence
    t += 1000 * Math.floor(next() < 0.05 ? 3600 * next() : next() < 0.5 ? 3 * next() : 120 * next());
    const broker = next() < 0.85 ? BROKERS[0] : pick(BROKERS);
    const session = open.get(broker);
    const address = next() < 0.3 ? DEVICES[1] : DEVICES[0];
    const port = 40000 + Math.floor(next() * 500);
    const keepalive = pick([15, 60, 600]);
    const r = next();
    if (r < 0.04) {
      add({
        broker,
        type: "connect_failed",
        reason: "not_authorized",
        address,
        port,
        keepalive: null,
        sessionSeconds: null,
      });
    } else if (r < 0.07) {
      add({ broker, type: "messages_dropped", reason: null, address, port, keepalive, sessionSeconds: null });
    } else if (session && r < 0.55) {
      // a session ending: on a ~350 s timer, after a few seconds, or whenever
      const onTimer = next() < timer;
      const length = onTimer ? 348 + Math.floor(5 * next()) : next() < 0.5 ? Math.floor(5 * next()) : 900 * next();
      t = Math.max(t, session.at + Math.round(length * 1000));
      const reason = onTimer ? "tcp_closed" : pick(ENDS);
      const seconds = (t - session.at) / 1000;
      // 4% of disconnect lines are lost; 4% keep only the disconnect (its connect is lost below)
      if (next() >= 0.04)
        add({ broker, type: "disconnected", reason, ...endpointOf(session), sessionSeconds: seconds });
      open.delete(broker);
    } else {
      const connect = {
        broker,
        type: "connected" as const,
        reason: null,
        address,
        port,
        keepalive,
        sessionSeconds: null,
      };
      if (session) {
        // a takeover: Mosquitto writes the old session's end first, EMQX may write the new connect first
        const reason: DisconnectReason = next() < 0.5 ? "takenover" : "discarded";
        const end = {
          broker,
          type: "disconnected" as const,
          reason,
          ...endpointOf(session),
          // now and then the collector could not tell the old session's address
          address: next() < 0.05 ? null : session.address,
          sessionSeconds: (t - session.at) / 1000,
        };
        if (next() < 0.7) (add(end), add(connect));
        else (add(connect), add(end));
      } else if (next() >= 0.04) add(connect);
      open.set(broker, { address, port, keepalive, at: t });
    }
  }
  events.length = count;
  events.forEach((e, i) => {
    e.id = i + 1;
    if (i % 7 === 3) e.ts = (e.ts as Date).toISOString();
  });
  return { events: events.reverse(), now: new Date(t + 60_000) };
}

function endpointOf(s: { address: string; port: number; keepalive: number }) {
  return { address: s.address, port: s.port, keepalive: s.keepalive };
}
