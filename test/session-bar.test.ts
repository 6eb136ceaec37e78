import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { SessionBar } from "@/components/clients/session-bar";
import type { ClientEvent } from "@/lib/clients";
import type { Session } from "@/lib/diagnosis";

/** The trace page's session bar: connected time, disconnects, and where brokerwatch was blind. */
const FROM = Date.parse("2026-12-07T00:00:00Z");
const TO = FROM + 24 * 3600_000;
const h = (hours: number) => new Date(FROM + hours * 3600_000);

function session(start: number, end: number | null, reason: string | null): Session<ClientEvent> {
  return {
    broker: "plant-a",
    start: null,
    end: end === null ? null : ({ id: start } as ClientEvent),
    startedAt: h(start),
    endedAt: end === null ? null : h(end),
    seconds: end === null ? null : (end - start) * 3600,
    open: end === null,
    reason,
    address: null,
    port: null,
    username: null,
    protocolVersion: 4,
    keepalive: 60,
  };
}

describe("session bar", () => {
  it("says how long the client was connected, how often it dropped, and how long brokerwatch was blind", () => {
    const html = renderToStaticMarkup(
      createElement(SessionBar, {
        sessions: [session(0, 6, "keepalive_timeout"), session(7, 12, "normal"), session(13, null, null)],
        blind: [{ broker: "plant-a", start: h(12).getTime(), end: h(13).getTime(), reason: "connection lost" }],
        from: FROM,
        to: TO,
      }),
    );
    expect(html).toContain('aria-label="Connected 22 h of 24 h, 2 disconnects, brokerwatch blind for 60 min"');
    expect(html).toContain('data-blind="plant-a"');
    expect(html).toContain("brokerwatch could not see plant-a: connection lost");
  });

  it("with no blind window says nothing about blindness", () => {
    const html = renderToStaticMarkup(
      createElement(SessionBar, { sessions: [session(20, null, null)], blind: [], from: FROM, to: TO }),
    );
    expect(html).toContain('aria-label="Connected 4 h of 24 h, 0 disconnects"');
    expect(html).not.toContain("data-blind");
  });
});
