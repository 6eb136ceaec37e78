import path from "node:path";
import { z } from "zod";
import { parseEgress } from "@/lib/egress";

/**
 * The environment of docs/contract.md §1, validated once at start. A bad value stops the
 * start with a message naming the variable.
 */
const port = (name: string, fallback: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === "") return fallback;
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 65535) {
        ctx.addIssue({ code: "custom", message: `${name} must be a port number 0-65535 (got "${v}")` });
        return z.NEVER;
      }
      return n;
    });

const wholeNumber = (name: string, fallback: number, min: number, max: number, unit: string) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === "") return fallback;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: "custom", message: `${name} must be a whole number of ${unit} between ${min} and ${max} (got "${v}")` });
        return z.NEVER;
      }
      return n;
    });

const envSchema = z.object({
  DATABASE_URL: z
    .string()
    .optional()
    .transform((v) => (v ? v : undefined)),
  BROKERWATCH_DATA_DIR: z
    .string()
    .optional()
    .transform((v) => path.resolve(v || "./data")),
  BROKERWATCH_CONFIG: z.string().optional(),
  PORT: port("PORT", 3000),
  HOSTNAME: z
    .string()
    .optional()
    .transform((v) => v || "127.0.0.1"),
  MQTT_PORT: port("MQTT_PORT", 1883),
  BUNDLED_BROKER: z
    .string()
    .optional()
    .transform((v, ctx) => {
      const value = (v ?? "on").toLowerCase();
      if (["on", "true", "1", ""].includes(value)) return true;
      if (["off", "false", "0"].includes(value)) return false;
      ctx.addIssue({ code: "custom", message: `BUNDLED_BROKER must be "on" or "off" (got "${v}")` });
      return z.NEVER;
    }),
  BUNDLED_SYS_INTERVAL: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === "") return 1;
      const n = Number(v);
      if (!(n >= 0.1 && n <= 3600)) {
        ctx.addIssue({
          code: "custom",
          message: `BUNDLED_SYS_INTERVAL must be seconds between 0.1 and 3600 (got "${v}")`,
        });
        return z.NEVER;
      }
      return n;
    }),
  /** bytes; a client announcing a larger MQTT packet is disconnected before it is buffered */
  BUNDLED_MAX_PACKET_SIZE: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === "") return 1024 * 1024;
      const n = Number(v);
      // 268435460: the largest packet MQTT can encode (4-byte Remaining Length + fixed header)
      if (!Number.isInteger(n) || n < 1024 || n > 268_435_460) {
        ctx.addIssue({
          code: "custom",
          message: `BUNDLED_MAX_PACKET_SIZE must be a whole number of bytes between 1024 and 268435460 (got "${v}")`,
        });
        return z.NEVER;
      }
      return n;
    }),
  /** retained messages the bundled broker keeps at most; more are delivered live but not retained */
  BUNDLED_MAX_RETAINED_MESSAGES: wholeNumber("BUNDLED_MAX_RETAINED_MESSAGES", 10_000, 1, 10_000_000, "retained messages"),
  /** bytes (topic + payload) of retained messages the bundled broker keeps at most */
  BUNDLED_MAX_RETAINED_BYTES: wholeNumber("BUNDLED_MAX_RETAINED_BYTES", 64 * 1024 * 1024, 1024, 2 ** 40, "bytes"),
  /** `user:password,user2:password2`; when set the bundled broker refuses anonymous clients */
  BUNDLED_BROKER_USERS: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (!v) return undefined;
      const users = new Map<string, string>();
      for (const entry of v.split(",")) {
        const at = entry.indexOf(":");
        if (at <= 0) {
          ctx.addIssue({
            code: "custom",
            message: `BUNDLED_BROKER_USERS entries must be user:password (got "${entry}")`,
          });
          return z.NEVER;
        }
        users.set(entry.slice(0, at), entry.slice(at + 1));
      }
      return users;
    }),
  /**
   * How long a broker keeps a collector's session after its connection ends, in seconds (MQTT 5
   * Session Expiry Interval); default 86400 (a day). Read by server/service.ts.
   */
  BROKERWATCH_SESSION_EXPIRY: z
    .string()
    .optional()
    .refine((v) => v === undefined || v === "" || (/^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 4294967294), {
      message: "BROKERWATCH_SESSION_EXPIRY must be a whole number of seconds between 1 and 4294967294 (default 86400, a day)",
    }),
  /** this process's name among the instances sharing one database; default host:port of the web listener */
  BROKERWATCH_INSTANCE: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === "") return undefined;
      if (v.length > 100 || !/^[\x21-\x7e]+$/.test(v)) {
        ctx.addIssue({
          code: "custom",
          message: `BROKERWATCH_INSTANCE must be 1-100 printable characters without spaces (got "${v.slice(0, 120)}")`,
        });
        return z.NEVER;
      }
      return v;
    }),
  /**
   * Where the collectors, dialect parsing and the writer run: "worker" (a worker thread, so page
   * renders and ingest never wait on each other; needs DATABASE_URL) or "inline" (the web server's
   * thread, as before). Default: worker on Postgres, inline on PGlite.
   */
  BROKERWATCH_INGEST: z
    .string()
    .optional()
    .transform((v, ctx) => {
      const value = (v ?? "").toLowerCase();
      if (value === "") return undefined;
      if (value === "worker" || value === "inline") return value;
      ctx.addIssue({ code: "custom", message: `BROKERWATCH_INGEST must be "worker" or "inline" (got "${v}")` });
      return z.NEVER;
    }),
  /** allow:/deny: entries for every outbound connection (lib/egress.ts); checked here so a typo stops the start */
  BROKERWATCH_EGRESS: z
    .string()
    .optional()
    .superRefine((v, ctx) => {
      try {
        parseEgress(v);
      } catch (err) {
        ctx.addIssue({ code: "custom", message: (err as Error).message });
      }
    }),
  /** open event streams per token or session (lib/auth/api.ts takeStreamSlot) */
  BROKERWATCH_MAX_STREAMS: wholeNumber("BROKERWATCH_MAX_STREAMS", 20, 1, 10_000, "streams"),
  BROKERWATCH_API_TOKEN: z.string().optional(),
  BROKERWATCH_ADMIN_PASSWORD: z.string().optional(),
  BROKERWATCH_SECRET: z.string().optional(),
  /** the URL operators reach the UI at (behind a proxy), for links in webhooks */
  BROKERWATCH_EXTERNAL_URL: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (!v) return undefined;
      if (!/^https?:\/\/[^/]/.test(v)) {
        ctx.addIssue({ code: "custom", message: `BROKERWATCH_EXTERNAL_URL must be an http(s) URL (got "${v}")` });
        return z.NEVER;
      }
      return v.replace(/\/+$/, "");
    }),
});

export type ServiceEnv = z.output<typeof envSchema>;

export function readEnv(env: NodeJS.ProcessEnv = process.env): ServiceEnv {
  const result = envSchema.safeParse(env);
  if (!result.success) {
    throw new Error(result.error.issues.map((issue) => issue.message).join("\n"));
  }
  return result.data;
}
