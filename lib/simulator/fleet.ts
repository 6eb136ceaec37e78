/**
 * The fleet simulator's runner: one MQTT connection per simulated device (mqtt.js, or a bare
 * socket where a misbehaving device needs one), each group behaving as its scenario says. Every
 * event a monitor records from it really happens on the broker: nothing is written to brokerwatch
 * directly. What each behaviour reproduces is in docs/simulator.md.
 */
import net from "node:net";
import mqtt, { type MqttClient } from "mqtt";
import mqttPacket from "mqtt-packet";
import { drawSeconds, planDevices, telemetryTopic, type DevicePlan, type Scenario } from "./scenario";

export interface FleetStats {
  devices: number;
  /** devices with an open MQTT session right now */
  connected: number;
  connects: number;
  /** sessions that ended, by whom */
  leftByDevice: number;
  closedByBroker: number;
  keepaliveDrops: number;
  idleCuts: number;
  authFailures: number;
  /** bad-credentials devices the broker let in (it allows anonymous clients) */
  authAccepted: number;
  messages: number;
  storms: number;
  errors: number;
}

export interface FleetOptions {
  url: string;
  /** multiplies the size of steady groups */
  scale?: number;
  random?: () => number;
}

export interface Fleet {
  stats(): FleetStats;
  /** every connected device drops at once and comes back over `spreadSeconds` */
  storm(spreadSeconds: number): void;
  stop(): Promise<void>;
}

interface Device {
  plan: DevicePlan;
  connected: boolean;
  /** set while the device itself is ending its session, so the close is not the broker's */
  leaving: boolean;
  timers: Set<NodeJS.Timeout>;
  close(): void;
  /** drop the connection without DISCONNECT and come back after `delaySeconds` */
  drop(delaySeconds: number): void;
}

const RECONNECT_AFTER_CLOSE: readonly [number, number] = [0.3, 3];

