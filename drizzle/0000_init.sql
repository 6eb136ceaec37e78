CREATE TABLE "brokers" (
	"id" serial PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"url" text NOT NULL,
	"dialect" text NOT NULL,
	"detected_dialect" text,
	"cluster" text,
	"username" text,
	"password_enc" text,
	"max_connections" integer,
	"expected_nodes" integer,
	"sys_topic_prefix" text,
	"enabled" boolean DEFAULT true NOT NULL,
	"source" text DEFAULT 'ui' NOT NULL,
	"status" text DEFAULT 'unknown' NOT NULL,
	"status_since" timestamp (3) with time zone,
	"last_seen_at" timestamp (3) with time zone,
	"version" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "brokers_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "connection_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
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
	"raw" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "metric_samples" (
	"broker" text NOT NULL,
	"node" text DEFAULT '' NOT NULL,
	"metric" text NOT NULL,
	"labels" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"ts" timestamp (3) with time zone NOT NULL,
	"value" double precision NOT NULL
);
--> statement-breakpoint
CREATE TABLE "service_settings" (
	"key" text PRIMARY KEY NOT NULL,
	"value" text NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "unparsed_records" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"received_at" timestamp (3) with time zone NOT NULL,
	"broker" text NOT NULL,
	"topic" text NOT NULL,
	"raw" text NOT NULL,
	"error" text NOT NULL
);
--> statement-breakpoint
CREATE INDEX "connection_events_client_ts" ON "connection_events" USING btree ("client_id","ts" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "connection_events_broker_ts" ON "connection_events" USING btree ("broker","ts" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "connection_events_ts" ON "connection_events" USING btree ("ts" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "metric_samples_broker_metric_ts" ON "metric_samples" USING btree ("broker","metric","ts");--> statement-breakpoint
CREATE INDEX "metric_samples_ts" ON "metric_samples" USING btree ("ts");--> statement-breakpoint
CREATE INDEX "unparsed_records_broker_received" ON "unparsed_records" USING btree ("broker","received_at");