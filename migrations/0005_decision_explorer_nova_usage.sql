CREATE TABLE `nova_calls` (
	`event_id` text PRIMARY KEY NOT NULL,
	`time` integer NOT NULL,
	`role` text NOT NULL,
	`model` text NOT NULL,
	`outcome` text NOT NULL,
	`input_tokens` integer NOT NULL,
	`output_tokens` integer NOT NULL,
	`cost_usd` real NOT NULL,
	`latency_ms` real NOT NULL,
	`delivery` text
);
--> statement-breakpoint
CREATE INDEX `nova_calls_time` ON `nova_calls` (`time`);--> statement-breakpoint
CREATE INDEX `nova_calls_delivery` ON `nova_calls` (`delivery`) WHERE delivery IS NOT NULL;--> statement-breakpoint
CREATE TABLE `nova_usage_rollups` (
	`minute` integer NOT NULL,
	`role` text NOT NULL,
	`model` text NOT NULL,
	`outcome` text NOT NULL,
	`calls` integer DEFAULT 0 NOT NULL,
	`input_tokens` integer DEFAULT 0 NOT NULL,
	`output_tokens` integer DEFAULT 0 NOT NULL,
	`cost_usd` real DEFAULT 0 NOT NULL,
	`latency_sum_ms` real DEFAULT 0 NOT NULL,
	PRIMARY KEY(`minute`, `role`, `model`, `outcome`)
);
--> statement-breakpoint
ALTER TABLE `decisions` ADD `explain` text;--> statement-breakpoint
ALTER TABLE `outcomes` ADD `attempt_log` text;--> statement-breakpoint
ALTER TABLE `performance_rollups` ADD `failovers` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `performance_rollups` ADD `attempts` integer DEFAULT 0 NOT NULL;