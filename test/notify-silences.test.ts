import { describe, expect, it } from "vitest";
import { isSilenced, silenceInputSchema, type Silence } from "@/lib/notify/silences";

const now = new Date("2026-05-01T10:00:00Z");
const plantA = { alertname: "MQTT_Broker_Down", broker: "plant-a", severity: "critical" };

function silence(matchers: Silence["matchers"], window: Partial<Silence> = {}): Silence {
  return {
    matchers,
    startsAt: new Date("2026-05-01T09:00:00Z"),
    endsAt: new Date("2026-05-01T11:00:00Z"),
    ...window,
  };
}
const m = (name: string, value: string, isRegex = false, isEqual = true) => ({ name, value, isRegex, isEqual });

describe("silences", () => {
  it("mutes plant-a during its maintenance window only", () => {
    const maintenance = silence([m("broker", "plant-a")]);
    expect(isSilenced(plantA, [maintenance], now)).toBe(true);
    expect(isSilenced({ ...plantA, broker: "plant-b" }, [maintenance], now)).toBe(false);
    expect(isSilenced(plantA, [maintenance], new Date("2026-05-01T08:59:59Z"))).toBe(false);
    // endsAt is exclusive: the silence has expired at that instant
    expect(isSilenced(plantA, [maintenance], new Date("2026-05-01T11:00:00Z"))).toBe(false);
  });

  it("requires every matcher of a silence to match", () => {
    expect(isSilenced(plantA, [silence([m("broker", "plant-a"), m("severity", "warning")])], now)).toBe(false);
    expect(isSilenced(plantA, [silence([m("broker", "plant-a"), m("severity", "warning", false, false)])], now)).toBe(
      true,
    );
  });

  it("anchors regex matchers: plant-a does not silence plant-ab", () => {
    const plants = silence([m("broker", "plant-a", true)]);
    expect(isSilenced(plantA, [plants], now)).toBe(true);
    expect(isSilenced({ ...plantA, broker: "plant-ab" }, [plants], now)).toBe(false);
    expect(isSilenced({ ...plantA, broker: "xplant-a" }, [plants], now)).toBe(false);
    expect(isSilenced(plantA, [silence([m("broker", "plant-.*", true, false)])], now)).toBe(false);
    expect(isSilenced(plantA, [silence([m("broker", "(?i)PLANT-A", true)])], now)).toBe(true);
  });

  it("treats a missing label as the empty string, as Alertmanager does", () => {
    expect(isSilenced(plantA, [silence([m("broker", "plant-a"), m("cluster", "")])], now)).toBe(true);
    expect(isSilenced(plantA, [silence([m("broker", "plant-a"), m("cluster", "plant", false, false)])], now)).toBe(
      true,
    );
  });
});

describe("POST /api/silences input", () => {
  const parse = (body: unknown) => silenceInputSchema(now).safeParse(body);

  it("turns a duration into an end time starting now", () => {
    const result = parse({ matchers: [{ name: "broker", value: "plant-a" }], duration: "2h", createdBy: "jo" });
    expect(result.success && result.data).toEqual({
      matchers: [m("broker", "plant-a")],
      startsAt: now,
      endsAt: new Date("2026-05-01T12:00:00Z"),
      createdBy: "jo",
      comment: "",
    });
  });

  it("refuses a silence that would mute every alert", () => {
    const result = parse({
      matchers: [
        { name: "broker", value: ".*", isRegex: true },
        { name: "cluster", value: "" },
      ],
      duration: "1h",
      createdBy: "jo",
    });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]).toMatchObject({ path: ["matchers"] });
    expect(result.error?.issues[0].message).toMatch(/empty string/);
  });

  it("refuses no matchers, a broken regex, a missing end and an end in the past", () => {
    expect(parse({ matchers: [], duration: "1h", createdBy: "jo" }).success).toBe(false);
    const badRegex = parse({
      matchers: [{ name: "broker", value: "(", isRegex: true }],
      duration: "1h",
      createdBy: "jo",
    });
    expect(badRegex.error?.issues[0].path).toEqual(["matchers", 0, "value"]);
    const noEnd = parse({ matchers: [{ name: "broker", value: "a" }], createdBy: "jo" });
    expect(noEnd.error?.issues[0].path).toEqual(["endsAt"]);
    const past = parse({ matchers: [{ name: "broker", value: "a" }], endsAt: "2026-05-01T09:00:00Z", createdBy: "jo" });
    expect(past.error?.issues[0]).toMatchObject({ path: ["endsAt"], message: "must end in the future" });
    expect(parse({ matchers: [{ name: "broker", value: "a" }], duration: "1h", createdBy: "" }).success).toBe(false);
  });

  it("keeps a future start and moves a past one to now", () => {
    const later = parse({
      matchers: [{ name: "broker", value: "a" }],
      startsAt: "2026-05-01T14:00:00+02:00",
      endsAt: "2026-05-01T13:00:00Z",
      createdBy: "jo",
      comment: "firmware upgrade",
    });
    expect(later.success && later.data.startsAt).toEqual(new Date("2026-05-01T12:00:00Z"));
    const past = parse({
      matchers: [{ name: "broker", value: "a" }],
      startsAt: "2026-04-01T00:00:00Z",
      duration: "1h",
      createdBy: "jo",
    });
    expect(past.success && past.data.startsAt).toEqual(now);
  });
});
