CREATE TABLE "broker_incidents" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"broker" text NOT NULL,
	"kind" text NOT NULL,
	"detected_by" text NOT NULL,
	"last_good_at" timestamp (3) with time zone NOT NULL,
	"started_at" timestamp (3) with time zone NOT NULL,
	"up_at" timestamp (3) with time zone,
	"ended_at" timestamp (3) with time zone,
	"down_seconds" double precision,
	"clients_before" integer,
	"clients_dropped" integer,
	"clients_back_1m" integer,
	"clients_back_5m" integer,
	"sessions_before" integer,
	"sessions_after" integer,
	"queued_before" integer,
	"queued_after" integer,
	"findings" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"detail" jsonb
);
--> statement-breakpoint
CREATE INDEX "broker_incidents_broker_started" ON "broker_incidents" USING btree ("broker","started_at");--> statement-breakpoint
CREATE UNIQUE INDEX "broker_incidents_one_open" ON "broker_incidents" USING btree ("broker") WHERE ended_at is null;