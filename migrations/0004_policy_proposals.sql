CREATE TABLE `policy_proposals` (
	`id` text PRIMARY KEY NOT NULL,
	`created_at` integer NOT NULL,
	`model` text NOT NULL,
	`prompt_version` text NOT NULL,
	`summary` text NOT NULL,
	`weights` text NOT NULL,
	`rationale` text NOT NULL,
	`confidence` real NOT NULL,
	`status` text DEFAULT 'proposed' NOT NULL,
	`decided_at` integer,
	`decided_by` text
);
--> statement-breakpoint
CREATE INDEX `policy_proposals_created` ON `policy_proposals` (`created_at`);