CREATE TABLE "api_tokens" (
	"id" serial PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"token_hash" text NOT NULL,
	"prefix" text NOT NULL,
	"role" text DEFAULT 'viewer' NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"last_used_at" timestamp (3) with time zone,
	"revoked_at" timestamp (3) with time zone,
	CONSTRAINT "api_tokens_token_hash_unique" UNIQUE("token_hash")
);
--> statement-breakpoint
CREATE TABLE "collector_gaps" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"broker" text NOT NULL,
	"started_at" timestamp (3) with time zone NOT NULL,
	"ended_at" timestamp (3) with time zone,
	"reason" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "metric_rollups" (
	"broker" text NOT NULL,
	"node" text DEFAULT '' NOT NULL,
	"metric" text NOT NULL,
	"labels" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"bucket" timestamp (3) with time zone NOT NULL,
	"min" double precision NOT NULL,
	"max" double precision NOT NULL,
	"avg" double precision NOT NULL,
	"last" double precision NOT NULL,
	"count" integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX "collector_gaps_broker_started" ON "collector_gaps" USING btree ("broker","started_at");--> statement-breakpoint
CREATE UNIQUE INDEX "metric_rollups_key" ON "metric_rollups" USING btree ("broker","metric","node","labels","bucket");