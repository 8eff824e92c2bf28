CREATE TABLE `rollup_latency_buckets` (
	`minute` integer NOT NULL,
	`tier` text NOT NULL,
	`target` text NOT NULL,
	`model` text NOT NULL,
	`metric` text NOT NULL,
	`bucket` integer NOT NULL,
	`count` integer NOT NULL,
	PRIMARY KEY(`minute`, `tier`, `target`, `model`, `metric`, `bucket`)
);
--> statement-breakpoint
ALTER TABLE `outcomes` ADD `latency_bucket` integer;--> statement-breakpoint
ALTER TABLE `outcomes` ADD `ttft_bucket` integer;