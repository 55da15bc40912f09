variable "name_prefix" {
  description = "Prefix of every resource name (for example \"dallas-calls\")."
  type        = string
}

variable "topic_arn" {
  description = "SNS topic announcing new raw snapshots (storage module output raw_created_topic_arn)."
  type        = string
}

variable "bucket_name" {
  description = "Archive bucket holding the raw snapshots."
  type        = string
}

variable "bucket_arn" {
  description = "ARN of the archive bucket."
  type        = string
}

variable "raw_prefix" {
  description = "Key prefix of raw snapshots (the tracker may read only there)."
  type        = string
  default     = "raw/"
}

variable "package_path" {
  description = "Path of this function's deployment zip (build/lambda-NAME.zip from `make package-lambda`)."
  type        = string
}

variable "package_s3_bucket" {
  description = "Bucket holding a copy of the zip (deploys above the 50 MB direct-upload limit); null to upload package_path directly."
  type        = string
  default     = null
}

variable "package_s3_key" {
  description = "Key of the zip in package_s3_bucket."
  type        = string
  default     = null
}

variable "handler" {
  description = "Python handler of the tracker."
  type        = string
  default     = "dallas_calls.aws.handlers.tracker"
}

variable "architecture" {
  description = "Lambda instruction set (\"x86_64\" or \"arm64\"); must match the wheels in the zip."
  type        = string
  default     = "x86_64"
}

variable "memory_size" {
  description = "Tracker memory in MB."
  type        = number
  default     = 512
}

variable "timeout" {
  description = "Tracker timeout in seconds; the queue's visibility timeout is six times this."
  type        = number
  default     = 60
}

variable "batch_size" {
  description = "SQS messages (snapshots) per tracker invocation."
  type        = number
  default     = 10
}

variable "maximum_concurrency" {
  description = "Most tracker invocations the SQS event source runs at once (2 to 1000). Low keeps snapshots nearly in order; the tracker's conditional writes make order and redelivery safe anyway."
  type        = number
  default     = 2

  validation {
    condition     = var.maximum_concurrency >= 2 && var.maximum_concurrency <= 1000
    error_message = "maximum_concurrency must be between 2 and 1000 (the SQS event source minimum is 2)."
  }
}

variable "reserved_concurrent_executions" {
  description = "Concurrency reserved for the tracker (at least maximum_concurrency, or SQS batches are throttled); null where the account's concurrency quota is 10."
  type        = number
  default     = 2
}

variable "max_receive_count" {
  description = "Deliveries of a snapshot message before it moves to the dead-letter queue."
  type        = number
  default     = 5
}

variable "raw_message_delivery" {
  description = "SNS raw message delivery: the SQS body is the S3 event JSON itself (true) or the SNS envelope around it (false). The handler must expect the same."
  type        = bool
  default     = true
}

variable "locations_table_arn" {
  description = "ARN of the locations table (geocoding module): the tracker reads cached coordinates for new calls and may update the cache when it repairs a batch."
  type        = string
}

variable "locations_table_name" {
  description = "Name of the locations table (DALLAS_CALLS_LOCATIONS_TABLE)."
  type        = string
}

variable "closed_call_ttl_days" {
  description = "Days a closed call stays in the calls table before its TTL attribute expires_at lets DynamoDB delete it (DALLAS_CALLS_CLOSED_TTL_DAYS). The event log and the change archive keep its history."
  type        = number
  default     = 30
}

variable "event_retention_days" {
  description = "Days an event batch stays in the events table, for resume (DALLAS_CALLS_EVENT_RETENTION_DAYS); changes/ in the archive keeps them for good."
  type        = number
  default     = 7
}

variable "calls_stream_view_type" {
  description = "Stream on the calls table for other consumers (NEW_AND_OLD_IMAGES, NEW_IMAGE, ...), or null for none. The publisher reads the events table's stream, not this one."
  type        = string
  default     = null
}

variable "point_in_time_recovery" {
  description = "Enable point-in-time recovery (continuous backups, 35 days) on the tables."
  type        = bool
  default     = true
}

variable "deletion_protection" {
  description = "Protect the tables from deletion (turn off before `terraform destroy`)."
  type        = bool
  default     = true
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key (tables, queues, logs, environment)."
  type        = string
}

variable "log_level" {
  description = "DALLAS_CALLS_LOG_LEVEL of the function."
  type        = string
  default     = "INFO"
}

variable "extra_environment" {
  description = "More DALLAS_CALLS_* environment variables for the tracker (no secrets)."
  type        = map(string)
  default     = {}
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps the tracker's logs."
  type        = number
  default     = 365
}

variable "alarm_actions" {
  description = "ARNs (SNS topics) notified when the dead-letter queue holds messages."
  type        = list(string)
  default     = []
}

variable "stale_feed_minutes" {
  description = "Alarm when no snapshot has been applied for this many minutes running (the feed is stale)."
  type        = number
  default     = 10
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the metrics taken from the logs."
  type        = string
  default     = "dallas-calls"
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
