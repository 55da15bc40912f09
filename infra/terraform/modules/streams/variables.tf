variable "name_prefix" {
  description = "Prefix of every resource name (for example \"dallas-calls\")."
  type        = string
}

variable "stream_arns" {
  description = "DynamoDB stream ARNs the publisher reads, by a short name: { events = <events table stream> }. Each record must be an event batch item (dallas_calls.storage.dynamodb)."
  type        = map(string)
}

variable "bucket_name" {
  description = "Archive bucket the change records are written to."
  type        = string
}

variable "bucket_arn" {
  description = "ARN of the archive bucket."
  type        = string
}

variable "changes_prefix" {
  description = "Key prefix of change records (the publisher may write only there)."
  type        = string
  default     = "changes/"
}

variable "api_url" {
  description = "Base URL of the live API (for example https://calls.example.org); events are POSTed to API_URL/events/."
  type        = string
}

variable "ingest_token_secret_arn" {
  description = "ARN of the Secrets Manager secret holding the bearer token of POST /events/ (api module output)."
  type        = string
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
  description = "Python handler of the publisher."
  type        = string
  default     = "dallas_calls.aws.handlers.publisher"
}

variable "redrive_handler" {
  description = "Python handler of the redrive function."
  type        = string
  default     = "dallas_calls.aws.handlers.publisher_redrive"
}

variable "architecture" {
  description = "Lambda instruction set (\"x86_64\" or \"arm64\"); must match the wheels in the zip."
  type        = string
  default     = "x86_64"
}

variable "memory_size" {
  description = "Publisher memory in MB."
  type        = number
  default     = 256
}

variable "timeout" {
  description = "Publisher timeout in seconds (covers its own retries of POST /events/ with backoff)."
  type        = number
  default     = 60
}

variable "reserved_concurrent_executions" {
  description = "Concurrency reserved for the publisher (one per active stream shard is used); null where the account's concurrency quota is 10."
  type        = number
  default     = 2
}

variable "batch_size" {
  description = "Stream records per invocation."
  type        = number
  default     = 100
}

variable "maximum_batching_window_in_seconds" {
  description = "Seconds the event source may wait to fill a batch (latency added to every event)."
  type        = number
  default     = 1
}

variable "starting_position" {
  description = "Where a new mapping starts reading: TRIM_HORIZON (all records of the last 24 h) or LATEST."
  type        = string
  default     = "TRIM_HORIZON"

  validation {
    condition     = contains(["TRIM_HORIZON", "LATEST"], var.starting_position)
    error_message = "starting_position must be TRIM_HORIZON or LATEST."
  }
}

variable "maximum_retry_attempts" {
  description = "Retries of a failing batch before its records go to the dead-letter queue; -1 (default): no count limit, the record age below is the budget. Lambda retries a stream batch as soon as the last invocation returns, and one that cannot reach the API fails within seconds, so a finite count (10 used to be set) is spent within a minute or two."
  type        = number
  default     = -1
}

variable "maximum_record_age_in_seconds" {
  description = "The publisher's retry budget: a batch still failing when its record is this old goes to the dead-letter queue and the stream moves on (6 h by default; at most 86400, the stream's retention, which also leaves time to redrive)."
  type        = number
  default     = 21600

  validation {
    condition     = var.maximum_record_age_in_seconds >= 60 && var.maximum_record_age_in_seconds <= 86400
    error_message = "maximum_record_age_in_seconds must be between 60 and 86400 (a DynamoDB stream keeps records 24 h)."
  }
}

variable "redrive_enabled" {
  description = "Turn on the mapping that feeds the publisher's DLQ to the redrive handler (dallas_calls.aws.handlers.publisher_redrive). Leave it off; turn it on once the cause is fixed, within 24 h of the failure (the stream must still hold the records), then off again."
  type        = bool
  default     = false
}

variable "iterator_age_alarm_seconds" {
  description = "Alarm when the publisher lags the stream by more than this many seconds."
  type        = number
  default     = 300
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key (streams, archive, secret, queue, logs, environment)."
  type        = string
}

variable "log_level" {
  description = "DALLAS_CALLS_LOG_LEVEL of the function."
  type        = string
  default     = "INFO"
}

variable "extra_environment" {
  description = "More DALLAS_CALLS_* environment variables for the publisher (no secrets)."
  type        = map(string)
  default     = {}
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps the publisher's logs."
  type        = number
  default     = 365
}

variable "alarm_actions" {
  description = "ARNs (SNS topics) notified when records fail to publish or the publisher falls behind."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
