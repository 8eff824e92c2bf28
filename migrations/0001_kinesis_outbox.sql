CREATE TABLE `kinesis_outbox` (
	`id` text PRIMARY KEY NOT NULL,
	`partition_key` text NOT NULL,
	`data` text NOT NULL,
	`created_at` integer NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`claimed_until` integer
);
--> statement-breakpoint
CREATE INDEX `kinesis_outbox_created` ON `kinesis_outbox` (`created_at`);--> statement-breakpoint
CREATE TABLE `kinesis_outbox_dead` (
	`id` text PRIMARY KEY NOT NULL,
	`partition_key` text NOT NULL,
	`data` text NOT NULL,
	`created_at` integer NOT NULL,
	`attempts` integer NOT NULL,
	`reason` text NOT NULL,
	`dead_at` integer NOT NULL
);
