/**
 * Request bodies of the settings API that brokerwatch.yaml has no section for (tokens, users,
 * "test connection"). Broker and webhook bodies are validated by lib/config/schema.ts itself.
 *
 * Client-safe: the settings forms validate with these same schemas in the browser before a request,
 * so nothing here may import server code (db/, node:*). lib/settings/schemas.ts re-exports them for
 * the server side.
 */
import { z } from "zod";
// db/vocabulary.ts imports nothing (no drizzle), so the browser bundle may take the lists from it.
import { TOKEN_SCOPES, USER_ROLES } from "@/db/vocabulary";
import { BrokerSchema } from "@/lib/config/schema";

export const ROLE_NAMES = USER_ROLES;
export const TOKEN_SCOPE_NAMES = TOKEN_SCOPES;

const role = z.enum(ROLE_NAMES, { message: `must be one of ${ROLE_NAMES.join(", ")}` });

export const TokenCreateSchema = z.strictObject({
  name: z
    .string({ message: "must be text" })
    .trim()
    .min(1, "is required: say what the token is for, e.g. grafana or ci")
    .max(100, "must be at most 100 characters"),
  role: role.default("viewer"),
  /** `ingest`: may only ship log lines to POST /api/brokers/{name}/log */
  scope: z.enum(TOKEN_SCOPE_NAMES, { message: `must be one of ${TOKEN_SCOPE_NAMES.join(", ")}` }).default("api"),
  /**
   * ingest tokens: the brokers it may ship to, as a list or comma-separated text; empty or absent,
   * every broker. A token may name a broker that does not exist yet.
   */
  brokers: z
    .union([z.array(z.string({ message: "must be broker names" })), z.string({ message: "must be broker names" })])
    .optional()
    .transform((value) => {
      const names = (typeof value === "string" ? value.split(",") : (value ?? [])).map((n) => n.trim()).filter(Boolean);
      return names.length ? [...new Set(names)] : null;
    })
    .refine((names) => names === null || names.length <= 1000, "at most 1000 brokers")
    .refine((names) => names === null || names.every((n) => n.length <= 200), "a broker name is at most 200 characters"),
}).refine((token) => token.brokers === null || token.scope === "ingest", {
  path: ["brokers"],
  message: "only an ingest token is limited to brokers (a viewer or admin token reads every broker)",
});

/** NIST SP 800-63B: at least 8 characters; the cap keeps argon2 from hashing megabytes. */
export const PASSWORD_MIN_LENGTH = 8;
export const password = z
  .string({ message: "must be text" })
  .min(PASSWORD_MIN_LENGTH, `must be at least ${PASSWORD_MIN_LENGTH} characters`)
  .max(1000, "must be at most 1000 characters");

export const UserCreateSchema = z.strictObject({
  username: z
    .string({ message: "must be text" })
    .regex(/^[A-Za-z0-9._@-]{1,64}$/, 'must be 1 to 64 letters, digits, ".", "_", "@" or "-"'),
  password,
  role,
});

export const UserPatchSchema = z.strictObject({ password });

/**
 * "Test connection" takes the connection fields of a broker as the form holds them. `name`, when
 * given, is a stored broker whose password is used if the form leaves the (write-only) field blank.
 */
export const BrokerTestSchema = BrokerSchema.pick({ url: true, username: true, password: true, sysTopicPrefix: true })
  .extend({ name: z.string().optional() })
  // the rest of the form may come along; only the connection fields matter here
  .loose();
