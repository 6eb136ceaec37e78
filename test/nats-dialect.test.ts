import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { createDialect } from "@/lib/collector/index";
import {
  NATS_CLIENT_CLOSED_NOTE,
  NATS_CONNZ_CLOSED,
  NATS_CONNZ_OPEN,
  NATS_HEALTHZ,
  NATS_JSZ,
  NATS_READ_ERROR_NOTE,
  NATS_VARZ,
  noteOf,
} from "@/lib/collector/nats";
import type { ConnectionEvent, DialectOutput } from "@/lib/collector/types";

/**
 * The nats dialect as a pure transform, on answers captured from a real nats-server 2.9.10
 * (test/fixtures/nats-2.9, made by capture.ts there): the monitoring port's JSON and the system
 * account's events for a normal disconnect, a FIN, an RST, a keepalive timeout, a takeover and a
 * bad password.
 */
const dir = path.join(__dirname, "fixtures", "nats-2.9");
const fixture = (name: string) => readFileSync(path.join(dir, name));
const at = new Date("2026-12-07T22:21:37Z");
const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

function byClient(out: DialectOutput): Map<string, ConnectionEvent[]> {
  const map = new Map<string, ConnectionEvent[]>();
  for (const e of out.events) map.set(e.clientId ?? "", [...(map.get(e.clientId ?? "") ?? []), e]);
  return map;
}

function everything(out: DialectOutput): string {
  return JSON.stringify(out);
}

