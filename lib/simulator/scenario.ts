/**
 * The fleet simulator's scenario file (YAML): which devices exist, how they are named and how each
 * group behaves. Pure: parsing, validation and ClientID expansion, no sockets. The runner is
 * lib/simulator/fleet.ts; the command is `npm run simulate` (scripts/simulate.ts). See
 * docs/simulator.md for what each behaviour reproduces and what it cannot.
 */
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { parseDuration } from "@/lib/config/schema";

export const BEHAVIOURS = [
  "steady",
  "flapping",
  "shared-client-id",
  "keepalive-timeout",
  "bad-credentials",
  "idle-timeout",
  "slow-subscriber",
] as const;
export type Behaviour = (typeof BEHAVIOURS)[number];

const duration = z.string().transform((text, ctx) => {
  try {
    return parseDuration(text);
  } catch (error) {
    ctx.addIssue({ code: "custom", message: (error as Error).message });
    return z.NEVER;
  }
});
const positiveDuration = duration.refine((s) => s > 0, { error: "must be longer than 0s" });
/** `[5s, 20s]` or one duration: a uniform draw between the two */
const durationRange = z
  .union([positiveDuration.transform((s) => [s, s] as const), z.tuple([positiveDuration, positiveDuration])])
  .refine(([a, b]) => a <= b, { error: "the first duration must not be longer than the second" });

const groupSchema = z
  .object({
    name: z.string().min(1).max(64),
    /** `meter-{n:06}`: `{n}` is the device number (from `start`), `:06` pads it to 6 digits */
    clientId: z.string().min(1).max(256),
    count: z.number().int().min(1).max(100_000).default(1),
    start: z.number().int().min(0).default(1),
    behaviour: z.enum(BEHAVIOURS).default("steady"),
    keepalive: z.number().int().min(1).max(65_535).default(60),
    username: z.string().max(256).optional(),
    password: z.string().max(256).optional(),
    telemetry: z
      .object({
        every: positiveDuration,
        topic: z.string().min(1).max(256).default("devices/{clientId}/telemetry"),
        bytes: z.number().int().min(1).max(65_536).default(64),
      })
      .strict()
      .optional(),
    /** flapping: how long a session lasts and how long the device stays away */
    up: durationRange.optional(),
    down: durationRange.optional(),
    /** flapping: leave with DISCONNECT (`disconnect`) or drop the socket (`drop`) */
    leave: z.enum(["disconnect", "drop"]).default("drop"),
    /** idle-timeout: the socket is cut at exactly this interval (a NAT or load balancer idle timer) */
    every: positiveDuration.optional(),
    /** slow-subscriber: the filter it subscribes to with QoS 1 and then stops reading */
    subscribe: z.string().min(1).max(256).optional(),
  })
  .strict();

export const scenarioSchema = z
  .object({
    /** the broker; `--url` overrides; default the bundled broker on this machine */
    url: z.string().optional(),
    /** new connections per second while the fleet comes up (a real fleet does not start at once) */
    connectRate: z.number().positive().max(10_000).default(200),
    groups: z.array(groupSchema).min(1),
    /** every device drops at once and reconnects over `spread`, as a fleet does after a broker restart */
    storm: z
      .object({ at: positiveDuration, every: positiveDuration.optional(), spread: positiveDuration.default(3) })
      .strict()
      .optional(),
  })
  .strict();

export type Scenario = z.output<typeof scenarioSchema>;
export type DeviceGroup = Scenario["groups"][number];

export class ScenarioError extends Error {}

/** Parse and validate a scenario; every problem named with its path. */
export function parseScenario(text: string): Scenario {
  let document: unknown;
  try {
    document = parseYaml(text, { maxAliasCount: 100 });
  } catch (error) {
    throw new ScenarioError(`scenario is not valid YAML: ${(error as Error).message}`);
  }
  const result = scenarioSchema.safeParse(document);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => `  ${issue.path.join(".") || "(top)"}: ${issue.message}`);
    throw new ScenarioError(`scenario is not valid:\n${lines.join("\n")}`);
  }
  const seen = new Set<string>();
  for (const group of result.data.groups) {
    if (seen.has(group.name)) throw new ScenarioError(`scenario: two groups are named "${group.name}"`);
    seen.add(group.name);
    if (group.behaviour === "idle-timeout" && group.every === undefined) {
      throw new ScenarioError(`scenario: group "${group.name}" (idle-timeout) needs every: <duration>`);
    }
    if (group.behaviour === "slow-subscriber" && group.subscribe === undefined) {
      throw new ScenarioError(`scenario: group "${group.name}" (slow-subscriber) needs subscribe: <filter>`);
    }
  }
  return result.data;
}

/** `meter-{n:06}` with n = 421 → `meter-000421`; `{n}` unpadded; no placeholder → the text itself. */
export function expandClientId(pattern: string, n: number): string {
  return pattern.replace(/\{n(?::0?(\d+))?\}/g, (_, width: string | undefined) =>
    width ? String(n).padStart(Number(width), "0") : String(n),
  );
}

export interface DevicePlan {
  group: DeviceGroup;
  clientId: string;
  /** the device's number within its group's numbering */
  n: number;
}

/** Every device of the scenario, in start order: groups interleaved so each shows up early. */
export function planDevices(scenario: Scenario, scale = 1): DevicePlan[] {
  const perGroup = scenario.groups.map((group) => {
    const count = Math.max(1, Math.round(group.count * (group.behaviour === "steady" ? scale : 1)));
    return Array.from({ length: count }, (_, i) => ({
      group,
      n: group.start + i,
      clientId: expandClientId(group.clientId, group.start + i),
    }));
  });
  const plan: DevicePlan[] = [];
  const longest = Math.max(...perGroup.map((g) => g.length));
  for (let i = 0; i < longest; i++) for (const devices of perGroup) if (i < devices.length) plan.push(devices[i]!);
  return plan;
}

/** A uniform draw in [min, max] seconds, with an injected random source for tests. */
export function drawSeconds(range: readonly [number, number], random: () => number = Math.random): number {
  return range[0] + (range[1] - range[0]) * random();
}

/** The telemetry topic of one device. */
export function telemetryTopic(pattern: string, clientId: string): string {
  return pattern.replaceAll("{clientId}", clientId);
}
