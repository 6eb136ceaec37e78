import { afterAll, beforeAll } from "vitest";
import type { Database } from "@/db/client";
import { webhooks } from "@/db/schema";
import { fingerprint } from "@/lib/alerts/state";
import type { NotifyAlert } from "@/lib/notify/format";
import { freshDatabase, type TestDatabase } from "./db";

/** A critical `alertname` alert of `broker`, firing since `startsAt`, as the engine hands it to the dispatcher. */
export function firingAlert(broker: string, startsAt: Date, alertname = "MQTT_Broker_Down"): NotifyAlert {
  const labels = { alertname, broker, severity: "critical" };
  return {
    fingerprint: fingerprint(labels),
    labels,
    annotations: { summary: `${broker} is down` },
    state: "firing",
    startsAt,
    endsAt: null,
    generatorURL: "http://brokerwatch.local/alerts",
  };
}

export interface OncallDatabase {
  readonly database: Database;
  /** the id of the webhook "ops-oncall" */
  readonly webhookId: number;
}

/**
 * A fresh database for the enclosing describe (or file) with one webhook, "ops-oncall", at an
 * address nothing listens on: what the dispatcher plans is read from the outbox, never delivered.
 */
export function oncallDatabase(): OncallDatabase {
  let t: TestDatabase | undefined;
  let webhookId: number | undefined;
  beforeAll(async () => {
    t = await freshDatabase();
    const [row] = await t.database.db
      .insert(webhooks)
      .values({ name: "ops-oncall", url: "http://127.0.0.1:9/hook" })
      .returning();
    webhookId = row.id;
  });
  afterAll(() => t?.drop());
  return {
    get database() {
      if (!t) throw new Error("the database is made in beforeAll");
      return t.database;
    },
    get webhookId() {
      if (webhookId === undefined) throw new Error("the webhook is made in beforeAll");
      return webhookId;
    },
  };
}