export function startFleet(scenario: Scenario, opts: FleetOptions): Fleet {
  const random = opts.random ?? Math.random;
  const url = new URL(opts.url);
  const port = Number(url.port || 1883);
  const host = url.hostname;
  const stats: FleetStats = {
    devices: 0,
    connected: 0,
    connects: 0,
    leftByDevice: 0,
    closedByBroker: 0,
    keepaliveDrops: 0,
    idleCuts: 0,
    authFailures: 0,
    authAccepted: 0,
    messages: 0,
    storms: 0,
    errors: 0,
  };
  let stopped = false;
  const devices: Device[] = [];
  const fleetTimers = new Set<NodeJS.Timeout>();

  function later(timers: Set<NodeJS.Timeout>, seconds: number, fn: () => void): void {
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!stopped) fn();
    }, Math.max(0, seconds * 1000));
    timers.add(timer);
  }

  function mqttDevice(plan: DevicePlan, onSession: (device: Device, client: MqttClient) => void, reconnectRange = RECONNECT_AFTER_CLOSE) {
    const group = plan.group;
    let client: MqttClient | null = null;
    let nextDelay: number | null = null;
    const device: Device = {
      plan,
      connected: false,
      leaving: false,
      timers: new Set(),
      close() {
        for (const t of device.timers) clearTimeout(t);
        device.timers.clear();
        client?.end(true);
      },
      drop(delaySeconds) {
        if (!client || !device.connected) return;
        nextDelay = delaySeconds;
        device.leaving = true;
        client.stream.destroy();
      },
    };
    const connect = () => {
      device.leaving = false;
      const c = mqtt.connect({
        host,
        port,
        protocol: "mqtt",
        clientId: plan.clientId,
        keepalive: group.keepalive,
        clean: group.behaviour !== "slow-subscriber",
        reconnectPeriod: 0,
        connectTimeout: 15_000,
        username: group.username,
        password: group.password,
        protocolVersion: 4,
      });
      client = c;
      c.on("connect", () => {
        device.connected = true;
        stats.connected++;
        stats.connects++;
        onSession(device, c);
      });
      c.on("error", (error: Error & { code?: number }) => {
        if (error.code === 4 || error.code === 5 || error.code === 0x86 || error.code === 0x87) stats.authFailures++;
        else stats.errors++;
      });
      c.on("close", () => {
        if (device.connected) {
          device.connected = false;
          stats.connected--;
          if (device.leaving) stats.leftByDevice++;
          else stats.closedByBroker++;
        }
        c.removeAllListeners();
        c.on("error", () => {});
        for (const t of device.timers) clearTimeout(t);
        device.timers.clear();
        if (stopped) return;
        const delay = nextDelay ?? drawSeconds(reconnectRange, random);
        nextDelay = null;
        later(device.timers, delay, connect);
      });
    };
    devices.push(device);
    return { device, connect, setNextDelay: (s: number) => (nextDelay = s) };
  }

  function startTelemetry(device: Device, client: MqttClient): void {
    const telemetry = device.plan.group.telemetry;
    if (!telemetry) return;
    const topic = telemetryTopic(telemetry.topic, device.plan.clientId);
    let seq = 0;
    const publish = () => {
      if (!device.connected) return;
      const body = JSON.stringify({ ts: Date.now(), seq: seq++, value: Math.round(random() * 10_000) / 100 });
      client.publish(topic, body.padEnd(telemetry.bytes, " "), { qos: 1 });
      stats.messages++;
      later(device.timers, telemetry.every, publish);
    };
    // spread the fleet's publications over the interval instead of a burst on the same tick
    later(device.timers, random() * telemetry.every, publish);
  }

  function startDevice(plan: DevicePlan): void {
    const group = plan.group;
    switch (group.behaviour) {
      case "steady": {
        const { connect } = mqttDevice(plan, startTelemetry);
        connect();
        return;
      }
      case "flapping": {
        const up = group.up ?? [5, 20];
        const down = group.down ?? [1, 4];
        const { connect, setNextDelay } = mqttDevice(plan, (device, client) => {
          startTelemetry(device, client);
          later(device.timers, drawSeconds(up, random), () => {
            device.leaving = true;
            setNextDelay(drawSeconds(down, random));
            if (group.leave === "disconnect") client.end();
            else client.stream.destroy();
          });
        });
        connect();
        return;
      }
      case "shared-client-id": {
        // Two devices flashed with one ClientID: each connect takes the session over from the
        // other, and each comes back after its own retry delay (2.5 s and 3.8 s), alternating.
        for (const retry of [2.5, 3.8]) {
          const { connect } = mqttDevice(plan, startTelemetry, [retry, retry]);
          later(fleetTimers, retry / 3, connect);
        }
        return;
      }
      case "keepalive-timeout":
        keepaliveDevice(plan);
        return;
      case "bad-credentials":
        badCredentialsDevice(plan);
        return;
      case "idle-timeout": {
        const every = group.every!;
        const { connect } = mqttDevice(
          plan,
          (device, client) => {
            later(device.timers, every, () => {
              stats.idleCuts++;
              device.leaving = true; // counted as an idle cut, not as the broker closing it
              client.stream.destroy();
            });
          },
          [0.2, 0.2],
        );
        connect();
        return;
      }
      case "slow-subscriber": {
        const { connect } = mqttDevice(plan, (device, client) => {
          client.subscribe(group.subscribe!, { qos: 1 }, () => {
            // Stop reading: the broker's outgoing queue for this session grows until it drops.
            later(device.timers, 1, () => client.stream.pause());
          });
        });
        connect();
        return;
      }
    }
  }

  /** A device that connects with a keepalive and then never sends PINGREQ: the broker must drop it. */
  function keepaliveDevice(plan: DevicePlan): void {
    const group = plan.group;
    const keepalive = Math.min(group.keepalive, 30);
    const device: Device = {
      plan,
      connected: false,
      leaving: false,
      timers: new Set(),
      close() {
        for (const t of device.timers) clearTimeout(t);
        socket?.destroy();
      },
      drop() {
        socket?.destroy();
      },
    };
    let socket: net.Socket | null = null;
    const connect = () => {
      const s = net.connect(port, host);
      socket = s;
      s.on("error", () => {});
      const parser = mqttPacket.parser({ protocolVersion: 4 });
      parser.on("packet", (packet) => {
        if (packet.cmd === "connack" && (packet as mqttPacket.IConnackPacket).returnCode === 0) {
          device.connected = true;
          stats.connected++;
          stats.connects++;
        }
      });
      parser.on("error", () => s.destroy());
      s.on("data", (d) => parser.parse(d));
      s.on("connect", () => {
        s.write(
          mqttPacket.generate({
            cmd: "connect",
            protocolId: "MQTT",
            protocolVersion: 4,
            clean: true,
            clientId: plan.clientId,
            keepalive,
            ...(group.username !== undefined ? { username: group.username } : {}),
            ...(group.password !== undefined ? { password: Buffer.from(group.password) } : {}),
          } as mqttPacket.IConnectPacket),
        );
      });
      s.on("close", () => {
        if (device.connected) {
          device.connected = false;
          stats.connected--;
          stats.closedByBroker++;
          stats.keepaliveDrops++;
        }
        if (!stopped) later(device.timers, drawSeconds([1, 3], random), connect);
      });
    };
    devices.push(device);
    connect();
  }

  function badCredentialsDevice(plan: DevicePlan): void {
    const group = plan.group;
    const every = group.every ?? 30;
    const attempt = () => {
      const c = mqtt.connect({
        host,
        port,
        protocol: "mqtt",
        clientId: plan.clientId,
        username: group.username ?? "sim-device",
        password: group.password ?? "not-the-password",
        reconnectPeriod: 0,
        connectTimeout: 15_000,
        protocolVersion: 4,
      });
      c.on("connect", () => {
        stats.authAccepted++;
        c.end(true);
      });
      c.on("error", (error: Error & { code?: number }) => {
        if (error.code === 4 || error.code === 5) stats.authFailures++;
        else stats.errors++;
      });
      c.on("close", () => {
        c.removeAllListeners();
        c.on("error", () => {});
        c.end(true);
      });
      later(fleetTimers, every * (0.8 + 0.4 * random()), attempt);
    };
    later(fleetTimers, random() * 2, attempt);
  }

  const plan = planDevices(scenario, opts.scale ?? 1);
  stats.devices = plan.length;
  plan.forEach((device, i) => later(fleetTimers, i / scenario.connectRate, () => startDevice(device)));

  const fleet: Fleet = {
    stats: () => ({ ...stats }),
    storm(spreadSeconds) {
      stats.storms++;
      for (const device of devices) {
        if (device.plan.group.behaviour === "slow-subscriber" || !device.connected) continue;
        device.drop(random() * spreadSeconds);
      }
    },
    async stop() {
      stopped = true;
      for (const t of fleetTimers) clearTimeout(t);
      for (const device of devices) device.close();
      // give the sockets a turn of the loop to close
      await new Promise((resolve) => setTimeout(resolve, 50));
    },
  };
  if (scenario.storm) {
    const { at, every, spread } = scenario.storm;
    const storm = () => {
      fleet.storm(spread);
      if (every) later(fleetTimers, every, storm);
    };
    later(fleetTimers, at, storm);
  }
  return fleet;
}

/** One progress line: what the fleet is doing right now. */
export function progressLine(s: FleetStats, elapsedSeconds: number): string {
  const n = (v: number) => v.toLocaleString("en-US");
  const parts = [
    `${formatElapsed(elapsedSeconds)}`,
    `${n(s.connected)}/${n(s.devices)} connected`,
    `${n(s.messages)} msgs`,
    `${n(s.connects)} connects`,
    `${n(s.closedByBroker)} closed by broker`,
    `${n(s.keepaliveDrops)} keepalive drops`,
    `${n(s.idleCuts)} idle cuts`,
    `${n(s.authFailures)} auth failures`,
  ];
  if (s.storms) parts.push(`${n(s.storms)} storms`);
  if (s.errors) parts.push(`${n(s.errors)} errors`);
  return parts.join(" · ");
}

function formatElapsed(seconds: number): string {
  const m = Math.floor(seconds / 60);
  const s = Math.floor(seconds % 60);
  return `${m}:${String(s).padStart(2, "0")}`;
}
