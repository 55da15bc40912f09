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
  description = "Key prefix of raw snapshots (the locator may read only there)."
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
  description = "Python handler of the locator."
  type        = string
  default     = "dallas_calls.aws.handlers.locator"
}

variable "architecture" {
  description = "Lambda instruction set (\"x86_64\" or \"arm64\"); must match the wheels in the zip."
  type        = string
  default     = "x86_64"
}

variable "memory_size" {
  description = "Locator memory in MB (the local address-point index is loaded at cold start)."
  type        = number
  default     = 1024
}

variable "timeout" {
  description = "Locator timeout in seconds; the queue's visibility timeout is six times this."
  type        = number
  default     = 120
}

variable "batch_size" {
  description = "SQS messages (snapshots) per locator invocation. With maximum_concurrency this bounds the request rate to online geocoders."
  type        = number
  default     = 1
}

variable "maximum_concurrency" {
  description = "Most locator invocations the SQS event source runs at once (2 to 1000); the providers' rate limits set it, not sleeps."
  type        = number
  default     = 2

  validation {
    condition     = var.maximum_concurrency >= 2 && var.maximum_concurrency <= 1000
    error_message = "maximum_concurrency must be between 2 and 1000 (the SQS event source minimum is 2)."
  }
}

variable "reserved_concurrent_executions" {
  description = "Concurrency reserved for the locator (at least maximum_concurrency); null where the account's concurrency quota is 10."
  type        = number
  default     = 2
}

variable "max_receive_count" {
  description = "Deliveries of a snapshot message before it moves to the dead-letter queue."
  type        = number
  default     = 5
}

variable "raw_message_delivery" {
  description = "SNS raw message delivery: the SQS body is the S3 event JSON itself (true) or the SNS envelope (false)."
  type        = bool
  default     = true
}

variable "provider_secret_names" {
  description = "Online geocoding providers needing an API key, for example [\"arcgis\", \"radar\"]. Each gets an empty secret NAME_PREFIX/geocoding/NAME whose value you put by hand; the locator receives a JSON map name -> secret ARN in DALLAS_CALLS_GEOCODER_SECRET_ARNS."
  type        = set(string)
  default     = []
}

variable "geocoders" {
  description = "Online providers asked after the local sources, in order (DALLAS_CALLS_GEOCODERS): any of arcgis, census, nominatim, radar. Empty: local sources only."
  type        = list(string)
  default     = []
}

variable "locate_limit" {
  description = "Location keys geocoded per snapshot at most (DALLAS_CALLS_LOCATE_LIMIT); the rest wait for the next snapshot. With batch_size and maximum_concurrency it bounds the request rate to online providers."
  type        = number
  default     = 200
}

variable "locations_stream_view_type" {
  description = "Stream on the locations table for other consumers, or null for none. location.resolved events travel through the events table, not this stream."
  type        = string
  default     = null
}

variable "meta_table_name" {
  description = "Name of the meta table (tracking module): the locator takes event ids from its counter."
  type        = string
}

variable "meta_table_arn" {
  description = "ARN of the meta table."
  type        = string
}

variable "events_table_name" {
  description = "Name of the events table (tracking module): the locator appends its location.resolved batches there."
  type        = string
}

variable "events_table_arn" {
  description = "ARN of the events table."
  type        = string
}

variable "point_in_time_recovery" {
  description = "Enable point-in-time recovery on the locations table."
  type        = bool
  default     = true
}

variable "deletion_protection" {
  description = "Protect the locations table from deletion (turn off before `terraform destroy`)."
  type        = bool
  default     = true
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key (table, queues, secrets, logs, environment)."
  type        = string
}

variable "log_level" {
  description = "DALLAS_CALLS_LOG_LEVEL of the function."
  type        = string
  default     = "INFO"
}

variable "extra_environment" {
  description = "More DALLAS_CALLS_* environment variables for the locator (no secrets)."
  type        = map(string)
  default     = {}
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps the locator's logs."
  type        = number
  default     = 365
}

variable "alarm_actions" {
  description = "ARNs (SNS topics) notified when the dead-letter queue holds messages."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
