variable "name_prefix" {
  description = "Prefix of every resource name (for example \"dallas-calls\")."
  type        = string
}

variable "schedule_expression" {
  description = "EventBridge schedule of the polls. One a minute is 1,440 polls a day."
  type        = string
  default     = "rate(1 minute)"
}

variable "enabled" {
  description = "Whether the schedule runs (false pauses polling without destroying anything)."
  type        = bool
  default     = true
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
  description = "Python handler of the downloader."
  type        = string
  default     = "dallas_calls.aws.handlers.downloader"
}

variable "architecture" {
  description = "Lambda instruction set (\"x86_64\" or \"arm64\"); must match the wheels in the zip."
  type        = string
  default     = "x86_64"
}

variable "memory_size" {
  description = "Downloader memory in MB."
  type        = number
  default     = 256
}

variable "timeout" {
  description = "Downloader timeout in seconds; keep it under the schedule interval."
  type        = number
  default     = 50
}

variable "reserved_concurrent_executions" {
  description = "Concurrency reserved for the downloader (1: never two polls at once); null where the account's concurrency quota is 10."
  type        = number
  default     = 1
}

variable "feed_url" {
  description = "Socrata resource URL of the active-calls feed."
  type        = string
  default     = "https://www.dallasopendata.com/resource/9fxf-t2tr.json"
}

variable "create_app_token_secret" {
  description = "Create a Secrets Manager secret (NAME_PREFIX/socrata-app-token) for a Socrata app token; put its value with `aws secretsmanager put-secret-value`."
  type        = bool
  default     = false
}

variable "bucket_name" {
  description = "Archive bucket the raw snapshots are written to."
  type        = string
}

variable "bucket_arn" {
  description = "ARN of the archive bucket."
  type        = string
}

variable "raw_prefix" {
  description = "Key prefix of raw snapshots (the downloader may write only there)."
  type        = string
  default     = "raw/"
}

variable "meta_table_name" {
  description = "Name of the meta table (tracking module): a failed poll is recorded there as last_failure, which the API's readiness shows."
  type        = string
}

variable "meta_table_arn" {
  description = "ARN of the meta table."
  type        = string
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key (archive objects, logs, secret, dead-letter queue, environment)."
  type        = string
}

variable "log_level" {
  description = "DALLAS_CALLS_LOG_LEVEL of the function."
  type        = string
  default     = "INFO"
}

variable "extra_environment" {
  description = "More DALLAS_CALLS_* environment variables for the downloader (no secrets)."
  type        = map(string)
  default     = {}
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps the downloader's logs."
  type        = number
  default     = 365
}

variable "alarm_actions" {
  description = "ARNs (SNS topics) notified on failed polls (dead-letter queue not empty, function errors)."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
