CREATE TABLE "alert_history" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"rule" text NOT NULL,
	"fingerprint" text NOT NULL,
	"labels" jsonb NOT NULL,
	"annotations" jsonb NOT NULL,
	"value" text,
	"active_at" timestamp (3) with time zone NOT NULL,
	"fired_at" timestamp (3) with time zone NOT NULL,
	"resolved_at" timestamp (3) with time zone
);
--> statement-breakpoint
CREATE TABLE "alert_rules" (
	"id" serial PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"expr" text NOT NULL,
	"for_seconds" double precision DEFAULT 0 NOT NULL,
	"keep_firing_for_seconds" double precision DEFAULT 0 NOT NULL,
	"labels" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"annotations" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "alert_rules_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "alert_states" (
	"rule" text NOT NULL,
	"fingerprint" text NOT NULL,
	"state" jsonb NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "alert_states_rule_fingerprint_pk" PRIMARY KEY("rule","fingerprint")
);
--> statement-breakpoint
CREATE TABLE "delivery_attempts" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"notification_id" bigint NOT NULL,
	"webhook_id" integer NOT NULL,
	"attempted_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"status_code" integer,
	"error" text,
	"duration_ms" double precision NOT NULL
);
--> statement-breakpoint
CREATE TABLE "notification_groups" (
	"webhook_id" integer NOT NULL,
	"group_key" text NOT NULL,
	"last_firing_hash" text,
	"last_notified_at" timestamp (3) with time zone,
	"first_seen_at" timestamp (3) with time zone,
	CONSTRAINT "notification_groups_webhook_id_group_key_pk" PRIMARY KEY("webhook_id","group_key")
);
--> statement-breakpoint
CREATE TABLE "notifications" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"webhook_id" integer NOT NULL,
	"message_id" text NOT NULL,
	"dedup_key" text NOT NULL,
	"group_key" text NOT NULL,
	"status" text NOT NULL,
	"body" text NOT NULL,
	"state" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"last_status_code" integer,
	"last_error" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"delivered_at" timestamp (3) with time zone,
	CONSTRAINT "notifications_message_id_unique" UNIQUE("message_id")
);
--> statement-breakpoint
CREATE TABLE "rule_status" (
	"rule" text PRIMARY KEY NOT NULL,
	"last_evaluated_at" timestamp (3) with time zone,
	"last_duration_ms" double precision,
	"last_error" text
);
--> statement-breakpoint
CREATE TABLE "silences" (
	"id" text PRIMARY KEY NOT NULL,
	"matchers" jsonb NOT NULL,
	"starts_at" timestamp (3) with time zone NOT NULL,
	"ends_at" timestamp (3) with time zone NOT NULL,
	"created_by" text NOT NULL,
	"comment" text DEFAULT '' NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "webhooks" (
	"id" serial PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"url" text NOT NULL,
	"secret_enc" text,
	"send_resolved" boolean DEFAULT true NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"headers" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"group_by" jsonb,
	"group_wait_seconds" double precision,
	"repeat_interval_seconds" double precision,
	"source" text DEFAULT 'ui' NOT NULL,
	"disabled_reason" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "webhooks_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE INDEX "alert_history_fired" ON "alert_history" USING btree ("fired_at");--> statement-breakpoint
CREATE UNIQUE INDEX "alert_history_episode" ON "alert_history" USING btree ("rule","fingerprint","fired_at");--> statement-breakpoint
CREATE INDEX "delivery_attempts_webhook" ON "delivery_attempts" USING btree ("webhook_id","attempted_at");--> statement-breakpoint
CREATE UNIQUE INDEX "notifications_dedup" ON "notifications" USING btree ("webhook_id","dedup_key");--> statement-breakpoint
CREATE INDEX "notifications_due" ON "notifications" USING btree ("state","next_attempt_at");