CREATE TABLE "broker_observations" (
	"broker" text NOT NULL,
	"instance" text NOT NULL,
	"status" text NOT NULL,
	"last_seen_at" timestamp (3) with time zone,
	"observed_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "broker_observations_broker_instance_pk" PRIMARY KEY("broker","instance")
);
--> statement-breakpoint
CREATE TABLE "instances" (
	"name" text PRIMARY KEY NOT NULL,
	"url" text,
	"started_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"heartbeat_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"stopped_at" timestamp (3) with time zone,
	"watching" jsonb DEFAULT '[]'::jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "leases" (
	"name" text PRIMARY KEY NOT NULL,
	"holder" text NOT NULL,
	"expires_at" timestamp (3) with time zone NOT NULL,
	"acquired_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
