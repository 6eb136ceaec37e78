ALTER TABLE "broker_incidents" ADD COLUMN "clients_unknown" integer;--> statement-breakpoint
ALTER TABLE "broker_incidents" ADD COLUMN "blind_seconds" double precision;--> statement-breakpoint
ALTER TABLE "collector_gaps" ADD COLUMN "cause" text DEFAULT 'broker' NOT NULL;--> statement-breakpoint
ALTER TABLE "instances" ADD COLUMN "process_token" text;--> statement-breakpoint
ALTER TABLE "instances" ADD COLUMN "adopted_by" text;--> statement-breakpoint
ALTER TABLE "instances" ADD COLUMN "adopted_at" timestamp (3) with time zone;