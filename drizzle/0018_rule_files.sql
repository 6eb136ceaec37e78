ALTER TABLE "alert_rules" ADD COLUMN "kind" text DEFAULT 'alert' NOT NULL;--> statement-breakpoint
ALTER TABLE "alert_rules" ADD COLUMN "group_name" text;--> statement-breakpoint
ALTER TABLE "alert_rules" ADD COLUMN "interval_seconds" double precision;--> statement-breakpoint
ALTER TABLE "alert_rules" ADD COLUMN "limit" integer DEFAULT 0 NOT NULL;