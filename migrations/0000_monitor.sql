CREATE TABLE `agent_config` (
	`version` integer PRIMARY KEY NOT NULL,
	`created_at` integer NOT NULL,
	`created_by` text NOT NULL,
	`reason` text,
	`config` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `anomalies` (
	`id` text PRIMARY KEY NOT NULL,
	`detected_at` integer NOT NULL,
	`minute` integer NOT NULL,
	`kind` text NOT NULL,
	`tier` text,
	`target` text,
	`model` text,
	`metric` text NOT NULL,
	`observed` real NOT NULL,
	`expected` real,
	`score` real,
	`severity` text NOT NULL,
	`detail` text,
	`resolved_at` integer
);
--> statement-breakpoint
CREATE INDEX `anomalies_minute` ON `anomalies` (`minute`);--> statement-breakpoint
CREATE INDEX `anomalies_target_minute` ON `anomalies` (`target`,`minute`);--> statement-breakpoint
CREATE TABLE `decisions` (
	`event_id` text PRIMARY KEY NOT NULL,
	`v` integer NOT NULL,
	`time` integer NOT NULL,
	`modality` text NOT NULL,
	`model_asked` text NOT NULL,
	`input_tokens` integer NOT NULL,
	`max_output_tokens` integer NOT NULL,
	`payload_bytes` integer NOT NULL,
	`criticality` text NOT NULL,
	`privacy` text NOT NULL,
	`residency_count` integer NOT NULL,
	`compliance_count` integer NOT NULL,
	`latency_sla_ms` integer NOT NULL,
	`latency_target` text NOT NULL,
	`network_type` text NOT NULL,
	`device_class` text NOT NULL,
	`has_location` integer NOT NULL,
	`tier` text NOT NULL,
	`target` text NOT NULL,
	`model` text NOT NULL,
	`classification` text NOT NULL,
	`complexity` real NOT NULL,
	`confidence` real NOT NULL,
	`reasoner` text NOT NULL,
	`rationale` text NOT NULL,
	`predicted_latency_ms` real NOT NULL,
	`predicted_ttft_ms` real NOT NULL,
	`predicted_cost_usd` real NOT NULL,
	`backups` integer NOT NULL,
	`delivery` text
);
--> statement-breakpoint
CREATE INDEX `decisions_time` ON `decisions` (`time`);--> statement-breakpoint
CREATE INDEX `decisions_tier_time` ON `decisions` (`tier`,`time`);--> statement-breakpoint
CREATE INDEX `decisions_target_time` ON `decisions` (`target`,`time`);--> statement-breakpoint
CREATE INDEX `decisions_delivery` ON `decisions` (`delivery`) WHERE delivery IS NOT NULL;--> statement-breakpoint
CREATE TABLE `learned_parameters` (
	`scope` text NOT NULL,
	`name` text NOT NULL,
	`value` real NOT NULL,
	`samples` integer DEFAULT 0 NOT NULL,
	`updated_at` integer NOT NULL,
	`version` integer DEFAULT 1 NOT NULL,
	`config_version` integer,
	PRIMARY KEY(`scope`, `name`)
);
--> statement-breakpoint
CREATE TABLE `outcomes` (
	`event_id` text PRIMARY KEY NOT NULL,
	`v` integer NOT NULL,
	`decision_id` text NOT NULL,
	`time` integer NOT NULL,
	`tier` text NOT NULL,
	`target` text NOT NULL,
	`model` text NOT NULL,
	`final_tier` text NOT NULL,
	`final_target` text NOT NULL,
	`final_model` text NOT NULL,
	`ok` integer NOT NULL,
	`error_class` text,
	`latency_ms` real NOT NULL,
	`ttft_ms` real,
	`input_tokens` integer,
	`output_tokens` integer,
	`attempts` integer NOT NULL,
	`sla_met` integer,
	`cost_usd` real NOT NULL,
	`delivery` text
);
--> statement-breakpoint
CREATE INDEX `outcomes_time` ON `outcomes` (`time`);--> statement-breakpoint
CREATE INDEX `outcomes_decision` ON `outcomes` (`decision_id`);--> statement-breakpoint
CREATE INDEX `outcomes_final_tier_time` ON `outcomes` (`final_tier`,`time`);--> statement-breakpoint
CREATE INDEX `outcomes_final_target_time` ON `outcomes` (`final_target`,`time`);--> statement-breakpoint
CREATE INDEX `outcomes_delivery` ON `outcomes` (`delivery`) WHERE delivery IS NOT NULL;--> statement-breakpoint
CREATE TABLE `performance_rollups` (
	`minute` integer NOT NULL,
	`tier` text NOT NULL,
	`target` text NOT NULL,
	`model` text NOT NULL,
	`decisions` integer DEFAULT 0 NOT NULL,
	`outcomes` integer DEFAULT 0 NOT NULL,
	`errors` integer DEFAULT 0 NOT NULL,
	`sla_met` integer DEFAULT 0 NOT NULL,
	`sla_known` integer DEFAULT 0 NOT NULL,
	`cost_usd` real DEFAULT 0 NOT NULL,
	`latency_sum_ms` real DEFAULT 0 NOT NULL,
	`latency_max_ms` real DEFAULT 0 NOT NULL,
	`ttft_sum_ms` real DEFAULT 0 NOT NULL,
	`ttft_count` integer DEFAULT 0 NOT NULL,
	`sketch` blob,
	PRIMARY KEY(`minute`, `tier`, `target`, `model`)
);
--> statement-breakpoint
CREATE INDEX `performance_rollups_tier_minute` ON `performance_rollups` (`tier`,`minute`);--> statement-breakpoint
CREATE INDEX `performance_rollups_target_minute` ON `performance_rollups` (`target`,`minute`);--> statement-breakpoint
CREATE TABLE `resource_metrics` (
	`site_id` text NOT NULL,
	`time` integer NOT NULL,
	`waiting` integer NOT NULL,
	`running` integer NOT NULL,
	`kv_cache_usage` real,
	`gpu_utilization` real,
	`free_gpu_memory_gb` real,
	`resident_models` integer,
	`breaker` text NOT NULL,
	`healthy` integer NOT NULL,
	`draining` integer NOT NULL,
	`error_rate` real,
	PRIMARY KEY(`site_id`, `time`)
);
--> statement-breakpoint
CREATE INDEX `resource_metrics_time` ON `resource_metrics` (`time`);