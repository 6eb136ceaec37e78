-- Time-partitioned history (docs/architecture.md §6). drizzle does not model partitioning, so this
-- migration is written by hand; db/schema.ts stays the source of truth for columns and indexes and
-- drizzle/meta/0011_snapshot.json matches it (the only change drizzle sees is the primary key of
-- connection_events, which must include the partition key: (id, ts)).
--
-- In place: the old tables are renamed and stripped of their indexes, partitioned tables are
-- created with one partition per UTC day of the old rows' range (plus yesterday .. today + 3 and a
-- DEFAULT partition for stragglers), the rows are copied over, the indexes are built on the parent
-- (one per partition) after the copy, and the old tables are dropped. The id sequence of
-- connection_events is kept, so ids stay unique and keep growing.
ALTER TABLE "connection_events" RENAME TO "connection_events_unpartitioned";--> statement-breakpoint
ALTER TABLE "connection_events_unpartitioned" DROP CONSTRAINT "connection_events_pkey";--> statement-breakpoint
DROP INDEX "connection_events_identity";--> statement-breakpoint
DROP INDEX "connection_events_client_ts";--> statement-breakpoint
DROP INDEX "connection_events_client_prefix";--> statement-breakpoint
DROP INDEX "connection_events_broker_ts";--> statement-breakpoint
DROP INDEX "connection_events_ts";--> statement-breakpoint
CREATE TABLE "connection_events" (
	"id" bigint DEFAULT nextval('connection_events_id_seq') NOT NULL,
	"ts" timestamp (3) with time zone NOT NULL,
	"received_at" timestamp (3) with time zone NOT NULL,
	"broker" text NOT NULL,
	"node" text,
	"client_id" text,
	"type" text NOT NULL,
	"reason" text,
	"address" text,
	"port" integer,
	"username" text,
	"protocol_version" smallint,
	"clean_start" boolean,
	"keepalive" integer,
	"session_seconds" double precision,
	"raw" text NOT NULL,
	"event_key" uuid DEFAULT gen_random_uuid() NOT NULL
) PARTITION BY RANGE ("ts");--> statement-breakpoint
ALTER SEQUENCE "connection_events_id_seq" OWNED BY "connection_events"."id";--> statement-breakpoint
ALTER TABLE "metric_samples" RENAME TO "metric_samples_unpartitioned";--> statement-breakpoint
DROP INDEX "metric_samples_broker_metric_ts";--> statement-breakpoint
DROP INDEX "metric_samples_ts";--> statement-breakpoint
DROP INDEX "metric_samples_identity";--> statement-breakpoint
CREATE TABLE "metric_samples" (
	"broker" text NOT NULL,
	"node" text DEFAULT '' NOT NULL,
	"metric" text NOT NULL,
	"labels" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"ts" timestamp (3) with time zone NOT NULL,
	"value" double precision NOT NULL
) PARTITION BY RANGE ("ts");--> statement-breakpoint
-- One partition per UTC day named <table>_pYYYYMMDD (db/partitions.ts reads the day from the name).
DO $$
DECLARE
  parent text;
  first_day date;
  last_day date;
  d date;
BEGIN
  FOREACH parent IN ARRAY ARRAY['connection_events', 'metric_samples'] LOOP
    EXECUTE format('SELECT (min(ts) AT TIME ZONE ''UTC'')::date, (max(ts) AT TIME ZONE ''UTC'')::date FROM %I', parent || '_unpartitioned')
      INTO first_day, last_day;
    first_day := least(coalesce(first_day, (now() AT TIME ZONE 'UTC')::date), (now() AT TIME ZONE 'UTC')::date - 1);
    last_day := greatest(coalesce(last_day, (now() AT TIME ZONE 'UTC')::date), (now() AT TIME ZONE 'UTC')::date + 3);
    d := first_day;
    WHILE d <= last_day LOOP
      EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
        parent || '_p' || to_char(d, 'YYYYMMDD'), parent,
        to_char(d, 'YYYY-MM-DD') || ' 00:00:00+00', to_char(d + 1, 'YYYY-MM-DD') || ' 00:00:00+00');
      d := d + 1;
    END LOOP;
    EXECUTE format('CREATE TABLE %I PARTITION OF %I DEFAULT', parent || '_default', parent);
  END LOOP;
END $$;--> statement-breakpoint
INSERT INTO "connection_events" ("id", "ts", "received_at", "broker", "node", "client_id", "type", "reason", "address", "port", "username", "protocol_version", "clean_start", "keepalive", "session_seconds", "raw", "event_key")
SELECT "id", "ts", "received_at", "broker", "node", "client_id", "type", "reason", "address", "port", "username", "protocol_version", "clean_start", "keepalive", "session_seconds", "raw", "event_key"
FROM "connection_events_unpartitioned";--> statement-breakpoint
INSERT INTO "metric_samples" ("broker", "node", "metric", "labels", "ts", "value")
SELECT "broker", "node", "metric", "labels", "ts", "value" FROM "metric_samples_unpartitioned";--> statement-breakpoint
DROP TABLE "connection_events_unpartitioned";--> statement-breakpoint
DROP TABLE "metric_samples_unpartitioned";--> statement-breakpoint
ALTER TABLE "connection_events" ADD CONSTRAINT "connection_events_pkey" PRIMARY KEY("id","ts");--> statement-breakpoint
CREATE UNIQUE INDEX "connection_events_identity" ON "connection_events" USING btree ("broker","ts","event_key");--> statement-breakpoint
CREATE INDEX "connection_events_client_ts" ON "connection_events" USING btree ("client_id","ts","id");--> statement-breakpoint
CREATE INDEX "connection_events_client_prefix" ON "connection_events" USING btree ("client_id" text_pattern_ops);--> statement-breakpoint
CREATE INDEX "connection_events_reason_ts" ON "connection_events" USING btree ("reason","ts","id") WHERE "connection_events"."reason" is not null;--> statement-breakpoint
CREATE INDEX "connection_events_broker_ts" ON "connection_events" USING btree ("broker","ts","id");--> statement-breakpoint
CREATE INDEX "connection_events_ts" ON "connection_events" USING btree ("ts","id");--> statement-breakpoint
CREATE INDEX "metric_samples_broker_metric_ts" ON "metric_samples" USING btree ("broker","metric","ts");--> statement-breakpoint
CREATE INDEX "metric_samples_ts" ON "metric_samples" USING btree ("ts");--> statement-breakpoint
CREATE UNIQUE INDEX "metric_samples_identity" ON "metric_samples" USING btree ("broker","ts","metric","node","labels");
