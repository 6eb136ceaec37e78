/**
 * What the settings API and pages send to the browser: plain JSON-safe objects, never a password,
 * a webhook secret, a header value or a token hash. Types only, so client components import them freely.
 */
import type { ReceiverHealth } from "@/lib/notify/health";
import type { TokenScope, UserRole } from "@/db/schema";

/** file: brokerwatch.yaml (read-only here) · ui: made in the UI or the API · builtin: the bundled broker */
export type DefinitionSource = "file" | "ui" | "builtin";

export interface BrokerSettingsView {
  name: string;
  url: string;
  dialect: string;
  detectedDialect: string | null;
  version: string | null;
  cluster: string | null;
  username: string | null;
  /** whether a password is stored; the password itself is write-only */
  hasPassword: boolean;
  maxConnections: number | null;
  expectedNodes: number | null;
  sysTopicPrefix: string | null;
  metricsUrl: string | null;
  amqpUrl: string | null;
  monitorUrl: string | null;
  natsUrl: string | null;
  clientId: string | null;
  enabled: boolean;
  source: DefinitionSource;
  status: string;
  lastSeenAt: string | null;
}

export interface WebhookSettingsView {
  id: number;
  name: string;
  url: string;
  /** whether a whsec_ secret is stored (deliveries are signed); the secret is write-only */
  signed: boolean;
  sendResolved: boolean;
  enabled: boolean;
  /** names of the extra headers sent; their values may be credentials and are write-only */
  headerNames: string[];
  groupBy: string[] | null;
  groupWaitSeconds: number | null;
  repeatIntervalSeconds: number | null;
  source: DefinitionSource;
  /** set when the receiver answered 410 Gone: no delivery until someone re-enables it */
  disabledReason: string | null;
  updatedAt: string;
  /** webhook | slack | teams | pagerduty | email | alertmanager (config `receivers:`) */
  type: string;
  /** how deliveries are going (lib/notify/health.ts); null in answers to an edit */
  health: ReceiverHealth | null;
}

export interface TokenView {
  id: number;
  name: string;
  role: UserRole;
  /** `api`: the API at its role; `ingest`: log shipping only */
  scope: TokenScope;
  /** an ingest token's brokers; null, every broker */
  brokers: string[] | null;
  /** the token's first characters, to tell tokens apart */
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export interface UserView {
  id: number;
  username: string;
  role: UserRole;
  createdAt: string;
}

export type ConnectionErrorKind =
  "refused" | "bad_credentials" | "timeout" | "dns" | "tls" | "protocol" | "closed" | "other";

/** What "test connection" saw in one short session with the broker. */
export interface ConnectionTestResult {
  connected: boolean;
  error: { kind: ConnectionErrorKind; message: string } | null;
  /** CONNECT to CONNACK, ms */
  connectMs: number | null;
  version: string | null;
  /** what the auto dialect recognised from the `$SYS` messages */
  detectedDialect: "mosquitto" | "emqx" | "bundled" | "hivemq" | "rabbitmq" | "nats" | null;
  /** any `$SYS` message arrived: the collector will be able to read the broker's metrics */
  sysReadable: boolean;
  sysMessages: number;
  /** the broker answered the `$SYS/#` SUBSCRIBE with a failure code (an ACL, usually) */
  subscribeRefused: boolean;
  /** the filter subscribed to, prefix included */
  topic: string;
  listenedMs: number;
}

/** What "send test notification" got back from the receiver. */
export interface WebhookTestResult {
  /** a 2xx answer */
  delivered: boolean;
  statusCode: number | null;
  durationMs: number;
  error: string | null;
  /** the `webhook-id` sent, to find it in the receiver's log */
  messageId: string;
  signed: boolean;
}