describe("nats dialect (captured from nats-server 2.9.10)", () => {
  it("reads every close reason of /connz?state=closed into our vocabulary, with ClientIDs", () => {
    const out = createDialect("nats").parse(NATS_CONNZ_CLOSED, fixture("connz-closed.json"), at);
    expect(out.unparsed).toEqual([]);
    const events = byClient(out);
    const ends = (id: string) => events.get(id)!.filter((e) => e.type !== "connected");
    expect(ends("bw-normal")).toMatchObject([{ type: "disconnected", reason: "tcp_closed", address: "127.0.0.1" }]);
    expect(ends("bw-fin")).toMatchObject([{ type: "disconnected", reason: "tcp_closed" }]);
    expect(ends("bw-rst")).toMatchObject([{ type: "disconnected", reason: "socket_error" }]);
    expect(ends("bw-keepalive")).toMatchObject([{ type: "disconnected", reason: "socket_error" }]);
    expect(ends("bw-takeover")).toMatchObject([{ type: "disconnected", reason: "takenover" }]);
    expect(events.get("bw-badpass")).toMatchObject([{ type: "connect_failed", reason: "not_authorized", username: "mqttuser" }]);
    // a closed connection whose start was never seen gets its connected too, at its start
    const normal = events.get("bw-normal")!;
    expect(normal.map((e) => e.type)).toEqual(["connected", "disconnected"]);
    expect(normal[1].sessionSeconds).toBeGreaterThanOrEqual(0);
    expect(normal[0].ts.getTime()).toBeLessThanOrEqual(normal[1].ts.getTime());
  });

  it("says in the event where NATS cannot tell two causes apart", () => {
    const events = byClient(createDialect("nats").parse(NATS_CONNZ_CLOSED, fixture("connz-closed.json"), at));
    const end = (id: string) => events.get(id)!.find((e) => e.type === "disconnected")!;
    expect(noteOf(end("bw-normal"))).toBe(NATS_CLIENT_CLOSED_NOTE);
    expect(noteOf(end("bw-fin"))).toBe(NATS_CLIENT_CLOSED_NOTE);
    expect(noteOf(end("bw-keepalive"))).toBe(NATS_READ_ERROR_NOTE);
    expect(noteOf(end("bw-takeover"))).toMatch(/discarded is never reported/);
  });

  it("never keeps the jwt field, which carries the MQTT password on 2.9", () => {
    const raw = [fixture("connz-closed.json"), fixture("connz-open.json")].map(String).join("") + String(fixture("sys-events.json"));
    expect(raw).toContain('"jwt"'); // the capture has it
    expect(raw).toContain("mqttpass");
    const dialect = createDialect("nats");
    const outs = [
      dialect.parse(NATS_CONNZ_OPEN, fixture("connz-open.json"), at),
      dialect.parse(NATS_CONNZ_CLOSED, fixture("connz-closed.json"), at),
      ...(JSON.parse(String(fixture("sys-events.json"))) as { subject: string; data: unknown }[]).map((e) =>
        createDialect("nats").parse(e.subject, bytes(e.data), at),
      ),
      // unreadable payloads are kept as unparsed: still without the password
      dialect.parse("$SYS.ACCOUNT.APP.CONNECT", bytes({ client: { jwt: "mqttpass" } }), at),
      dialect.parse(NATS_VARZ, new TextEncoder().encode('{"jwt":"mqttpass", broken'), at),
    ];
    for (const out of outs) {
      expect(everything(out)).not.toContain("mqttpass");
      expect(everything(out)).not.toContain("jwt\\\":\\\"wrong");
    }
    expect(outs.at(-1)!.unparsed).toHaveLength(1);
    expect(outs.at(-2)!.unparsed).toHaveLength(1);
  });

  it("turns the system account's events into the same events, with the same identity as /connz", () => {
    const events = JSON.parse(String(fixture("sys-events.json"))) as { subject: string; data: unknown }[];
    const pushed = createDialect("nats");
    const out = events.map((e) => pushed.parse(e.subject, bytes(e.data), at));
    const fromPush = out.flatMap((o) => o.events);
    expect(out.flatMap((o) => o.unparsed)).toEqual([]);
    const kinds = fromPush.map((e) => `${e.clientId}:${e.type}:${e.reason ?? ""}`);
    expect(kinds).toContain("bw-normal:connected:");
    expect(kinds).toContain("bw-normal:disconnected:tcp_closed");
    expect(kinds).toContain("bw-keepalive:disconnected:socket_error");
    expect(kinds).toContain("bw-takeover:disconnected:takenover");
    expect(kinds).toContain("bw-badpass:connect_failed:not_authorized");
    // the server's SHUTDOWN ends the connections still open (no DISCONNECT follows it)
    expect(fromPush.filter((e) => e.reason === "kicked")).toEqual([]); // both left before it
    // the same ended connection read from /connz: same ts and raw (so the same event_key)
    const polled = createDialect("nats").parse(NATS_CONNZ_CLOSED, fixture("connz-closed.json"), at).events;
    const key = (e: ConnectionEvent) => `${e.type}|${e.ts.toISOString()}|${e.raw}`;
    const pushedKeys = new Set(fromPush.map(key));
    const keepalive = polled.filter((e) => e.clientId === "bw-keepalive");
    expect(keepalive).toHaveLength(2);
    for (const e of keepalive) expect(pushedKeys).toContain(key(e));
  });

  it("produces each event once when both sources tell it", () => {
    const dialect = createDialect("nats");
    const events = JSON.parse(String(fixture("sys-events.json"))) as { subject: string; data: unknown }[];
    const first = events.flatMap((e) => dialect.parse(e.subject, bytes(e.data), at).events);
    const again = dialect.parse(NATS_CONNZ_CLOSED, fixture("connz-closed.json"), at).events;
    expect(first.length).toBeGreaterThan(5);
    expect(again).toEqual([]);
  });

  it("ends the open sessions with kicked on the server's SHUTDOWN, saying it was inferred", () => {
    const dialect = createDialect("nats");
    const open = dialect.parse(NATS_CONNZ_OPEN, fixture("connz-open.json"), at);
    // the system account's own NATS connection is not an MQTT client
    expect(open.events.map((e) => e.clientId).sort()).toEqual(["bw-open", "bw-takeover"]);
    const shutdown = (JSON.parse(String(fixture("sys-events.json"))) as { subject: string; data: unknown }[]).find((e) =>
      e.subject.endsWith(".SHUTDOWN"),
    )!;
    const ends = dialect.parse(shutdown.subject, bytes(shutdown.data), at).events;
    expect(ends.map((e) => `${e.clientId}:${e.reason}`).sort()).toEqual(["bw-open:kicked", "bw-takeover:kicked"]);
    expect(noteOf(ends[0])).toMatch(/inferred/);
  });

  it("reads /varz and /jsz into metrics, and /healthz into the heartbeat", () => {
    const dialect = createDialect("nats");
    const varz = dialect.parse(NATS_VARZ, fixture("varz.json"), at);
    const value = (out: DialectOutput, metric: string) => out.samples.find((s) => s.metric === metric)?.value;
    expect(varz.version).toBe("2.9.10");
    expect(value(varz, "mqtt_connections_current")).toBe(3);
    expect(value(varz, "mqtt_connections_max")).toBe(65536);
    expect(value(varz, "mqtt_memory_bytes")).toBeGreaterThan(1_000_000);
    expect(value(varz, "mqtt_slow_consumers_total")).toBe(0);
    expect(value(varz, "mqtt_broker_uptime_seconds")).toBeGreaterThan(0);
    // a rate needs two readings
    expect(value(varz, "mqtt_messages_received_per_second")).toBeUndefined();
    const v = JSON.parse(String(fixture("varz.json")));
    const later = { ...v, in_msgs: v.in_msgs + 50, in_bytes: v.in_bytes + 1650, now: new Date(new Date(v.now).getTime() + 10_000).toISOString() };
    const second = dialect.parse(NATS_VARZ, bytes(later), at);
    expect(value(second, "mqtt_messages_received_per_second")).toBeCloseTo(5);
    expect(value(second, "mqtt_bytes_received_per_second")).toBeCloseTo(165);
    const jsz = dialect.parse(NATS_JSZ, fixture("jsz.json"), at);
    expect(value(jsz, "mqtt_sessions")).toBe(2);
    expect(value(jsz, "mqtt_retained_messages")).toBe(1);
    expect(value(jsz, "mqtt_queued_messages")).toBe(0);
    expect(dialect.parse(NATS_HEALTHZ, fixture("healthz.json"), at).heartbeat).toBeDefined();
    const sick = dialect.parse(NATS_HEALTHZ, bytes({ status: "unavailable", error: "JetStream not current" }), at);
    expect(sick.heartbeat).toBeUndefined();
    expect(sick.unparsed[0].error).toBe("/healthz says unavailable: JetStream not current");
  });

  it("records a refused flapping newcomer as connect_failed while the connection that took over stays", () => {
    const dialect = createDialect("nats");
    const serverId = "NTEST";
    const open = { server_id: serverId, connections: [{ cid: 50, type: "mqtt", mqtt_client: "flap", start: "2026-12-07T20:00:00Z" }] };
    dialect.parse(NATS_CONNZ_OPEN, bytes(open), at);
    const closed = {
      server_id: serverId,
      connections: [{ cid: 51, type: "mqtt", mqtt_client: "flap", start: "2026-12-07T20:00:00.1Z", stop: "2026-12-07T20:00:01.1Z", reason: "Duplicate Client ID" }],
    };
    const out = dialect.parse(NATS_CONNZ_CLOSED, bytes(closed), at);
    expect(out.events).toMatchObject([{ type: "connect_failed", reason: "takenover", clientId: "flap" }]);
  });

  it("forgets connections when the server_id changes (a restart: cids start over)", () => {
    const dialect = createDialect("nats");
    const entry = { cid: 7, type: "mqtt", mqtt_client: "c", start: "2026-12-07T20:00:00Z" };
    expect(dialect.parse(NATS_CONNZ_OPEN, bytes({ server_id: "A", connections: [entry] }), at).events).toHaveLength(1);
    expect(dialect.parse(NATS_CONNZ_OPEN, bytes({ server_id: "A", connections: [entry] }), at).events).toHaveLength(0);
    expect(dialect.parse(NATS_CONNZ_OPEN, bytes({ server_id: "B", connections: [entry] }), at).events).toHaveLength(1);
  });
});
