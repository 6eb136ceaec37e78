ALTER TABLE "brokers" ADD COLUMN "monitor_url" text;--> statement-breakpoint
ALTER TABLE "brokers" ADD COLUMN "nats_url" text;