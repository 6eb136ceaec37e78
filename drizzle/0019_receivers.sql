ALTER TABLE "webhooks" ADD COLUMN "type" text DEFAULT 'webhook' NOT NULL;--> statement-breakpoint
ALTER TABLE "webhooks" ADD COLUMN "options" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "webhooks" ADD COLUMN "match" jsonb;--> statement-breakpoint
ALTER TABLE "webhooks" ADD COLUMN "match_re" jsonb;