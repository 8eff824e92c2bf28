CREATE TABLE `api_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`scope` text NOT NULL,
	`site_id` text,
	`name` text,
	`hash` text NOT NULL,
	`created_at` integer NOT NULL,
	`created_by` text NOT NULL,
	`expires_at` integer,
	`revoked_at` integer,
	`replaced_by` text
);
--> statement-breakpoint
CREATE INDEX `api_keys_tenant` ON `api_keys` (`tenant_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `tenants` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`status` text DEFAULT 'active' NOT NULL,
	`budget_usd` real,
	`budget_period` text DEFAULT 'month' NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `decisions` ADD `tenant_id` text;--> statement-breakpoint
CREATE INDEX `decisions_tenant_time` ON `decisions` (`tenant_id`,`time`);--> statement-breakpoint
ALTER TABLE `outcomes` ADD `tenant_id` text;--> statement-breakpoint
CREATE INDEX `outcomes_tenant_time` ON `outcomes` (`tenant_id`,`time`);