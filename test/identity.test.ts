import { describe, expect, it } from "vitest";
import { eventKey } from "@/db/ingest";
import { EventOrdinals, type Taken } from "@/lib/collector/identity";

const at = (s: number) => new Date(Date.UTC(2026, 11, 1, 6, 0, s));
const line = (s: number, id: string) => ({
  ts: at(s),
  type: "disconnected" as const,
  node: null,
  raw: `${Math.floor(at(s).getTime() / 1000)}: Client ${id} disconnected.`,
});

describe("event identities (lib/collector/identity.ts)", () => {
  it("numbers identical events within one timestamp 0, 1, 2 and anything else 0", () => {
    const ordinals = new EventOrdinals();
    const flap = line(0, "flapper");
    expect(ordinals.key(flap)).toBe(eventKey(flap, 0));
    expect(ordinals.key(line(0, "other"))).toBe(eventKey(line(0, "other"), 0));
    expect(ordinals.key(flap)).toBe(eventKey(flap, 1));
    expect(ordinals.key(flap)).toBe(eventKey(flap, 2));
    // the same ClientID a second later is a different line
    expect(ordinals.key(line(1, "flapper"))).toBe(eventKey(line(1, "flapper"), 0));
    // type and node are part of the identity
    expect(ordinals.key({ ...flap, node: "n2" })).toBe(eventKey({ ...flap, node: "n2" }, 0));
  });

  it("gives keys back for a message the broker will deliver again, so the copy gets the same keys", () => {
    const ordinals = new EventOrdinals();
    const flap = line(0, "flapper");
    const first = ordinals.key(flap);
    const taken: Taken[] = [];
    const second = [ordinals.key(flap, taken), ordinals.key(flap, taken)];
    ordinals.giveBack(taken);
    expect([ordinals.key(flap), ordinals.key(flap)]).toEqual(second);
    expect(second).not.toContain(first);
  });

  it("forgets timestamps more than 10 s of broker time behind the newest, so memory stays bounded at any rate", () => {
    const ordinals = new EventOrdinals();
    const flap = line(0, "flapper");
    ordinals.key(flap);
    // within the window the twin still counts
    for (let i = 0; i < 1000; i++) ordinals.key(line(9, `c${i}`));
    expect(ordinals.key(flap)).toBe(eventKey(flap, 1));
    // 11 s later (and a sweep, every 1000 events) second 0 is gone
    for (let i = 0; i < 1000; i++) ordinals.key(line(11, `c${i}`));
    expect(ordinals.key(flap)).toBe(eventKey(flap, 0));
  });
});
