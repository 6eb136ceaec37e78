-- Exactly-once storage: every event gets its identity in the broker's stream, and a copy of an
-- event or sample (redelivery after a crash, a second watcher of the same broker) is dropped by a
-- unique index that includes ts, so it stays valid once the tables are partitioned by ts.
--
-- event_key = md5(type \n node \n ordinal \n raw), ordinal counting identical (broker, ts, type,
-- node, raw) rows from 0, exactly as db/ingest.ts eventKey computes it for new rows.
ALTER TABLE "connection_events" ADD COLUMN "event_key" uuid;--> statement-breakpoint
UPDATE "connection_events" AS e
SET "event_key" = md5(e."type" || chr(10) || coalesce(e."node", '') || chr(10) || k."ordinal"::text || chr(10) || e."raw")::uuid
FROM (
  SELECT "id", row_number() OVER (PARTITION BY "broker", "ts", "type", coalesce("node", ''), "raw" ORDER BY "id") - 1 AS "ordinal"
  FROM "connection_events"
) AS k
WHERE k."id" = e."id";--> statement-breakpoint
ALTER TABLE "connection_events" ALTER COLUMN "event_key" SET NOT NULL;--> statement-breakpoint
-- a row inserted by hand (not through the ingest path) has no identity in any stream: never a duplicate
ALTER TABLE "connection_events" ALTER COLUMN "event_key" SET DEFAULT gen_random_uuid();--> statement-breakpoint
CREATE UNIQUE INDEX "connection_events_identity" ON "connection_events" USING btree ("broker","ts","event_key");--> statement-breakpoint
-- Samples written before this migration may repeat a (series, ts): keep one of each.
DELETE FROM "metric_samples" AS a
USING "metric_samples" AS b
WHERE a.ctid < b.ctid
  AND a."broker" = b."broker" AND a."ts" = b."ts" AND a."metric" = b."metric"
  AND a."node" = b."node" AND a."labels" = b."labels";--> statement-breakpoint
CREATE UNIQUE INDEX "metric_samples_identity" ON "metric_samples" USING btree ("broker","ts","metric","node","labels");
--> statement-breakpoint
-- Webhook backlog: a row held by a delivery request is left alone when a success pulls retries forward.
ALTER TABLE "notifications" ADD COLUMN "claimed_at" timestamp (3) with time zone;