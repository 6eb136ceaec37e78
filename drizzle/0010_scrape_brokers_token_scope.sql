ALTER TABLE "api_tokens" ADD COLUMN "scope" text DEFAULT 'api' NOT NULL;--> statement-breakpoint
ALTER TABLE "brokers" ADD COLUMN "metrics_url" text;--> statement-breakpoint
ALTER TABLE "brokers" ADD COLUMN "amqp_url" text;