import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { OverviewView } from "@/components/overview/overview-view";
import type { OverviewSnapshot } from "@/lib/overview/types";
import { anyEventStored } from "@/db/events";
import { insertEvents } from "@/db/ingest";
import { freshDatabase } from "./helpers/db";

/** A first start that teaches: until the first client event, the overview says how to get one. */
function snapshot(gettingStarted: OverviewSnapshot["gettingStarted"]): OverviewSnapshot {
  return {
    generatedAt: "2026-12-07T22:00:00.000Z",
    clusters: [
      {
        name: null,
        nodes: null,
        firingAlerts: 0,
        brokers: [
          {
            name: "bundled",
            status: "up",
            statusSince: "2026-12-07T21:59:00.000Z",
            lastSeenAt: "2026-12-07T22:00:00.000Z",
            downReason: null,
            dialect: "bundled",
            version: "aedes 1.2.0",
            connections: 0,
            maxConnections: null,
            messagesInPerSecond: 0,
            messagesOutPerSecond: 0,
            queuedMessages: 0,
            sessions: 0,
            subscriptions: 0,
            uptimeSeconds: 60,
            firingAlerts: 0,
            nodes: null,
          },
        ],
      },
    ],
    firing: [],
    firingTotal: 0,
    gettingStarted,
    totals: { brokers: 1, up: 1, down: 0, unknown: 0, connections: 0, messagesInPerSecond: 0, messagesOutPerSecond: 0 },
  };
}

describe("overview first steps", () => {
  it("with nothing seen yet: the bundled broker's mosquitto_pub line, how to add a broker, the simulator", () => {
    const html = renderToStaticMarkup(createElement(OverviewView, { snapshot: snapshot({ bundledBrokerUrl: "mqtt://127.0.0.1:18830" }) }));
    expect(html).toContain("No client has connected yet");
    expect(html).toContain("mosquitto_pub -h 127.0.0.1 -p 18830");
    expect(html).toContain('href="/settings/brokers"');
    expect(html).toContain("npm run simulate");
  });

  it("without the bundled broker it does not invent a URL", () => {
    const html = renderToStaticMarkup(createElement(OverviewView, { snapshot: snapshot({ bundledBrokerUrl: null }) }));
    expect(html).not.toContain("mosquitto_pub");
    expect(html).toContain("npm run simulate");
  });

  it("goes away once an event is stored", async () => {
    expect(renderToStaticMarkup(createElement(OverviewView, { snapshot: snapshot(null) }))).not.toContain("first-steps");
    const t = await freshDatabase();
    try {
      expect(await anyEventStored(t.database.db)).toBe(false);
      const ts = new Date("2026-12-07T22:00:00Z");
      await insertEvents(t.database, [
        {
          ts,
          receivedAt: ts,
          broker: "bundled",
          node: null,
          clientId: "meter-000421",
          type: "connected",
          reason: null,
          address: "127.0.0.1",
          port: 50000,
          username: null,
          protocolVersion: 4,
          cleanStart: true,
          keepalive: 60,
          sessionSeconds: null,
          raw: "connected meter-000421",
        },
      ]);
      expect(await anyEventStored(t.database.db)).toBe(true);
    } finally {
      await t.drop();
    }
  });
});
